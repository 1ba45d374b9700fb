/**
 * Bench suite `client` (`npm run bench client`): @cacheplane/client against baselines measured in
 * the same run on the same redis-server (started by @cacheplane/testkit, ACL service user):
 * - CacheService.get / set vs raw ioredis (same connection settings, JSON by hand);
 * - getOrSet on a hit vs a raw get;
 * - get of a tagged entry (its hit reads the tags' versions: one round trip more) vs a raw get;
 * - breaker recovery: from Redis answering again (SIGCONT; restart after SIGKILL) to the breaker
 *   closed, with nobody calling the cache meanwhile (the background probe);
 * - the rate limiter (Lua) vs rate-limiter-flexible's RateLimiterRedis on the same ioredis settings;
 * - import time and esbuild-minified bundle size (AWS SDK external) vs ioredis alone.
 *
 * Every `CacheService` read also reads the keyspace's generation (one GET per event-loop turn,
 * shared by the reads of that turn) and the entries are generation-stamped (the bench clears the
 * keyspace first): the rows measure the client as applications run it.
 *
 * Fairness: both sides use the same ioredis options (no auto-pipelining on either side, same
 * commandTimeout), the same value and the same JSON work. Throughput runs alternate the order of
 * subject and baseline every round (so neither always runs second, after the other's garbage) and
 * report the median round of each; `pairRatios` in the JSON holds every round's ratio (the spread).
 * Goals (issue 3) are set only on like-for-like rows: rate-limiter-flexible's RateLimiterRedis is a
 * fixed-window counter (one Lua script: SET NX EX, INCRBY, PTTL), so only our fixed window carries
 * the rate limiter goal; the other algorithms are extra rows that do different (more) work.
 */
import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { gzipSync } from "node:zlib";
import { closeAllRedisConnections, createCache } from "@cacheplane/client";
import { startRedis } from "@cacheplane/testkit";
import { build } from "esbuild";
import { Redis, type RedisOptions } from "ioredis";
import { RateLimiterRedis } from "rate-limiter-flexible";
import type { BenchRow } from "../types.js";

export type BenchResult = BenchRow & { pairRatios?: number[] };

const root = fileURLToPath(new URL("../..", import.meta.url));
const PASSWORD = "Bench-Client-Pw-2468013579";
const KEYSPACE = "bench";
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 15);
const OPS = Number(process.env.BENCH_OPS ?? 10_000);
const CONCURRENCY = 32;

/** Ops per second of `op` with CONCURRENCY calls in flight. */
async function throughput(op: (i: number) => Promise<unknown>, ops = OPS): Promise<number> {
  let next = 0;
  const started = performance.now();
  await Promise.all(
    Array.from({ length: CONCURRENCY }, async () => {
      while (next < ops) await op(next++);
    }),
  );
  return (ops / (performance.now() - started)) * 1000;
}

const percentile = (sorted: Float64Array, p: number) =>
  sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * p))] ?? 0;

/** Sequential latency percentiles (ms) of subject and baseline, sampled in alternating chunks. */
async function latencies(
  subject: (i: number) => Promise<unknown>,
  baseline: (i: number) => Promise<unknown>,
  ops = 5_000,
  chunk = 250,
) {
  const s = new Float64Array(ops);
  const b = new Float64Array(ops);
  for (let start = 0; start < ops; start += chunk) {
    for (const [op, samples] of [
      [subject, s],
      [baseline, b],
    ] as const) {
      for (let i = start; i < Math.min(ops, start + chunk); i++) {
        const t = performance.now();
        await op(i);
        samples[i] = performance.now() - t;
      }
    }
  }
  s.sort();
  b.sort();
  return {
    subject: { p50: percentile(s, 0.5), p99: percentile(s, 0.99) },
    baseline: { p50: percentile(b, 0.5), p99: percentile(b, 0.99) },
  };
}

const median = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)] ?? 0;

interface Comparison {
  subject: number;
  baseline: number;
  pairRatios: number[];
}

/** Interleaved rounds, the order alternating (S B, B S, S B, ...) -> medians and per-round ratios. */
async function compare(subject: () => Promise<number>, baseline: () => Promise<number>): Promise<Comparison> {
  const s: number[] = [];
  const b: number[] = [];
  await subject();
  await baseline();
  for (let round = 0; round < ROUNDS; round++) {
    if (round % 2 === 0) {
      s.push(await subject());
      b.push(await baseline());
    } else {
      b.push(await baseline());
      s.push(await subject());
    }
  }
  const pairRatios = s.map((v, i) => Math.round((v / (b[i] ?? v)) * 1000) / 1000);
  console.error(`  ratios per round: ${pairRatios.join(" ")}`);
  return { subject: median(s), baseline: median(b), pairRatios };
}

