/**
 * Bench suite `gateway` (`npm run bench gateway`): `cacheplane gateway` against two baselines on
 * the same redis-server, driven by wrk (C) pinned away from the servers (see servers.ts, wrk.ts and
 * bench/README.md):
 * - Webdis (C, Debian's package): goal gateway >= 1.0x for GET and SET at 50 connections
 *   (issue 10, item 2); skipped with the reason when Webdis cannot be installed or started;
 * - a bare node:http + ioredis (auto-pipelining) server: goal >= 1.0x (issue 10, item 2);
 * - for every server and request: req/s, the server's CPU time per request (its whole process
 *   tree, from /proc: a gateway's workers count), redis-server's CPU per request, wrk's latency
 *   percentiles (µs resolution);
 * - two floors, without a goal: node:http answering a constant (no token, no Redis), and node:net
 *   writing a canned response per request (no HTTP parser either), compared with Webdis and the
 *   gateway: what Node itself costs per request on this machine;
 * - the p99 latency the gateway adds over the bare server at 50 connections (issue 4: <= 1 ms), the
 *   mean latency it adds at 1 connection, and /pipeline of 100 GETs vs 100 single requests.
 *
 * Method: one unrecorded warm-up run per server and request, then `BENCH_ROUNDS` (default 3)
 * interleaved rounds of `BENCH_DURATION_S` (default 5) seconds per run; within a round the order
 * of the servers rotates. Figures are medians over the rounds; every round is in the JSON.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { comparison, type RatioGoal, skipped } from "../lib/rows.js";
import { fmt, median, rotation, spread } from "../lib/stats.js";
import {
  type CpuLayout,
  cpuLayout,
  ensureDebianTool,
  expandCpuList,
  processTreeCpuMs,
  toolVersion,
} from "../lib/system.js";
import type { BenchRow, SuiteResult } from "../types.js";
import {
  gatewayPipeline,
  type HttpServer,
  KEY,
  type Platform,
  startBareServer,
  startFloorServer,
  startGateway,
  startPlatform,
  startWebdis,
  VALUE,
  verifyAnswer,
} from "./servers.js";
import { type HttpRequestShape, runWrk, type WrkResult, type WrkRun } from "./wrk.js";

const DURATION_S = Number(process.env.BENCH_DURATION_S ?? 5);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 3);
const WARMUP_S = Number(process.env.BENCH_WARMUP_S ?? 2);
const CONNECTIONS = 50;
const PIPELINE_SIZE = 100;
const PIPELINE_CONNECTIONS = 10;

const ISSUE_10 = "issue 10, item 2";
const VS_WEBDIS: RatioGoal = { min: 1, source: ISSUE_10 };
const VS_BARE: RatioGoal = { min: 1, source: ISSUE_10 };
/** Issue 4: the gateway adds at most 1 ms to the p99 latency at 50 connections. */
const MAX_ADDED_P99_MS = 1;

/** One wrk run against one server, plus the CPU the server (tree) and redis-server used. */
export interface Sample {
  rps: number;
  requests: number;
  latencyUs: WrkResult["latencyUs"];
  /** Server process tree CPU time per request, µs. */
  cpuUs: number;
  /** redis-server CPU time per request, µs. */
  redisCpuUs: number;
}

async function measure(
  server: HttpServer,
  shape: HttpRequestShape,
  run: WrkRun,
  redisPid: number,
  label: string,
): Promise<Sample> {
  const cpu0 = processTreeCpuMs(server.pid);
  const redis0 = processTreeCpuMs(redisPid);
  const result = await runWrk(shape, run, label);
  const cpu = processTreeCpuMs(server.pid) - cpu0;
  const redisCpu = processTreeCpuMs(redisPid) - redis0;
  const sample: Sample = {
    rps: result.rps,
    requests: result.requests,
    latencyUs: result.latencyUs,
    cpuUs: (cpu * 1000) / result.requests,
    redisCpuUs: (redisCpu * 1000) / result.requests,
  };
  console.error(
    `bench gateway: ${label}: ${fmt(sample.rps)} req/s, CPU ${fmt(sample.cpuUs)} µs/request (redis-server ${fmt(
      sample.redisCpuUs,
    )}), latency p50 ${sample.latencyUs.p50} µs p99 ${sample.latencyUs.p99} µs`,
  );
  return sample;
}

