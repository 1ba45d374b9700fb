// Time-series charts of the operator page, drawn with uPlot (served from the gateway, see
// vendor/uPlot.iife.min.js; it defines the global `uPlot`). One chart per figure; a chart is rebuilt
// when its series change and only fed new data otherwise.

const charts = new Map();
const HEIGHT = 220;
const AXIS = {
  stroke: "#66708a",
  grid: { stroke: "#eceff4", width: 1 },
  ticks: { stroke: "#e2e6ee", width: 1 },
};
/** Tick steps of the time axis, seconds: samples are seconds apart at least, so no sub-second ticks. */
const TIME_STEPS = [
  1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 900, 1800, 3600, 7200, 10800, 21600, 43200, 86400,
];
/** Tick steps of byte charts: round numbers of B, KiB, MiB, GiB, TiB. */
const BYTE_STEPS = [0, 1, 2, 3, 4].flatMap((power) =>
  [1, 2, 5, 10, 20, 50, 100, 200, 500].map((step) => step * 1024 ** power),
);
/** Tick steps of count charts: whole numbers only (no "0.5 keys"). */
const WHOLE_STEPS = [
  1, 2, 5, 10, 20, 50, 100, 200, 500, 1e3, 2e3, 5e3, 1e4, 2e4, 5e4, 1e5, 2e5, 5e5, 1e6, 1e7, 1e8, 1e9,
];

function widthOf(element) {
  return Math.max(280, Math.floor(element.clientWidth));
}

function options(spec, width) {
  const format = spec.format;
  return {
    width,
    height: HEIGHT,
    scales: {
      x: { time: true },
      y: { range: (_u, _min, max) => [0, max > 0 ? max * 1.15 : (spec.emptyMax ?? 1)] },
    },
    axes: [
      { ...AXIS, incrs: TIME_STEPS },
      {
        ...AXIS,
        size: 72,
        values: (_u, splits) => splits.map(format),
        ...(spec.steps === "bytes"
          ? { incrs: BYTE_STEPS }
          : spec.steps === "whole"
            ? { incrs: WHOLE_STEPS }
            : {}),
      },
    ],
    series: [
      {},
      ...spec.series.map((s) => ({
        label: s.label,
        stroke: s.color,
        width: 2,
        spanGaps: false,
        value: (_u, v) => (v === null || v === undefined ? "–" : format(v)),
        points: { show: spec.t.length <= 40, size: 5 },
        ...(spec.stepped ? { paths: uPlot.paths.stepped({ align: 1 }) } : {}),
      })),
    ],
    // Labels only: the values are in the tables; hovering shows the cursor's point.
    legend: { show: true, live: false },
    cursor: { drag: { x: false, y: false } },
  };
}

/**
 * Draws (or updates) the chart in figure `id`. `spec`: `t` (epoch seconds), `series` ({ label,
 * color, values }), `format` (axis values), `steps` (`"bytes"` or `"whole"`: round ticks), `stepped` (counts
 * per sample).
 */
export function renderChart(id, spec) {
  const figure = document.getElementById(id);
  const plot = figure.querySelector(".plot");
  const existing = charts.get(id);
  if (spec.t.length < 2) {
    existing?.chart.destroy();
    charts.delete(id);
    plot.replaceChildren();
    const empty = document.createElement("div");
    empty.className = "empty";
    empty.textContent = "Collecting samples…";
    plot.append(empty);
    return;
  }
  const data = [spec.t, ...spec.series.map((s) => s.values)];
  const key = JSON.stringify([spec.series.map((s) => `${s.label}/${s.color}`), spec.t.length <= 40]);
  if (existing && existing.key === key) {
    existing.chart.setData(data);
    return;
  }
  existing?.chart.destroy();
  plot.replaceChildren();
  const chart = new uPlot(options(spec, widthOf(plot)), data, plot);
  charts.set(id, { chart, key });
}

/** Fits every chart to its figure's width (on window resizes). */
export function resizeCharts() {
  for (const [id, { chart }] of charts) {
    const plot = document.getElementById(id).querySelector(".plot");
    chart.setSize({ width: widthOf(plot), height: HEIGHT });
  }
}
