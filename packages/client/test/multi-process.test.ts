/**
 * Coordination across processes on a real redis-server (each worker is its own Node process with its
 * own connection): session updates from 4 processes lose nothing, a revocation racing updates wins,
 * and a getOrSet loader slower than its lock's ttl still runs once across 4 processes.
 */
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { fileURLToPath } from "node:url";
import { type RedisServer, startRedis } from "@cacheplane/testkit";
import type { Redis } from "ioredis";
import { type CacheService, closeAllRedisConnections, createCache } from "../src/index.js";
import { createSessionStore } from "../src/sessions.js";
import { createServiceUser, RELAXED, secretFor } from "./helpers/redis.js";
import { runWorkers } from "./helpers/workers.js";

const PASSWORD = "Multi-Process-Pw-6677889900";
const WORKER = fileURLToPath(new URL("./fixtures/pattern-worker.ts", import.meta.url));

let server: RedisServer;
let admin: Redis;
let cache: CacheService;
let secret: string;

before(async () => {
  server = await startRedis({ acl: true, tls: false });
  admin = server.client();
  await createServiceUser(admin, "orders", PASSWORD);
  const payload = secretFor(server, "orders", PASSWORD);
  secret = JSON.stringify(payload);
  cache = createCache({ secret: payload, ...RELAXED });
});

after(async () => {
  await cache?.close();
  await closeAllRedisConnections();
  admin?.disconnect();
  await server?.stop();
});

describe("sessions across processes", () => {
  it("4 processes × 100 read-modify-write updates of one session: all 400 applied, none lost", async () => {
    const sessions = createSessionStore<{ n: number }>(cache, { ttl: 300 });
    const { id } = await sessions.create({ n: 0 });
    const results = await runWorkers<{ applied: number; failed: number }>(
      WORKER,
      Array.from({ length: 4 }, () => ({
        WORKER_SECRET: secret,
        WORKER_TASK: "session-increments",
        WORKER_ID: id,
        WORKER_COUNT: "100",
        WORKER_PARALLEL: "2",
      })),
    );
    assert.deepStrictEqual(
      results.map((r) => r.failed),
      [0, 0, 0, 0],
    );
    assert.equal(
      results.reduce((n, r) => n + r.applied, 0),
      400,
    );
    assert.deepStrictEqual(await sessions.get(id), { n: 400 });
  });

  it("a revocation racing updates from 3 processes wins: the session stays revoked", async () => {
    const sessions = createSessionStore<{ n: number }>(cache, { ttl: 300 });
    const { id } = await sessions.create({ n: 0 });
    const common = { WORKER_SECRET: secret, WORKER_ID: id };
    const results = await runWorkers<{ applied?: number; revoked?: boolean }>(WORKER, [
      { ...common, WORKER_TASK: "session-updates-until-revoked" },
      { ...common, WORKER_TASK: "session-updates-until-revoked" },
      { ...common, WORKER_TASK: "session-updates-until-revoked" },
      { ...common, WORKER_TASK: "session-revoke", WORKER_DELAY_MS: "300" },
    ]);
    assert.equal(results[3]?.revoked, true);
    assert.ok(
      results.slice(0, 3).every((r) => (r.applied ?? 0) > 0),
      "updates ran before the revocation",
    );
    assert.equal(await sessions.get(id), undefined);
    assert.equal(await sessions.update(id, { n: -1 }), false);
    assert.equal(await sessions.touch(id), false);
  });
});

describe("getOrSet across processes", () => {
  it("a loader 3 × slower than lockTtl runs once across 4 processes (the lock is renewed while it runs)", async () => {
    const key = `slow-${Date.now()}`;
    const results = await runWorkers<{ values: string[]; errors: number }>(
      WORKER,
      Array.from({ length: 4 }, () => ({
        WORKER_SECRET: secret,
        WORKER_TASK: "slow-loader",
        WORKER_KEY: key,
        WORKER_COUNT: "25",
        WORKER_DELAY_MS: "3000",
        WORKER_LOCK_TTL: "1",
      })),
    );
    assert.equal(Number(await admin.get(`orders:test:loads:${key}`)), 1, "the loader ran once");
    assert.ok(results.every((r) => r.errors === 0));
    assert.equal(new Set(results.flatMap((r) => r.values)).size, 1, "every caller got the one value");
    assert.equal(await admin.exists(`orders:__cp:sl:${key}`), 0, "the lock was released");
  });
});
