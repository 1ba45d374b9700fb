import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import {
  fixedWindowScript,
  slidingWindowCounterScript,
  slidingWindowScript,
} from "@cacheplane/core/server-scripts";
import { type RedisCluster, type RedisServer, startCluster, startRedis } from "@cacheplane/testkit";
import fc from "fast-check";
import type { Redis } from "ioredis";
import {
  CacheConfigError,
  type CacheService,
  closeAllRedisConnections,
  createCache,
  DynamoDbStore,
  MemoryStore,
  type RateLimitAlgorithm,
  type RedisStore,
  CacheService as Service,
} from "../src/index.js";
import { memoryLimit } from "../src/patterns/rate-limiter.js";
import { createRateLimiter } from "../src/patterns/rate-limits/index.js";
import {
  clusterSecret,
  createClusterServiceUser,
  createServiceUser,
  RELAXED,
  secretFor,
} from "./helpers/redis.js";

const PASSWORD = "Rate-Limit-Pw-5566778899";
const ALGORITHMS: RateLimitAlgorithm[] = [
  "fixed-window",
  "sliding-window",
  "sliding-window-counter",
  "token-bucket",
];

/** 1,000 concurrent requests against limit 100 (long window: no refill while the test runs). */
async function burst(cache: CacheService, algorithm: RateLimitAlgorithm, identifier: string) {
  const limiter = createRateLimiter(cache, { algorithm, limit: 100, window: 3600, name: algorithm });
  const results = await Promise.all(Array.from({ length: 1000 }, () => limiter.limit(identifier)));
  return { limiter, results, allowed: results.filter((r) => r.allowed).length };
}

function checkBurst(results: Awaited<ReturnType<typeof burst>>["results"], allowed: number) {
  assert.equal(allowed, 100);
  assert.ok(results.every((r) => !r.degraded));
  const remaining = results.filter((r) => r.allowed).map((r) => r.remaining);
  assert.deepStrictEqual(
    [...remaining].sort((a, b) => a - b),
    Array.from({ length: 100 }, (_, i) => i),
  );
  const denied = results.find((r) => !r.allowed);
  assert.ok(denied);
  assert.equal(denied.remaining, 0);
  assert.ok(denied.retryAfter >= 1);
  assert.ok(denied.resetAt > Date.now());
}

function redisSuite(
  name: string,
  makeCache: () => Promise<{ cache: CacheService; flushScripts: () => Promise<void> }>,
) {
  describe(`rate limiter on ${name}`, () => {
    let cache: CacheService;
    let flushScripts: () => Promise<void>;
    before(async () => {
      ({ cache, flushScripts } = await makeCache());
    });
    after(() => cache.close());

    for (const algorithm of ALGORITHMS) {
      it(`${algorithm}: 1,000 concurrent requests against limit 100 allow exactly 100`, async () => {
        const { results, allowed } = await burst(cache, algorithm, `burst-${name}`);
        checkBurst(results, allowed);
      });
    }

    it("identifiers are independent; reset forgets one", async () => {
      const limiter = createRateLimiter(cache, {
        algorithm: "fixed-window",
        limit: 2,
        window: 60,
        name: "indep",
      });
      assert.equal((await limiter.limit("a")).allowed, true);
      assert.equal((await limiter.limit("a")).allowed, true);
      assert.equal((await limiter.limit("a")).allowed, false);
      assert.equal((await limiter.limit("b")).allowed, true);
      await limiter.reset("a");
      assert.equal((await limiter.limit("a")).allowed, true);
    });

    it("survives SCRIPT FLUSH (EVALSHA falls back to EVAL on NOSCRIPT)", async () => {
      const limiter = createRateLimiter(cache, {
        algorithm: "token-bucket",
        limit: 5,
        window: 60,
        name: "flush",
      });
      assert.equal((await limiter.limit("x")).allowed, true);
      await flushScripts();
      const after = await limiter.limit("x");
      assert.equal(after.allowed, true);
      assert.equal(after.degraded, false);
      assert.equal(after.remaining, 3);
    });

    it("cost counts several units", async () => {
      const limiter = createRateLimiter(cache, {
        algorithm: "sliding-window",
        limit: 10,
        window: 60,
        name: "cost",
      });
      assert.equal((await limiter.limit("c", { cost: 7 })).remaining, 3);
      const denied = await limiter.limit("c", { cost: 4 });
      assert.equal(denied.allowed, false);
      assert.equal(denied.remaining, 3);
      assert.equal((await limiter.limit("c", { cost: 3 })).allowed, true);
    });
  });
}

let server: RedisServer;
let cluster: RedisCluster;

redisSuite("redis standalone", async () => {
  server = await startRedis({ acl: true, tls: false });
  const admin = server.client();
  await createServiceUser(admin, "orders", PASSWORD);
  const cache = createCache({
    secret: secretFor(server, "orders", PASSWORD),
    throwOnError: true,
    ...RELAXED,
  });
  return {
    cache,
    flushScripts: async () => {
      await admin.script("FLUSH");
    },
  };
});

