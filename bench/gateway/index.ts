/**
 * Bench suite `gateway` (`npm run bench gateway`): the Upstash-REST gateway against a bare
 * node:http + ioredis baseline doing the per-request work any HTTP front of Redis must do (read
 * the body, check a bearer token by SHA-256 + `timingSafeEqual`, parse the command from the JSON
 * body or the path, run it on ioredis with the gateway's own ioredis options, JSON-encode the
 * reply): see `servers.ts`. Both run in this process on 127.0.0.1 in front of one redis-server
 * (started by @cacheplane/testkit on a free port, ACL service user).
 *
 * Load comes from autocannon in a child process (`load.mjs`), started the same way for both
 * servers, so the load generator's CPU is not charged to the measured server's event loop (on a
 * small machine it still competes for the same cores, equally for both).
 *
 * After one unrecorded warm-up of every measurement, `BENCH_ROUNDS` rounds (default 10) of
 * `BENCH_DURATION_S` seconds per measurement (default 2); in each round subject and baseline run
 * back to back, the order alternating between rounds. Many short pairs rather than a few long ones:
 * other load on the machine drifts, and a pair measured seconds apart sees nearly the same. The
 * median round is reported, and each round's paired figures are printed to stderr so the spread is
 * visible. Measured:
 * - GET and SET requests per second at 50 connections, as fast as the servers answer;
 * - p99 latency of GET at 50 connections, and the latency the gateway adds to it. This is a closed
 *   loop at saturation: the latency is mostly queueing (about connections / throughput), so it
 *   follows the throughput ratio. autocannon records latencies with 1 ms resolution;
 * - CPU time of the server process per request (user + system, `process.cpuUsage()` over the whole
 *   run divided by the requests the server counted): the work per request, much less sensitive to
 *   other load on the machine than throughput;
 * - mean latency the gateway adds without queueing: at 1 connection a closed loop's mean round trip
 *   is exactly 1 / (requests per second), so this is 1/rps(gateway) - 1/rps(baseline), in µs;
 * - one /pipeline request of 100 GETs vs 100 single-command requests (commands per second).
 */

import type { BenchRow } from "../types.js";
import { type LoadOptions, type LoadResult, runLoad } from "./load.js";
import { type BenchServers, startBenchServers } from "./servers.js";

const DURATION_S = Number(process.env.BENCH_DURATION_S ?? 2);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 10);
const WARMUP_S = 2;
const CONNECTIONS = 50;
const PIPELINE_CONNECTIONS = 10;
const PIPELINE_SIZE = 100;

/** Goals of issue 4. */
const GOAL_THROUGHPUT_RATIO = 0.85;
const GOAL_ADDED_P99_MS = 1;

const median = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)] ?? 0;
const fmt = (n: number) => (Math.abs(n) >= 100 ? n.toFixed(0) : n.toFixed(2));

interface Pair {
  subject: LoadOptions;
  baseline: LoadOptions;
  /** Which server's request counter belongs to each side. */
  servers: { subject: "gateway" | "baseline"; baseline: "gateway" | "baseline" };
}
/** One measurement: autocannon's figures, plus the server process's CPU time per request (µs). */
type Sample = LoadResult & { cpuPerRequestUs: number };
type Samples = Record<string, { subject: Sample[]; baseline: Sample[] }>;

async function measure(servers: BenchServers, which: "gateway" | "baseline", options: LoadOptions) {
  const served = servers.served[which];
  const cpu = process.cpuUsage();
  const result = await runLoad(options);
  const used = process.cpuUsage(cpu);
  const requests = servers.served[which] - served;
  return { ...result, cpuPerRequestUs: (used.user + used.system) / Math.max(requests, 1) };
}