/** A ratio goal from the issue, e.g. `>= 0.90`. */
function withGoal(r: BenchResult, min: number): BenchResult {
  return { ...r, goal: `>= ${min.toFixed(2)}`, met: (r.ratio ?? 0) >= min };
}

function row(
  name: string,
  unit: string,
  value: number,
  baselineName: string,
  baseline: number,
  direction: "higher" | "lower",
  pairRatios?: number[],
): BenchResult {
  return {
    name,
    value,
    unit,
    baseline: { name: baselineName, value: baseline },
    ratio: direction === "higher" ? value / baseline : baseline / value,
    direction,
    ...(pairRatios ? { pairRatios } : {}),
  };
}

/** Median import time (ms) of a bundle in fresh node processes. */
function importTime(file: string, runs = 7): number {
  const times: number[] = [];
  for (let i = 0; i < runs; i++) {
    const out = spawnSync(
      process.execPath,
      [
        "-e",
        `const t = performance.now(); import(${JSON.stringify(file)}).then(() => console.log(performance.now() - t))`,
      ],
      { encoding: "utf8" },
    );
    if (out.status !== 0) throw new Error(`import of ${file} failed: ${out.stderr}`);
    times.push(Number(out.stdout.trim()));
  }
  return median(times);
}

async function bundles(): Promise<BenchRow[]> {
  const dir = mkdtempSync(join(tmpdir(), "cacheplane-bench-"));
  try {
    const external = ["@aws-sdk/*", "@smithy/*", "@aws-crypto/*"];
    const common = {
      bundle: true,
      minify: true,
      platform: "node",
      format: "esm",
      target: "node20",
      external,
    } as const;
    const clientFile = join(dir, "client.mjs");
    await build({
      ...common,
      entryPoints: [join(root, "packages/client/src/index.ts")],
      outfile: clientFile,
    });
    const baselineEntry = join(dir, "ioredis-entry.mjs");
    writeFileSync(baselineEntry, 'export { Redis, Cluster } from "ioredis";\n');
    const baselineFile = join(dir, "ioredis.mjs");
    await build({
      ...common,
      entryPoints: [baselineEntry],
      outfile: baselineFile,
      nodePaths: [join(root, "node_modules")],
    });
    const bytes = statSync(clientFile).size;
    const size = bytes / 1024;
    const baseSize = statSync(baselineFile).size / 1024;
    const gz = gzipSync(readFileSync(clientFile)).length / 1024;
    const baseGz = gzipSync(readFileSync(baselineFile)).length / 1024;
    return [
      {
        ...row(
          "bundle size, esbuild minified (AWS SDK external)",
          "KiB",
          size,
          "ioredis alone",
          baseSize,
          "lower",
        ),
        // The issue says 250 KB: checked as 250,000 bytes (244.1 KiB), the stricter reading.
        goal: "<= 250 KB (244.1 KiB)",
        met: bytes <= 250_000,
      },
      row("bundle size, minified + gzip", "KiB", gz, "ioredis alone", baseGz, "lower"),
      row(
        "import time of the bundle (fresh process, median of 7)",
        "ms",
        importTime(clientFile),
        "ioredis alone",
        importTime(baselineFile),
        "lower",
      ),
    ];
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

export async function run(): Promise<BenchResult[]> {
  const server = await startRedis({ acl: true, tls: false });
  const admin = server.client();
  await admin.call(
    "ACL",
    "SETUSER",
    "bench",
    "reset",
    "on",
    `>${PASSWORD}`,
    `~${KEYSPACE}:*`,
    "-@all",
    "+@read",
    "+@write",
    "+@connection",
    "+@transaction",
    "-@dangerous",
    "+eval",
    "+evalsha",
    "+script|load",
  );
  const secret = {
    host: server.host,
    port: server.port,
    username: "bench",
    password: PASSWORD,
    keyspace: KEYSPACE,
    tls: false,
  };
  // The client's connection settings (redis-connection.ts, defaults), reproduced for the raw
  // ioredis baseline; neither side enables auto-pipelining.
  const rawOptions: RedisOptions = {
    host: server.host,
    port: server.port,
    username: "bench",
    password: PASSWORD,
    enableOfflineQueue: false,
    enableReadyCheck: false,
    maxRetriesPerRequest: 1,
    commandTimeout: 1000,
    connectTimeout: 2000,
    disableClientInfo: true,
    keepAlive: 30_000,
    lazyConnect: true,
    noDelay: true,
  };
  const raw = new Redis(rawOptions);
  await raw.connect();
  const cache = createCache({ secret });
  await cache.connect();
  // Entries carry the generation they were written under once the keyspace has been cleared.
  await cache.clear();
  const rows: BenchResult[] = [];
  try {
    const value = { id: 42, name: "bench value", tags: ["a", "b", "c"], price: 1999, active: true };
    const json = JSON.stringify(value);
    await cache.set("hot", value, { ttl: 3600 });
    await raw.set(`${KEYSPACE}:rawhot`, json, "PX", 3_600_000);

    console.error("  CacheService.get vs raw get");
    const get = await compare(
      () => throughput(() => cache.get("hot")),
      () => throughput(async () => JSON.parse((await raw.get(`${KEYSPACE}:rawhot`)) ?? "null")),
    );
    rows.push(
      withGoal(
        row(
          "CacheService.get throughput (32 in flight)",
          "ops/s",
          get.subject,
          "raw ioredis get + JSON.parse",
          get.baseline,
          "higher",
          get.pairRatios,
        ),
        0.9,
      ),
    );

    console.error("  CacheService.set vs raw set");
    const set = await compare(
      () => throughput((i) => cache.set(`s:${i % 1000}`, value, { ttl: 60 })),
      () => throughput((i) => raw.set(`${KEYSPACE}:raws:${i % 1000}`, JSON.stringify(value), "PX", 60_000)),
    );
    rows.push(
      withGoal(
        row(
          "CacheService.set throughput (32 in flight)",
          "ops/s",
          set.subject,
          "raw ioredis set PX + JSON.stringify",
          set.baseline,
          "higher",
          set.pairRatios,
        ),
        0.9,
      ),
    );

    const lat = await latencies(
      () => cache.get("hot"),
      async () => JSON.parse((await raw.get(`${KEYSPACE}:rawhot`)) ?? "null"),
    );
    rows.push(
      row(
        "CacheService.get latency p50 (sequential)",
        "ms",
        lat.subject.p50,
        "raw ioredis get + JSON.parse",
        lat.baseline.p50,
        "lower",
      ),
    );
    rows.push(
      row(
        "CacheService.get latency p99 (sequential)",
        "ms",
        lat.subject.p99,
        "raw ioredis get + JSON.parse",
        lat.baseline.p99,
        "lower",
      ),
    );

    // Distinct keys per in-flight call: same-key callers would share one promise (in-process
    // deduplication) and measure nothing but that.
    const loader = async () => value;
    await cache.setMany(Array.from({ length: 1000 }, (_, i) => ({ key: `hit:${i}`, value, ttl: 3600 })));
    const pipeline = raw.pipeline();
    for (let i = 0; i < 1000; i++) pipeline.set(`${KEYSPACE}:rawhit:${i}`, json, "PX", 3_600_000);
    await pipeline.exec();
    console.error("  getOrSet hit vs raw get");
    const hit = await compare(
      () => throughput((i) => cache.getOrSet(`hit:${i % 1000}`, loader, { ttl: 3600 })),
      () => throughput(async (i) => JSON.parse((await raw.get(`${KEYSPACE}:rawhit:${i % 1000}`)) ?? "null")),
    );
    rows.push(
      withGoal(
        row(
          "getOrSet on a hit throughput (32 in flight)",
          "ops/s",
          hit.subject,
          "raw ioredis get + JSON.parse",
          hit.baseline,
          "higher",
          hit.pairRatios,
        ),
        0.85,
      ),
    );

    await cache.set("tagged", value, { ttl: 3600, tags: ["bench:a", "bench:b"] });
    console.error("  CacheService.get of a tagged entry vs raw get");
    const tagged = await compare(
      () => throughput(() => cache.get("tagged")),
      () => throughput(async () => JSON.parse((await raw.get(`${KEYSPACE}:rawhot`)) ?? "null")),
    );
    rows.push(
      row(
        "CacheService.get of a tagged entry (one more round trip: the tags' versions; no goal)",
        "ops/s",
        tagged.subject,
        "raw ioredis get + JSON.parse",
        tagged.baseline,
        "higher",
        tagged.pairRatios,
      ),
    );

    const rlf = new RateLimiterRedis({
      storeClient: raw,
      points: 1e9,
      duration: 3600,
      keyPrefix: `${KEYSPACE}:rlflx`,
    });
    // Only the fixed window is the baseline's algorithm; the others are different algorithms doing
    // more work per check (hash fields and weighting, refill arithmetic, a sorted-set log).
    const algorithms = [
      ["fixed-window", "like for like: fixed-window counter; Lua with 2 Redis calls, the baseline's has 3"],
      [
        "sliding-window-counter",
        "extra, no goal: approximated sliding window; HMGET + HINCRBY and weighting",
      ],
      ["token-bucket", "extra, no goal: continuous refill; HMGET + HSET + PEXPIRE and float arithmetic"],
      [
        "sliding-window",
        "extra, no goal: exact sliding log; 5 Redis calls, one sorted-set entry per request",
      ],
    ] as const;
    for (const [algorithm, note] of algorithms) {
      // Large limits so every request is allowed in both libraries; one hot identifier per round.
      // The sliding log keeps one entry per allowed request, so its identifiers rotate.
      const limiter = cache.rateLimiter({ algorithm, limit: 1_000_000_000, window: 3600, name: algorithm });
      let round = 0;
      console.error(`  rateLimiter ${algorithm}`);
      const rl = await compare(
        () => {
          round++;
          return throughput((i) =>
            limiter.limit(algorithm === "sliding-window" ? `user-${round}-${i % 100}` : "user-1"),
          );
        },
        () => throughput(() => rlf.consume("user-1")),
      );
      const r = row(
        `rateLimiter ${algorithm} throughput (${note})`,
        "ops/s",
        rl.subject,
        "rate-limiter-flexible RateLimiterRedis (fixed window)",
        rl.baseline,
        "higher",
        rl.pairRatios,
      );
      rows.push(algorithm === "fixed-window" ? withGoal(r, 1) : r);
    }
  } finally {
    raw.disconnect();
    await cache.close();
    await closeAllRedisConnections();
    await server.stop();
  }
  rows.push(...(await recovery()));
  rows.push(...(await bundles()));
  return rows;
}

/**
 * Milliseconds from Redis answering again to the breaker closed, nobody calling the cache in
 * between (the background probe does it): after a SIGSTOP (SIGCONT), and after a SIGKILL (restart;
 * "answering" = testkit's restart() saw PING answered). Median of 3 each, on a server of its own.
 */
async function recovery(): Promise<BenchRow[]> {
  const server = await startRedis({ acl: true, tls: false });
  const admin = server.client();
  await admin.call(
    "ACL",
    "SETUSER",
    "bench",
    "reset",
    "on",
    `>${PASSWORD}`,
    `~${KEYSPACE}:*`,
    "-@all",
    "+@read",
    "+@write",
    "+@connection",
    "-@dangerous",
  );
  await admin.call("ACL", "SAVE");
  admin.disconnect();
  const cache = createCache({
    secret: {
      host: server.host,
      port: server.port,
      username: "bench",
      password: PASSWORD,
      keyspace: KEYSPACE,
      tls: false,
    },
    commandTimeoutMs: 500,
    connectTimeoutMs: 1000,
  });
  const closedAfter = (back: () => Promise<void> | void): Promise<number> =>
    new Promise((resolve, reject) => {
      let from = 0;
      const off = cache.on("breaker", (e) => {
        if (e.state === "closed" && from > 0) {
          off();
          resolve(performance.now() - from);
        }
      });
      Promise.resolve(back()).then(() => {
        from = performance.now();
      }, reject);
    });
  const open = async () => {
    for (let i = 0; cache.breakerState !== "open" && i < 100; i++) await cache.get(`k${i}`);
    if (cache.breakerState !== "open") throw new Error("the breaker did not open");
  };
  const paused: number[] = [];
  const killed: number[] = [];
  try {
    await cache.set("k", 1);
    for (let i = 0; i < 3; i++) {
      server.pause();
      await open();
      await new Promise((r) => setTimeout(r, 1000));
      paused.push(await closedAfter(() => server.resume()));
      await server.kill();
      await open();
      await new Promise((r) => setTimeout(r, 1000));
      killed.push(await closedAfter(() => server.restart()));
    }
  } finally {
    await cache.close();
    await server.stop();
  }
  const result = (name: string, samples: number[]): BenchRow => {
    const value = median(samples);
    console.error(`  ${name}: ${samples.map((s) => Math.round(s)).join(" ")} ms`);
    return { name, value, unit: "ms", goal: "< 1000 ms", met: value < 1000, direction: "lower" };
  };
  return [
    result("breaker closed after Redis resumed (SIGSTOP, then SIGCONT), median of 3", paused),
    result("breaker closed after Redis restarted (SIGKILL, then restart), median of 3", killed),
  ];
}
