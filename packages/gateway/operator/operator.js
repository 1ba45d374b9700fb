// The operator page: reads /operator/api/state with the gateway's admin token and shows the services,
// their keyspaces, keys, memory, keys without TTL, hits and misses, NOPERM denials and connections,
// with charts over time. The token lives in sessionStorage (this tab only) and travels in the
// Authorization header, never in a URL. Every value is written as text (textContent), never as HTML.
import { renderChart, resizeCharts } from "./charts.js";
import { formatBytes, formatCount, formatDuration, formatRatio, hitRatio, PALETTE } from "./format.js";

const TOKEN_KEY = "cacheplane.operator.token";

const tokenInput = document.getElementById("token");
const tokenForm = document.getElementById("token-form");
const notice = document.getElementById("notice");
const view = document.getElementById("view");
const where = document.getElementById("where");

let timer;
let generation = 0;

tokenInput.value = sessionStorage.getItem(TOKEN_KEY) ?? "";
where.textContent = location.host;

function showNotice(text, error = false) {
  notice.textContent = text;
  notice.className = error ? "error" : "";
  notice.hidden = false;
}

function cell(text, className) {
  const td = document.createElement("td");
  td.textContent = text;
  if (className) td.className = className;
  return td;
}

function numberCell(text, field, alert = false) {
  const td = cell(text, alert ? "num alert" : "num");
  td.dataset.field = field;
  return td;
}

function fillTable(id, rows) {
  const body = document.querySelector(`#${id} tbody`);
  body.replaceChildren(...rows);
}

function card(label, value, sub, field) {
  const div = document.createElement("div");
  div.className = "card";
  div.dataset.card = field;
  const l = document.createElement("div");
  l.className = "label";
  l.textContent = label;
  const v = document.createElement("div");
  v.className = "value";
  v.textContent = value;
  const s = document.createElement("div");
  s.className = "sub";
  s.textContent = sub;
  div.append(l, v, s);
  return div;
}

function sum(values) {
  return values.reduce((a, b) => a + (b ?? 0), 0);
}

function renderCards(state) {
  const services = state.services;
  const keys = sum(services.map((s) => s.keys));
  const noTtl = sum(services.map((s) => s.keysWithoutTtl));
  const memory = sum(services.map((s) => s.memoryBytes));
  const hits = sum(services.map((s) => s.traffic.hits));
  const misses = sum(services.map((s) => s.traffic.misses));
  const noperm = sum(services.map((s) => s.denials.noperm));
  const auth = sum(services.map((s) => s.denials.authFailures));
  const requests = sum(services.map((s) => s.traffic.requests));
  const forbidden = sum(services.map((s) => s.traffic.forbidden));
  const errors = sum(services.map((s) => s.traffic.errors));
  document
    .getElementById("cards")
    .replaceChildren(
      card(
        "Services",
        formatCount(services.length),
        `${state.keyspaces.length} keyspaces on the server`,
        "services",
      ),
      card("Keys", formatCount(keys), `${formatRatio(keys > 0 ? noTtl / keys : null)} without TTL`, "keys"),
      card("Memory", formatBytes(memory), "estimated, services' own keyspaces", "memory"),
      card(
        "Hit ratio",
        formatRatio(hitRatio(hits, misses)),
        `${formatCount(hits)} hits · ${formatCount(misses)} misses`,
        "hits",
      ),
      card("NOPERM", formatCount(noperm), `${formatCount(auth)} failed logins`, "noperm"),
      card(
        "Requests",
        formatCount(requests),
        `${formatCount(forbidden)} × 403 · ${formatCount(errors)} × 5xx`,
        "requests",
      ),
    );
}

function renderServices(state) {
  fillTable(
    "services",
    state.services.map((s, i) => {
      const tr = document.createElement("tr");
      tr.dataset.service = s.name;
      const name = document.createElement("td");
      const swatch = document.createElement("span");
      swatch.className = "swatch";
      swatch.style.background = PALETTE[i % PALETTE.length];
      name.append(swatch, document.createTextNode(s.name));
      const keyspace = [`${s.keyspace}:*`, ...s.sharedKeyspaces.map((k) => `${k}:* (shared)`)].join(", ");
      tr.append(
        name,
        cell(keyspace),
        numberCell(formatCount(s.keys), "keys"),
        numberCell(formatCount(s.keysWithoutTtl), "keysWithoutTtl"),
        numberCell(formatBytes(s.memoryBytes), "memory"),
        numberCell(formatCount(s.connections), "connections"),
        numberCell(formatCount(s.traffic.hits), "hits"),
        numberCell(formatCount(s.traffic.misses), "misses"),
        numberCell(formatRatio(hitRatio(s.traffic.hits, s.traffic.misses)), "hitRatio"),
        numberCell(formatCount(s.denials.noperm), "noperm", s.denials.noperm > 0),
        numberCell(formatCount(s.traffic.requests), "requests"),
        numberCell(formatCount(s.traffic.forbidden), "forbidden", s.traffic.forbidden > 0),
        numberCell(formatCount(s.traffic.errors), "errors", s.traffic.errors > 0),
      );
      return tr;
    }),
  );
}

function renderKeyspaces(state) {
  fillTable(
    "keyspaces",
    state.keyspaces.map((k) => {
      const tr = document.createElement("tr");
      tr.dataset.keyspace = k.keyspace;
      const owner =
        k.service ?? (k.sharedBy.length > 0 ? `shared by ${k.sharedBy.join(", ")}` : "no service");
      tr.append(
        cell(k.keyspace),
        cell(owner, k.service === null && k.sharedBy.length === 0 ? "alert" : ""),
        numberCell(`${k.estimated ? "~" : ""}${formatCount(k.keys)}`, "keys"),
        numberCell(formatCount(k.keysWithoutTtl), "keysWithoutTtl"),
        numberCell(formatBytes(k.memoryBytes), "memory"),
      );
      return tr;
    }),
  );
}