/** Each pair measured back to back, once per round; who goes first alternates between rounds. */
async function rounds(servers: BenchServers, pairs: Record<string, Pair>): Promise<Samples> {
  const samples: Samples = {};
  for (const pair of Object.values(pairs)) {
    for (const side of ["subject", "baseline"] as const) await runLoad({ ...pair[side], duration: WARMUP_S });
  }
  for (let round = 0; round < ROUNDS; round++) {
    for (const [name, pair] of Object.entries(pairs)) {
      const order = round % 2 === 0 ? (["subject", "baseline"] as const) : (["baseline", "subject"] as const);
      const results: Partial<Record<"subject" | "baseline", Sample>> = {};
      for (const side of order) results[side] = await measure(servers, pair.servers[side], pair[side]);
      samples[name] ??= { subject: [], baseline: [] };
      samples[name].subject.push(results.subject!);
      samples[name].baseline.push(results.baseline!);
      const s = results.subject!;
      const b = results.baseline!;
      console.error(
        `bench gateway: round ${round + 1}/${ROUNDS} ${name}: ${fmt(s.requests.average)} vs ${fmt(b.requests.average)} req/s` +
          ` (ratio ${fmt(s.requests.average / b.requests.average)}), p99 ${s.latency.p99} vs ${b.latency.p99} ms` +
          ` (+${s.latency.p99 - b.latency.p99} ms), CPU ${fmt(s.cpuPerRequestUs)} vs ${fmt(b.cpuPerRequestUs)} µs/request`,
      );
    }
  }
  return samples;
}

function spread(values: number[]): string {
  return `${fmt(Math.min(...values))}..${fmt(Math.max(...values))}`;
}