redisSuite("redis cluster (3 masters)", async () => {
  cluster = await startCluster({ masters: 3 });
  await createClusterServiceUser(cluster, "orders", PASSWORD);
  const cache = createCache({
    secret: clusterSecret(cluster, "orders", PASSWORD),
    throwOnError: true,
    ...RELAXED,
  });
  return {
    cache,
    flushScripts: async () => {
      for (const node of cluster.masters) {
        const admin = node.client();
        await admin.script("FLUSH");
        admin.disconnect();
      }
    },
  };
});

after(async () => {
  await closeAllRedisConnections();
  await Promise.allSettled([server?.stop(), cluster?.stop()]);
});

describe("rate limiter on the memory store", () => {
  for (const algorithm of ALGORITHMS) {
    it(`${algorithm}: 1,000 concurrent requests against limit 100 allow exactly 100`, async () => {
      const cache = createCache({ storage: "memory" });
      const { results, allowed } = await burst(cache, algorithm, "mem");
      checkBurst(results, allowed);
    });
  }

  it("headers(): RateLimit-Limit, RateLimit-Remaining, RateLimit-Reset and Retry-After when denied", async () => {
    const cache = createCache({ storage: "memory" });
    const limiter = createRateLimiter(cache, { algorithm: "fixed-window", limit: 1, window: 30 });
    const ok = await limiter.limit("h");
    const okHeaders = ok.headers();
    assert.equal(okHeaders["RateLimit-Limit"], "1");
    assert.equal(okHeaders["RateLimit-Remaining"], "0");
    assert.ok(Number(okHeaders["RateLimit-Reset"]) > 0 && Number(okHeaders["RateLimit-Reset"]) <= 30);
    assert.equal(okHeaders["Retry-After"], undefined);
    const denied = (await limiter.limit("h")).headers();
    assert.ok(Number(denied["Retry-After"]) >= 1 && Number(denied["Retry-After"]) <= 30);
  });

  it("windows move on: a short fixed window and a sliding window admit again later", async () => {
    const cache = createCache({ storage: "memory" });
    for (const algorithm of ALGORITHMS) {
      const limiter = createRateLimiter(cache, {
        algorithm,
        limit: 1,
        window: 0.1,
        name: `short-${algorithm}`,
      });
      assert.equal((await limiter.limit("w")).allowed, true);
      assert.equal((await limiter.limit("w")).allowed, false);
      // The counter weighs the previous window in: its request has fully slid out after 2 windows.
      await new Promise((resolve) => setTimeout(resolve, algorithm === "sliding-window-counter" ? 250 : 150));
      assert.equal((await limiter.limit("w")).allowed, true, algorithm);
    }
  });

  it("is refused on DynamoDB storage with a clear configuration error", () => {
    const cache = new Service({
      store: new DynamoDbStore({ tableName: "t", client: async () => Promise.reject(new Error("unused")) }),
    });
    assert.throws(() => createRateLimiter(cache, { limit: 1, window: 1 }), CacheConfigError);
  });

  it("fails open (or closed) when the store is unavailable, without throwing", async () => {
    const down = createCache({
      secret: secretFor({ host: "127.0.0.1", port: 1 }, "orders", PASSWORD),
      connectTimeoutMs: 100,
      breaker: false,
    });
    const open = await createRateLimiter(down, { limit: 5, window: 60 }).limit("x");
    assert.equal(open.allowed, true);
    assert.equal(open.degraded, true);
    const closed = await createRateLimiter(down, { limit: 5, window: 60, failOpen: false }).limit("x");
    assert.equal(closed.allowed, false);
    await down.close();
  });
});

describe("sliding window counter: the approximation, with exact figures (in process)", () => {
  it("weighs the previous window by its share still inside the sliding window", () => {
    const store = new MemoryStore();
    const check = (now: number, cost = 1) =>
      memoryLimit(store, "k", "sliding-window-counter", 10, 1000, cost, now);
    // Window [1000, 2000): 10 allowed, the 11th denied; it may retry when 9 of the 10 have slid
    // out: at 2100, 10 * 900/1000 = 9 used.
    for (let i = 0; i < 10; i++) assert.deepStrictEqual(check(1500), [1, 9 - i, 1500, 0]);
    assert.deepStrictEqual(check(1500), [0, 0, 1500, 600]);
    assert.equal(check(2099)[0], 0);
    assert.deepStrictEqual(check(2100), [1, 0, 1900, 0]);
    // At 2500 half of the previous window counts: 10 * 0.5 + 1 = 6 used, so 4 more.
    const at2500 = Array.from({ length: 5 }, () => check(2500));
    assert.deepStrictEqual(
      at2500.map((r) => r[0]),
      [1, 1, 1, 1, 0],
    );
    // A window later without requests, the count of [2000, 3000) (5) is the previous one.
    assert.deepStrictEqual(check(3600, 3), [1, 10 - 2 - 3, 1400, 0]);
    // Two windows later: nothing counts any more.
    assert.deepStrictEqual(check(6000, 10), [1, 0, 2000, 0]);
    // A cost above the limit is never allowed.
    assert.deepStrictEqual(check(9000, 11), [0, 10, 0, 1000]);
  });
});