/** Medians of a list of samples. */
function summary(samples: Sample[]) {
  return {
    rps: median(samples.map((s) => s.rps)),
    cpuUs: median(samples.map((s) => s.cpuUs)),
    redisCpuUs: median(samples.map((s) => s.redisCpuUs)),
    p50Us: median(samples.map((s) => s.latencyUs.p50)),
    p99Us: median(samples.map((s) => s.latencyUs.p99)),
  };
}

function describe(label: string, samples: Sample[]): string {
  const s = summary(samples);
  return `${label}: CPU ${fmt(s.cpuUs)} µs/request (redis-server ${fmt(s.redisCpuUs)}), latency p50 ${fmt(
    s.p50Us / 1000,
  )} ms p99 ${fmt(s.p99Us / 1000)} ms`;
}

/** Rows of one request kind (GET or SET) for all servers. */
function throughputRows(
  op: "get" | "set",
  servers: HttpServer[],
  samples: Map<string, Sample[]>,
  webdisSkip: string | undefined,
): BenchRow[] {
  const OP = op.toUpperCase();
  const of = (key: string) => samples.get(`${key}:${op}`) ?? [];
  const label = (key: string) => servers.find((s) => s.key === key)?.label ?? key;
  const rows: BenchRow[] = [];
  const pair = (subject: string, baseline: string, id: string, goal?: RatioGoal) => {
    const a = of(subject);
    const b = of(baseline);
    const roundRatios = a.map((s, i) => s.rps / (b[i]?.rps ?? Number.NaN));
    rows.push(
      comparison({
        id,
        name: `${label(subject)} ${OP} (${CONNECTIONS} connections), median of ${a.length} rounds`,
        unit: "req/s",
        value: summary(a).rps,
        baseline: { name: `${label(baseline)} ${OP}`, value: summary(b).rps },
        direction: "higher",
        ...(goal ? { goal } : {}),
        notes: `${describe(label(subject), a)}; ${describe(label(baseline), b)}; round ratios ${spread(roundRatios)}`,
        details: { subject: a, baseline: b, roundRatios },
      }),
    );
  };
  if (webdisSkip === undefined) pair("gateway", "webdis", `gateway.${op}.vs-webdis`, VS_WEBDIS);
  else
    rows.push(
      skipped({
        id: `gateway.${op}.vs-webdis`,
        name: `cacheplane gateway ${OP} (${CONNECTIONS} connections)`,
        unit: "req/s",
        baselineName: `Webdis ${OP}`,
        reason: webdisSkip,
        goal: VS_WEBDIS,
      }),
    );
  pair("gateway", "bare", `gateway.${op}.vs-bare`, VS_BARE);
  if (webdisSkip === undefined) pair("bare", "webdis", `bare.${op}.vs-webdis`);
  // CPU per request: the work each request costs the server (issue 10: "cut the per-request CPU").
  const cpuRow = (subject: string, baseline: string, id: string) => {
    const a = of(subject);
    const b = of(baseline);
    rows.push(
      comparison({
        id,
        name: `${label(subject)} CPU time per ${OP} request (whole process tree, ${CONNECTIONS} connections)`,
        unit: "µs",
        value: summary(a).cpuUs,
        baseline: { name: label(baseline), value: summary(b).cpuUs },
        direction: "lower",
        notes: `round values ${spread(a.map((s) => s.cpuUs))} vs ${spread(b.map((s) => s.cpuUs))}; redis-server ${fmt(
          summary(a).redisCpuUs,
        )} vs ${fmt(summary(b).redisCpuUs)} µs/request`,
      }),
    );
  };
  cpuRow("gateway", "bare", `gateway.${op}.cpu.vs-bare`);
  if (webdisSkip === undefined) cpuRow("gateway", "webdis", `gateway.${op}.cpu.vs-webdis`);
  // The floors: no goal, context for the goals above (what Node costs before any work of its own).
  for (const floor of ["floor-http", "floor-net"] as const) {
    if (!servers.some((s) => s.key === floor)) continue;
    if (webdisSkip === undefined) {
      pair(floor, "webdis", `${floor}.${op}.vs-webdis`);
      cpuRow(floor, "webdis", `${floor}.${op}.cpu.vs-webdis`);
    }
    cpuRow("gateway", floor, `gateway.${op}.cpu.vs-${floor}`);
  }
  return rows;
}

