// Number formatting for the operator page (shared by the tables, the cards and the chart axes).

const BYTE_UNITS = ["B", "KiB", "MiB", "GiB", "TiB"];

/** `812 B`, `1.5 KiB`, `12.0 MiB`; `–` for a missing value. */
export function formatBytes(bytes) {
  if (bytes === null || bytes === undefined || Number.isNaN(bytes)) return "–";
  let value = bytes;
  let unit = 0;
  while (Math.abs(value) >= 1024 && unit < BYTE_UNITS.length - 1) {
    value /= 1024;
    unit++;
  }
  return `${unit === 0 ? Math.round(value) : value.toFixed(1)} ${BYTE_UNITS[unit]}`;
}

/** `12,345`; `–` for a missing value. */
export function formatCount(value) {
  if (value === null || value === undefined || Number.isNaN(value)) return "–";
  return Math.round(value).toLocaleString("en-US");
}

/** hits / (hits + misses), or null when there were no counted reads. */
export function hitRatio(hits, misses) {
  const total = hits + misses;
  return total > 0 ? hits / total : null;
}

/** `87.5 %`; `–` when there is no ratio. */
export function formatRatio(ratio) {
  return ratio === null || ratio === undefined ? "–" : `${(ratio * 100).toFixed(1)} %`;
}

/** `250 ms`, `5 s`, `3 min`, `2 h` for a duration in ms. */
export function formatDuration(ms) {
  if (ms < 1000) return `${Math.round(ms)} ms`;
  const seconds = Math.round(ms / 1000);
  if (seconds < 120) return `${seconds} s`;
  const minutes = Math.round(seconds / 60);
  if (minutes < 120) return `${minutes} min`;
  return `${Math.round(minutes / 60)} h`;
}

/** One colour per service, in order (distinguishable, also for common colour-vision deficiencies). */
export const PALETTE = [
  "#2f6fde",
  "#e8710a",
  "#1a9e77",
  "#c03d9c",
  "#7e57c2",
  "#b8860b",
  "#0097a7",
  "#d84343",
];
