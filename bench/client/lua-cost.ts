/**
 * Server-side cost of each rate limiter check (redis-server CPU per EVALSHA, from INFO
 * commandstats), ours vs rate-limiter-flexible's RateLimiterRedis, on a private redis-server:
 *
 *   node --import tsx bench/client/lua-cost.ts [checks]
 */
import { closeAllRedisConnections, createCache, type RateLimitAlgorithm } from "@cacheplane/client";
import { createRateLimiter } from "@cacheplane/client/rate-limits";
import { startRedis } from "@cacheplane/testkit";
import { RateLimiterRedis } from "rate-limiter-flexible";

const N = Number(process.argv[2] ?? 20_000);
const server = await startRedis({ acl: true, tls: false });
const admin = server.client();
const { username, password } = server.admin;
const cache = createCache({
  secret: { host: server.host, port: server.port, username, password, keyspace: "p", tls: false },
});
await cache.connect();

async function usecPerCall(run: () => Promise<unknown>): Promise<string> {
  for (let i = 0; i < 1000; i++) await run();
  await admin.config("RESETSTAT");
  for (let i = 0; i < N; i++) await run();
  const stats = (await admin.info("commandstats")) as string;
  const line = stats.split("\n").find((l) => l.startsWith("cmdstat_evalsha:")) ?? "";
  return /usec_per_call=([\d.]+)/.exec(line)?.[1] ?? "?";
}

const rlf = new RateLimiterRedis({ storeClient: admin, points: 1e9, duration: 3600, keyPrefix: "p:rlflx" });
const rows: [string, () => Promise<unknown>][] = [["rate-limiter-flexible", () => rlf.consume("user-1")]];
let n = 0;
for (const algorithm of [
  "fixed-window",
  "sliding-window-counter",
  "token-bucket",
  "sliding-window",
] as RateLimitAlgorithm[]) {
  const limiter = createRateLimiter(cache, { algorithm, limit: 1e9, window: 3600, name: algorithm });
  rows.push([algorithm, () => limiter.limit(algorithm === "sliding-window" ? `u${n++ % 100}` : "user-1")]);
}
for (let round = 0; round < 3; round++) {
  for (const [name, run] of rows)
    console.log(`${name.padEnd(24)} ${await usecPerCall(run)} µs/call (server)`);
}
await cache.close();
await closeAllRedisConnections();
await server.stop();