function allSkipped(reason: string, layout: CpuLayout): SuiteResult {
  const rows: BenchRow[] = [];
  for (const op of ["get", "set"] as const) {
    const OP = op.toUpperCase();
    rows.push(
      skipped({
        id: `gateway.${op}.vs-webdis`,
        name: `cacheplane gateway ${OP}`,
        unit: "req/s",
        baselineName: `Webdis ${OP}`,
        reason,
        goal: VS_WEBDIS,
      }),
      skipped({
        id: `gateway.${op}.vs-bare`,
        name: `cacheplane gateway ${OP}`,
        unit: "req/s",
        baselineName: `node:http + ioredis ${OP}`,
        reason,
        goal: VS_BARE,
      }),
    );
  }
  return { rows, meta: { layout: layout.description, "load generator": `not available: ${reason}` } };
}

/** Runs the suite; every figure is measured in this run, on this machine. */
export async function run(): Promise<SuiteResult> {
  const layout = cpuLayout("wrk", "the server under test (the same for every server)");
  const wrk = ensureDebianTool("wrk", "wrk");
  if ("missing" in wrk) return allSkipped(wrk.missing, layout);
  const dir = mkdtempSync(join(tmpdir(), "cacheplane-bench-gateway-"));
  const loadCpus = expandCpuList(layout.load).length;
  const threads = layout.pinned ? Math.max(1, loadCpus) : 2;
  const wrkRun = (connections: number, durationS: number): WrkRun => ({
    wrk: wrk.path,
    connections,
    threads: Math.min(threads, connections),
    durationS,
    cpus: layout.load,
    dir,
  });
  const started: HttpServer[] = [];
  let platform: Platform | undefined;
  try {
    platform = await startPlatform(layout, dir);
    const admin = platform.redis.client();
    await admin.set(KEY, VALUE);
    const gateway = await startGateway(platform, layout);
    started.push(gateway);
    const token = gateway.get.headers.authorization!.replace(/^Bearer /, "");
    const bare = await startBareServer(platform, layout, token);
    started.push(bare);
    const webdis = await startWebdis(platform, layout, token);
    const webdisSkip = "skipped" in webdis ? webdis.skipped : undefined;
    if ("skipped" in webdis) console.error(`bench gateway: Webdis rows skipped: ${webdis.skipped}`);
    else started.push(webdis);
    // The floors are measured in the same rounds but are not part of the goals.
    started.push(await startFloorServer(layout, "http"), await startFloorServer(layout, "net"));
    const servers = [...started];
    for (const server of servers) {
      await verifyAnswer(server.label, server.get, server.expected.get);
      await verifyAnswer(server.label, server.set, server.expected.set);
    }
    const redisPid = platform.redis.pid!;

    // Warm-up (JIT, connection pools), not recorded.
    for (const server of servers) {
      for (const op of ["get", "set"] as const) {
        await runWrk(server[op], wrkRun(CONNECTIONS, WARMUP_S), `warm-up ${server.key} ${op}`);
      }
    }
    const samples = new Map<string, Sample[]>();
    const record = (key: string, sample: Sample) => {
      const list = samples.get(key) ?? [];
      list.push(sample);
      samples.set(key, list);
    };
    for (let round = 0; round < ROUNDS; round++) {
      for (const op of ["get", "set"] as const) {
        for (const server of rotation(servers, round)) {
          const label = `round ${round + 1}/${ROUNDS} ${server.key} ${op}`;
          record(
            `${server.key}:${op}`,
            await measure(server, server[op], wrkRun(CONNECTIONS, DURATION_S), redisPid, label),
          );
        }
      }
    }
    // Latency without queueing (1 connection) and /pipeline, gateway vs bare / vs single requests.
    const pipeline = gatewayPipeline(gateway, PIPELINE_SIZE);
    await verifyAnswer(
      gateway.label,
      pipeline,
      Array.from({ length: PIPELINE_SIZE }, () => ({ result: VALUE })),
    );
    await runWrk(pipeline, wrkRun(PIPELINE_CONNECTIONS, WARMUP_S), "warm-up gateway pipeline");
    for (let round = 0; round < ROUNDS; round++) {
      for (const server of rotation([gateway, bare], round)) {
        const label = `round ${round + 1}/${ROUNDS} ${server.key} get, 1 connection`;
        record(
          `${server.key}:get1`,
          await measure(server, server.get, wrkRun(1, DURATION_S), redisPid, label),
        );
      }
      const order = round % 2 === 0 ? (["pipeline", "single"] as const) : (["single", "pipeline"] as const);
      for (const kind of order) {
        const shape = kind === "pipeline" ? pipeline : gateway.get;
        const label = `round ${round + 1}/${ROUNDS} gateway ${kind}, ${PIPELINE_CONNECTIONS} connections`;
        record(
          `gateway:${kind}`,
          await measure(gateway, shape, wrkRun(PIPELINE_CONNECTIONS, DURATION_S), redisPid, label),
        );
      }
    }

    const rows: BenchRow[] = [
      ...throughputRows("get", servers, samples, webdisSkip),
      ...throughputRows("set", servers, samples, webdisSkip),
    ];
    const gwGet = samples.get("gateway:get") ?? [];
    const bareGet = samples.get("bare:get") ?? [];
    const addedP99Ms = (summary(gwGet).p99Us - summary(bareGet).p99Us) / 1000;
    rows.push({
      id: "gateway.get.added-p99",
      name: `p99 latency the gateway adds to GET over the bare server (${CONNECTIONS} connections, closed loop at saturation: mostly queueing)`,
      value: addedP99Ms,
      unit: "ms",
      goal: `<= ${MAX_ADDED_P99_MS} ms (issue 4)`,
      met: addedP99Ms <= MAX_ADDED_P99_MS,
      notes: `p99 ${fmt(summary(gwGet).p99Us / 1000)} vs ${fmt(summary(bareGet).p99Us / 1000)} ms; round values ${spread(
        gwGet.map((s, i) => (s.latencyUs.p99 - (bareGet[i]?.latencyUs.p99 ?? Number.NaN)) / 1000),
      )} ms`,
    });
    const gw1 = summary(samples.get("gateway:get1") ?? []);
    const bare1 = summary(samples.get("bare:get1") ?? []);
    rows.push(
      comparison({
        id: "gateway.get.one-connection",
        name: "gateway GET at 1 connection (no queueing): mean round trip = 1 / req/s",
        unit: "µs",
        value: 1e6 / gw1.rps,
        baseline: { name: "node:http + ioredis", value: 1e6 / bare1.rps },
        direction: "lower",
        notes: `${fmt(gw1.rps)} vs ${fmt(bare1.rps)} req/s; p50 ${fmt(gw1.p50Us)} vs ${fmt(bare1.p50Us)} µs; the gateway adds ${fmt(
          1e6 / gw1.rps - 1e6 / bare1.rps,
        )} µs`,
        details: { subject: samples.get("gateway:get1"), baseline: samples.get("bare:get1") },
      }),
    );
    const pipe = summary(samples.get("gateway:pipeline") ?? []);
    const single = summary(samples.get("gateway:single") ?? []);
    rows.push(
      comparison({
        id: "gateway.pipeline",
        name: `gateway: one /pipeline of ${PIPELINE_SIZE} GETs vs single GET requests (${PIPELINE_CONNECTIONS} connections)`,
        unit: "commands/s",
        value: pipe.rps * PIPELINE_SIZE,
        baseline: { name: "single-command GET requests", value: single.rps },
        direction: "higher",
        notes: `CPU ${fmt(pipe.cpuUs / PIPELINE_SIZE)} vs ${fmt(single.cpuUs)} µs per command`,
      }),
    );
    return {
      rows,
      meta: {
        layout: layout.description,
        "load generator": `${toolVersion(wrk.path, ["-v"])}: -t${Math.min(threads, CONNECTIONS)} -c${CONNECTIONS}, Lua script per request shape`,
        method: `${ROUNDS} interleaved rounds of ${DURATION_S} s per server and request (order rotating), after a ${WARMUP_S} s warm-up each; medians`,
        request: `GET ${KEY} and SET ${KEY} <${VALUE.length} bytes>; CPU per request = process-tree CPU time (/proc) / requests`,
        ...Object.fromEntries(started.map((s) => [s.label, s.description])),
        ...(webdisSkip ? { Webdis: `skipped: ${webdisSkip}` } : {}),
      },
    };
  } finally {
    for (const server of started.reverse()) await server.stop().catch(() => undefined);
    await platform?.redis.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}
