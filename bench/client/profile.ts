/**
 * Profiling driver for the client's hot paths (not a bench suite: `bench/run.ts` only runs
 * `index.ts`). Starts its own redis-server (testkit), then runs one scenario with 32 calls in flight:
 *
 *   node --import tsx --cpu-prof --cpu-prof-dir=/tmp/prof bench/client/profile.ts get 200000
 *
 * Scenarios: get, get-1000, set, getOrSet, raw-get, raw-get-1000, raw-set, raw-set-buffer, rl-fixed-window, rl-sliding-window,
 * rl-sliding-window-counter, rl-token-bucket, rlf, rlf-on-cache-client. A `raw-` scenario prefixed with `ap-`
 * (e.g. `ap-raw-get-1000`) uses ioredis with enableAutoPipelining. `PROFILE_CALLERS` sets the calls in
 * flight, `PROFILE_BATCH_WRITES=0` turns the client's write batching off. Prints the CPU time per call of this process and of redis-server (/proc), robust to a loaded
 * machine where ops/s is not.
 */

import { readFileSync } from "node:fs";
import {
  closeAllRedisConnections,
  createCache,
  type RateLimitAlgorithm,
  type RedisStore,
} from "@cacheplane/client";
import { createRateLimiter } from "@cacheplane/client/rate-limits";
import { startRedis } from "@cacheplane/testkit";
import { Redis } from "ioredis";
import { RateLimiterRedis } from "rate-limiter-flexible";

const argument = process.argv[2] ?? "get";
const autoPipelining = argument.startsWith("ap-");
const scenario = autoPipelining ? argument.slice(3) : argument;
const ops = Number(process.argv[3] ?? 100_000);
const CONCURRENCY = Number(process.env.PROFILE_CALLERS ?? 32);

/** CPU time (user + system, µs) of process `pid` so far. */
function processCpuMicros(pid: number | undefined): number {
  if (pid === undefined) return Number.NaN;
  const fields = readFileSync(`/proc/${pid}/stat`, "utf8").split(") ")[1]!.split(" ");
  return ((Number(fields[11]) + Number(fields[12])) * 1e6) / 100; // utime + stime, clock ticks of 10 ms
}

const server = await startRedis({ acl: true, tls: false });
const { username, password } = server.admin;
const secret = { host: server.host, port: server.port, username, password, keyspace: "p", tls: false };
// PROFILE_BATCH_WRITES=0: the client without per-turn write batching (what it was before decision 0021).
const cache = createCache({ secret, batchWrites: process.env.PROFILE_BATCH_WRITES !== "0" });
await cache.connect();
const raw = new Redis({
  host: server.host,
  port: server.port,
  username,
  password,
  enableOfflineQueue: false,
  enableReadyCheck: false,
  maxRetriesPerRequest: 1,
  commandTimeout: 1000,
  disableClientInfo: true,
  lazyConnect: true,
  noDelay: true,
  enableAutoPipelining: autoPipelining,
});
await raw.connect();
const value = { id: 42, name: "bench value", tags: ["a", "b", "c"], price: 1999, active: true };
await cache.set("hot", value, { ttl: 3600 });
await raw.set("p:rawhot", JSON.stringify(value), "PX", 3_600_000);

let op: (i: number) => Promise<unknown>;
if (scenario === "get") op = () => cache.get("hot");
else if (scenario === "set") op = (i) => cache.set(`s:${i % 1000}`, value, { ttl: 60 });
else if (scenario === "getOrSet" || scenario === "get-1000") {
  // Distinct keys: same-key callers would share one in-flight promise.
  await cache.setMany(Array.from({ length: 1000 }, (_, i) => ({ key: `hit:${i}`, value, ttl: 3600 })));
  const loader = async () => value;
  op =
    scenario === "get-1000"
      ? (i) => cache.get(`hit:${i % 1000}`)
      : (i) => cache.getOrSet(`hit:${i % 1000}`, loader, { ttl: 3600 });
} else if (scenario === "raw-get-1000") {
  const pipeline = raw.pipeline();
  for (let i = 0; i < 1000; i++) pipeline.set(`p:rawhit:${i}`, JSON.stringify(value), "PX", 3_600_000);
  await pipeline.exec();
  op = async (i) => JSON.parse((await raw.get(`p:rawhit:${i % 1000}`)) ?? "null");
} else if (scenario === "raw-get") op = async () => JSON.parse((await raw.get("p:rawhot")) ?? "null");
else if (scenario === "raw-set")
  op = (i) => raw.set(`p:raws:${i % 1000}`, JSON.stringify(value), "PX", 60_000);
else if (scenario === "raw-set-buffer")
  op = (i) => raw.set(`p:raws:${i % 1000}`, Buffer.from(JSON.stringify(value)), "PX", 60_000);
else if (scenario === "rlf" || scenario === "rlf-on-cache-client") {
  // rlf-on-cache-client: rate-limiter-flexible on the cache's own ioredis connection.
  const storeClient = scenario === "rlf" ? raw : (cache.store as RedisStore).connection?.readyClient();
  const rlf = new RateLimiterRedis({ storeClient, points: 1e9, duration: 3600, keyPrefix: "p:rlflx" });
  op = () => rlf.consume("user-1");
} else if (scenario.startsWith("rl-")) {
  const algorithm = scenario.slice(3) as RateLimitAlgorithm;
  const limiter = createRateLimiter(cache, {
    algorithm,
    limit: 1_000_000_000,
    window: 3600,
    name: algorithm,
  });
  op = (i) => limiter.limit(algorithm === "sliding-window" ? `user-${i % 100}` : "user-1");
} else throw new Error(`unknown scenario ${scenario}`);

let next = 0;
const started = performance.now();
const cpu = process.cpuUsage();
const redisCpu = processCpuMicros(server.pid);
await Promise.all(
  Array.from({ length: CONCURRENCY }, async () => {
    while (next < ops) await op(next++);
  }),
);
const elapsed = performance.now() - started;
const used = process.cpuUsage(cpu);
const redisUsed = processCpuMicros(server.pid) - redisCpu;
console.log(
  `${argument}: ${Math.round((ops / elapsed) * 1000)} ops/s, ${(((used.user + used.system) / ops) * 1000).toFixed(0)} ns CPU/op (client process), ${((redisUsed / ops) * 1000).toFixed(0)} ns CPU/op (redis-server), ${CONCURRENCY} callers`,
);
raw.disconnect();
await cache.close();
await closeAllRedisConnections();
await server.stop();
