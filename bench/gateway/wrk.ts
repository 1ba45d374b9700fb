/**
 * HTTP load from `wrk` (Debian's package, a C load generator): one Lua script per request shape
 * sets the method, headers (auth) and body, and its `done` hook prints the figures as one JSON line
 * (`WRK_JSON {...}`), so nothing is scraped from wrk's human-readable summary. Latencies are
 * recorded by wrk in microseconds.
 */
import { spawn } from "node:child_process";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { pinned } from "../lib/system.js";

/** One request shape, sent again and again on every connection. */
export interface HttpRequestShape {
  url: string;
  method: "GET" | "POST";
  headers: Record<string, string>;
  body?: string;
}

export interface WrkRun {
  /** Path of the wrk binary. */
  wrk: string;
  connections: number;
  /** wrk threads (one per load CPU). */
  threads: number;
  durationS: number;
  /** taskset CPU list for wrk ("" = unpinned). */
  cpus: string;
  /** Directory for the Lua script. */
  dir: string;
}

export interface WrkResult {
  requests: number;
  durationS: number;
  /** requests / durationS. */
  rps: number;
  /** Microseconds. */
  latencyUs: { mean: number; p50: number; p90: number; p99: number; max: number };
  /** Socket errors and non-2xx/3xx answers, as wrk counts them. */
  errors: { connect: number; read: number; write: number; status: number; timeout: number };
}

const MARKER = "WRK_JSON ";

/** A Lua long string that cannot be closed early by `text`. */
function luaString(text: string): string {
  let level = 1;
  while (text.includes(`]${"=".repeat(level)}]`)) level++;
  const eq = "=".repeat(level);
  // A long string drops a newline right after its opening bracket: add one so a leading one stays.
  return `[${eq}[\n${text}]${eq}]`;
}

/** The Lua script for `shape`: request settings plus a `done` hook that prints one JSON line. */
export function wrkScript(shape: HttpRequestShape): string {
  const lines = [`wrk.method = ${luaString(shape.method)}`];
  for (const [name, value] of Object.entries(shape.headers)) {
    // Spaces inside the brackets: `[[` would open a long string.
    lines.push(`wrk.headers[ ${luaString(name)} ] = ${luaString(value)}`);
  }
  if (shape.body !== undefined) lines.push(`wrk.body = ${luaString(shape.body)}`);
  lines.push(
    "function done(summary, latency, requests)",
    "  local e = summary.errors",
    "  io.write(string.format(",
    `    '${MARKER}{"requests":%d,"duration_us":%d,"errors":{"connect":%d,"read":%d,"write":%d,"status":%d,"timeout":%d},' ..`,
    `    '"latency_us":{"mean":%.3f,"p50":%d,"p90":%d,"p99":%d,"max":%d}}\\n',`,
    "    summary.requests, summary.duration, e.connect, e.read, e.write, e.status, e.timeout,",
    "    latency.mean, latency:percentile(50), latency:percentile(90), latency:percentile(99), latency.max))",
    "end",
  );
  return `${lines.join("\n")}\n`;
}

/** The figures from wrk's stdout (the `WRK_JSON` line of the `done` hook). */
export function parseWrkOutput(stdout: string): WrkResult {
  const line = stdout.split("\n").find((l) => l.startsWith(MARKER));
  if (!line)
    throw new Error(`wrk printed no ${MARKER.trim()} line; its output was:\n${stdout.slice(0, 2000)}`);
  const raw = JSON.parse(line.slice(MARKER.length)) as {
    requests: number;
    duration_us: number;
    errors: WrkResult["errors"];
    latency_us: WrkResult["latencyUs"];
  };
  const durationS = raw.duration_us / 1e6;
  if (!(durationS > 0)) throw new Error(`wrk reported a duration of ${raw.duration_us} µs`);
  return {
    requests: raw.requests,
    durationS,
    rps: raw.requests / durationS,
    latencyUs: raw.latency_us,
    errors: raw.errors,
  };
}

/** Total errors of a run (socket errors, timeouts and non-2xx/3xx answers). */
export function errorCount(result: WrkResult): number {
  const e = result.errors;
  return e.connect + e.read + e.write + e.status + e.timeout;
}

/**
 * Runs wrk against `shape` and returns its figures. Fails when any request failed or got a
 * non-2xx/3xx answer (a server answering 401 quickly must not pass for a fast server).
 */
export async function runWrk(shape: HttpRequestShape, run: WrkRun, label: string): Promise<WrkResult> {
  const script = join(run.dir, `${label.replace(/[^a-z0-9]+/gi, "-")}.lua`);
  writeFileSync(script, wrkScript(shape), { mode: 0o600 });
  const args = [
    `-t${run.threads}`,
    `-c${run.connections}`,
    `-d${run.durationS}s`,
    "--timeout",
    "10s",
    "-s",
    script,
    shape.url,
  ];
  const [command, full] = pinned(run.cpus, run.wrk, args);
  const { code, stdout, stderr } = await new Promise<{ code: number | null; stdout: string; stderr: string }>(
    (resolve, reject) => {
      const child = spawn(command, full, { stdio: ["ignore", "pipe", "pipe"] });
      let out = "";
      let err = "";
      child.stdout.setEncoding("utf8").on("data", (chunk: string) => {
        out += chunk;
      });
      child.stderr.setEncoding("utf8").on("data", (chunk: string) => {
        err += chunk;
      });
      child.once("error", reject);
      child.once("close", (exit) => resolve({ code: exit, stdout: out, stderr: err }));
    },
  );
  if (code !== 0) throw new Error(`wrk exited with ${code} for ${label}: ${stderr.trim() || stdout.trim()}`);
  const result = parseWrkOutput(stdout);
  if (result.requests === 0 || errorCount(result) > 0) {
    throw new Error(
      `${label}: ${result.requests} requests, errors ${JSON.stringify(result.errors)} (non-2xx answers count as "status")`,
    );
  }
  return result;
}