function renderNodes(state) {
  fillTable(
    "nodes",
    state.nodes.map((n) => {
      const tr = document.createElement("tr");
      const limit = n.maxMemoryBytes > 0 ? formatBytes(n.maxMemoryBytes) : "no limit";
      tr.append(
        cell(n.node),
        cell(n.role),
        numberCell(formatCount(n.keys), "keys"),
        numberCell(`${formatBytes(n.usedMemoryBytes)} / ${limit}`, "memory"),
        cell(n.maxMemoryPolicy),
        numberCell(formatCount(n.evictedKeys), "evicted", n.evictedKeys > 0),
        numberCell(`${formatCount(n.connectedClients)} / ${formatCount(n.maxClients)}`, "clients"),
      );
      return tr;
    }),
  );
}

function renderCharts(state) {
  const { t, services } = state.series;
  const names = state.services.map((s) => s.name);
  const series = (metric) =>
    names.map((name, i) => ({
      label: name,
      color: PALETTE[i % PALETTE.length],
      values: services[name][metric],
    }));
  renderChart("chart-memory", { t, format: formatBytes, steps: "bytes", series: series("memoryBytes") });
  renderChart("chart-keys", { t, format: formatCount, steps: "whole", series: series("keys") });
  renderChart("chart-no-ttl", { t, format: formatCount, steps: "whole", series: series("keysWithoutTtl") });
  renderChart("chart-noperm", {
    t,
    format: formatCount,
    steps: "whole",
    stepped: true,
    series: series("noperm"),
  });
  renderChart("chart-hits", {
    t,
    format: formatCount,
    steps: "whole",
    stepped: true,
    series: series("hits"),
  });
  renderChart("chart-misses", {
    t,
    format: formatCount,
    steps: "whole",
    stepped: true,
    series: series("misses"),
  });
}

function renderStatus(state) {
  const sampler = state.sampler;
  const every = `every ${formatDuration(state.sampling.intervalMs)}, last ${formatCount(state.sampling.historyPoints)} samples kept`;
  const sampled = document.getElementById("sampled");
  if (sampler.lastSampleAt) {
    const age = Date.parse(state.generatedAt) - Date.parse(sampler.lastSampleAt);
    const at = new Date(sampler.lastSampleAt).toLocaleTimeString();
    sampled.textContent = `Last sample ${at} (${formatDuration(Math.max(0, age))} ago, took ${formatCount(sampler.lastSampleMs)} ms) · ${formatCount(sampler.samples)} samples · ${every}`;
  } else {
    sampled.textContent = `No sample yet · ${every}`;
  }
  const error = document.getElementById("sampler-error");
  error.hidden = !sampler.lastError;
  error.textContent = sampler.lastError ? `Sampling failed: ${sampler.lastError}` : "";
}

function renderNotes(state) {
  document.getElementById("notes").replaceChildren(
    ...Object.values(state.notes).map((text) => {
      const li = document.createElement("li");
      li.textContent = text;
      return li;
    }),
  );
}

function render(state) {
  notice.hidden = true;
  view.hidden = false;
  where.textContent = `${location.host} · ${state.services.length} service${state.services.length === 1 ? "" : "s"}`;
  renderStatus(state);
  renderCards(state);
  renderServices(state);
  renderCharts(state);
  renderKeyspaces(state);
  renderNodes(state);
  renderNotes(state);
  document.body.dataset.samples = String(state.sampler.samples);
}

async function refresh() {
  clearTimeout(timer);
  const mine = ++generation;
  const headers = {};
  if (tokenInput.value) headers.authorization = `Bearer ${tokenInput.value}`;
  let response;
  try {
    response = await fetch("api/state", { headers, cache: "no-store" });
  } catch {
    if (mine !== generation) return;
    showNotice("The gateway does not answer; retrying…", true);
    timer = setTimeout(refresh, 5000);
    return;
  }
  if (mine !== generation) return;
  if (response.status === 401 || response.status === 403) {
    view.hidden = true;
    const body = await response.json().catch(() => ({}));
    const what =
      response.status === 401
        ? "401 Unauthorized: the operator view needs the gateway's admin token, from .gateway-admin-token.json in the secrets directory."
        : `403 Forbidden: ${body.error ?? "this token cannot open the operator view"}`;
    showNotice(what, true);
    document.body.dataset.access = String(response.status);
    return;
  }
  if (!response.ok) {
    showNotice(`The gateway answered ${response.status}; retrying…`, true);
    timer = setTimeout(refresh, 5000);
    return;
  }
  const state = await response.json();
  document.body.dataset.access = "200";
  render(state);
  const poll = Math.min(10_000, Math.max(1000, state.sampling.intervalMs / 2));
  timer = setTimeout(refresh, poll);
}

tokenForm.addEventListener("submit", (event) => {
  event.preventDefault();
  sessionStorage.setItem(TOKEN_KEY, tokenInput.value.trim());
  tokenInput.value = tokenInput.value.trim();
  refresh();
});

let resizeTimer;
window.addEventListener("resize", () => {
  clearTimeout(resizeTimer);
  resizeTimer = setTimeout(resizeCharts, 100);
});

refresh();