/** Runs the suite; every figure is measured in this run, on this machine. */
export async function run(): Promise<BenchRow[]> {
  const servers = await startBenchServers();
  const { gatewayUrl, baselineUrl } = servers;
  const headers = { authorization: `Bearer ${servers.token}`, "content-type": "application/json" };
  await servers.redis.set("bench:k", "x".repeat(64));
  try {
    const common = { connections: CONNECTIONS, duration: DURATION_S, headers };
    const setBody = JSON.stringify(["SET", "bench:k", "x".repeat(64)]);
    const pipelineBody = JSON.stringify(Array.from({ length: PIPELINE_SIZE }, () => ["GET", "bench:k"]));
    const pipe = { connections: PIPELINE_CONNECTIONS, duration: DURATION_S, headers };
    const single = { ...common, connections: 1 };
    const versus = { subject: "gateway", baseline: "baseline" } as const;
    const m = await rounds(servers, {
      get: {
        subject: { ...common, url: `${gatewayUrl}/get/bench:k` },
        baseline: { ...common, url: `${baselineUrl}/get/bench:k` },
        servers: versus,
      },
      set: {
        subject: { ...common, url: `${gatewayUrl}/`, method: "POST", body: setBody },
        baseline: { ...common, url: `${baselineUrl}/`, method: "POST", body: setBody },
        servers: versus,
      },
      "get, 1 connection": {
        subject: { ...single, url: `${gatewayUrl}/get/bench:k` },
        baseline: { ...single, url: `${baselineUrl}/get/bench:k` },
        servers: versus,
      },
      "pipeline vs single (gateway)": {
        subject: { ...pipe, url: `${gatewayUrl}/pipeline`, method: "POST", body: pipelineBody },
        baseline: { ...pipe, url: `${gatewayUrl}/get/bench:k` },
        servers: { subject: "gateway", baseline: "gateway" },
      },
    });
    const rps = (results: Sample[]) => median(results.map((r) => r.requests.average));
    const p99 = (results: Sample[]) => median(results.map((r) => r.latency.p99));
    const cpu = (results: Sample[]) => median(results.map((r) => r.cpuPerRequestUs));
    const paired = (name: string, f: (s: Sample, b: Sample) => number) =>
      m[name]!.subject.map((s, i) => f(s, m[name]!.baseline[i]!));
    const get = m.get!;
    const set = m.set!;
    const one = m["get, 1 connection"]!;
    const pipeline = m["pipeline vs single (gateway)"]!;
    const getRatio = rps(get.subject) / rps(get.baseline);
    const setRatio = rps(set.subject) / rps(set.baseline);
    const addedP99 = p99(get.subject) - p99(get.baseline);
    const addedMeanUs = 1e6 / rps(one.subject) - 1e6 / rps(one.baseline);
    const pipelineCommands = rps(pipeline.subject) * PIPELINE_SIZE;
    const singleCommands = rps(pipeline.baseline);
    const ratioSpread = (name: string) =>
      `round ratios ${spread(paired(name, (s, b) => s.requests.average / b.requests.average))}`;
    const rounds_ = `median of ${ROUNDS} rounds`;
    return [
      {
        name: `gateway GET (${CONNECTIONS} connections) vs node:http + ioredis; ${rounds_}, ${ratioSpread("get")}`,
        value: rps(get.subject),
        unit: "req/s",
        baseline: { name: "node:http + ioredis GET", value: rps(get.baseline) },
        ratio: getRatio,
        direction: "higher",
        goal: `>= ${GOAL_THROUGHPUT_RATIO}`,
        met: getRatio >= GOAL_THROUGHPUT_RATIO,
      },
      {
        name: `gateway SET (${CONNECTIONS} connections) vs node:http + ioredis; ${rounds_}, ${ratioSpread("set")}`,
        value: rps(set.subject),
        unit: "req/s",
        baseline: { name: "node:http + ioredis SET", value: rps(set.baseline) },
        ratio: setRatio,
        direction: "higher",
        goal: `>= ${GOAL_THROUGHPUT_RATIO}`,
        met: setRatio >= GOAL_THROUGHPUT_RATIO,
      },
      {
        name: `gateway GET p99 latency (${CONNECTIONS} connections, closed loop at saturation)`,
        value: p99(get.subject),
        unit: "ms",
        baseline: { name: "node:http + ioredis GET p99", value: p99(get.baseline) },
        ratio: p99(get.subject) / Math.max(p99(get.baseline), 0.001),
        direction: "lower",
      },
      {
        name: `p99 latency the gateway adds to GET (${CONNECTIONS} connections; 1 ms resolution); round values ${spread(paired("get", (s, b) => s.latency.p99 - b.latency.p99))}`,
        value: addedP99,
        unit: "ms",
        direction: "lower",
        goal: `<= ${GOAL_ADDED_P99_MS} ms`,
        met: addedP99 <= GOAL_ADDED_P99_MS,
      },
      {
        name: `server CPU time per GET request (${CONNECTIONS} connections); round ratios ${spread(paired("get", (s, b) => s.cpuPerRequestUs / b.cpuPerRequestUs))}`,
        value: cpu(get.subject),
        unit: "µs",
        baseline: { name: "node:http + ioredis", value: cpu(get.baseline) },
        ratio: cpu(get.subject) / cpu(get.baseline),
        direction: "lower",
      },
      {
        name: `server CPU time per SET request (${CONNECTIONS} connections); round ratios ${spread(paired("set", (s, b) => s.cpuPerRequestUs / b.cpuPerRequestUs))}`,
        value: cpu(set.subject),
        unit: "µs",
        baseline: { name: "node:http + ioredis", value: cpu(set.baseline) },
        ratio: cpu(set.subject) / cpu(set.baseline),
        direction: "lower",
      },
      {
        name: `mean latency the gateway adds to GET without queueing (1 connection: 1/rps, gateway ${fmt(rps(one.subject))} vs baseline ${fmt(rps(one.baseline))} req/s); round values ${spread(paired("get, 1 connection", (s, b) => 1e6 / s.requests.average - 1e6 / b.requests.average))}`,
        value: addedMeanUs,
        unit: "µs",
        direction: "lower",
      },
      {
        name: `one /pipeline of ${PIPELINE_SIZE} GETs vs ${PIPELINE_SIZE} single requests (gateway, ${PIPELINE_CONNECTIONS} connections)`,
        value: pipelineCommands,
        unit: "commands/s",
        baseline: { name: "single-command GET requests", value: singleCommands },
        ratio: pipelineCommands / singleCommands,
        direction: "higher",
      },
    ];
  } finally {
    await servers.close();
  }
}