describe("Lua scripts vs the in-process algorithms (controlled clock, real redis-server)", () => {
  let server: RedisServer;
  let admin: Redis;
  let store: RedisStore;
  let cache: CacheService;
  before(async () => {
    server = await startRedis({ acl: true, tls: false });
    admin = server.client();
    await createServiceUser(admin, "lua", PASSWORD);
    cache = createCache({ secret: secretFor(server, "lua", PASSWORD), throwOnError: true, ...RELAXED });
    await cache.connect();
    store = cache.store as RedisStore;
  });
  after(async () => {
    await cache?.close();
    await server?.stop();
  });

  let keys = 0;
  let ids = 0;
  for (const [algorithm, script] of [
    ["sliding-window", slidingWindowScript],
    ["sliding-window-counter", slidingWindowCounterScript],
  ] as const) {
    it(`property: ${algorithm} answers exactly as the memory store for any request sequence`, async () => {
      await fc.assert(
        fc.asyncProperty(
          fc.integer({ min: 1, max: 8 }),
          // The scripts run on a simulated clock, but Redis expires their keys (PEXPIRE ~ the window)
          // in real time: windows of 1 s and more keep that real expiry out of a property run even on
          // a loaded machine, where 10 ms windows let keys vanish between two steps.
          fc.integer({ min: 1000, max: 5000 }),
          fc.integer({ min: 0, max: 10_000_000 }),
          fc.array(fc.tuple(fc.double({ min: 0, max: 2.5, noNaN: true }), fc.integer({ min: 1, max: 10 })), {
            minLength: 1,
            maxLength: 30,
          }),
          async (limit, windowMs, offset, steps) => {
            const key = `rl:diff:${++keys}`;
            const memory = new MemoryStore({ keyspace: "lua" });
            let now = 1_700_000_000_000 + offset;
            for (const [advance, cost] of steps) {
              now += Math.floor(advance * windowMs);
              const args = [limit, windowMs, cost, now, `id${++ids}`];
              const lua = (await store.runScript(script, key, args)) as number[];
              const expected = memoryLimit(memory, key, algorithm, limit, windowMs, cost, now);
              assert.deepStrictEqual(lua, expected, `at ${now} cost ${cost}`);
            }
          },
        ),
        { numRuns: 60 },
      );
    });
  }

  it("sliding-window-counter: a caller whose clock lags stays in the newest window", async () => {
    const key = "rl:lag";
    const memory = new MemoryStore({ keyspace: "lua" });
    for (const [now, cost] of [
      [10_500, 2],
      [10_400, 1],
      [9_990, 1],
      [11_200, 1],
      [11_100, 1],
    ] as const) {
      const lua = await store.runScript(slidingWindowCounterScript, key, [5, 1000, cost, now]);
      assert.deepStrictEqual(lua, memoryLimit(memory, key, "sliding-window-counter", 5, 1000, cost, now));
    }
  });

  it("fixed-window: denied requests are not counted; the window expires; an over-limit cost leaves no key", async () => {
    const run = (identifier: string, cost: number) =>
      store.runScript(fixedWindowScript, `rl:fw:${identifier}`, [10, 60_000, cost]) as Promise<number[]>;
    assert.deepStrictEqual((await run("a", 7)).slice(0, 2), [1, 3]);
    assert.deepStrictEqual((await run("a", 4)).slice(0, 2), [0, 3]);
    assert.deepStrictEqual((await run("a", 3)).slice(0, 2), [1, 0]);
    const denied = await run("a", 1);
    assert.deepStrictEqual(denied.slice(0, 2), [0, 0]);
    assert.ok(denied[2]! > 0 && denied[2]! <= 60_000 && denied[3] === denied[2]);
    assert.equal(await admin.get("lua:rl:fw:a"), "10");
    const ttl = await admin.pttl("lua:rl:fw:a");
    assert.ok(ttl > 0 && ttl <= 60_000);
    assert.deepStrictEqual(await run("b", 11), [0, 10, 60_000, 60_000]);
    assert.equal(await admin.exists("lua:rl:fw:b"), 0);
    // A counter left without expiry (not written by this script) gets one on the next request.
    await admin.set("lua:rl:fw:c", "2");
    assert.deepStrictEqual(await run("c", 1), [1, 7, 60_000, 0]);
    assert.ok((await admin.pttl("lua:rl:fw:c")) > 0);
  });
});
