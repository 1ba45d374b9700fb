import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { type RedisCluster, type RedisServer, startCluster, startRedis } from "@cacheplane/testkit";
import {
  CacheConfigError,
  type CacheService,
  closeAllRedisConnections,
  createCache,
  DynamoDbStore,
  type RateLimitAlgorithm,
  CacheService as Service,
} from "../src/index.js";
import {
  clusterSecret,
  createClusterServiceUser,
  createServiceUser,
  RELAXED,
  secretFor,
} from "./helpers/redis.js";

const PASSWORD = "Rate-Limit-Pw-5566778899";
const ALGORITHMS: RateLimitAlgorithm[] = ["fixed-window", "sliding-window", "token-bucket"];

/** 1,000 concurrent requests against limit 100 (long window: no refill while the test runs). */
async function burst(cache: CacheService, algorithm: RateLimitAlgorithm, identifier: string) {
  const limiter = cache.rateLimiter({ algorithm, limit: 100, window: 3600, name: algorithm });
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
      const limiter = cache.rateLimiter({ algorithm: "fixed-window", limit: 2, window: 60, name: "indep" });
      assert.equal((await limiter.limit("a")).allowed, true);
      assert.equal((await limiter.limit("a")).allowed, true);
      assert.equal((await limiter.limit("a")).allowed, false);
      assert.equal((await limiter.limit("b")).allowed, true);
      await limiter.reset("a");
      assert.equal((await limiter.limit("a")).allowed, true);
    });

    it("survives SCRIPT FLUSH (EVALSHA falls back to EVAL on NOSCRIPT)", async () => {
      const limiter = cache.rateLimiter({ algorithm: "token-bucket", limit: 5, window: 60, name: "flush" });
      assert.equal((await limiter.limit("x")).allowed, true);
      await flushScripts();
      const after = await limiter.limit("x");
      assert.equal(after.allowed, true);
      assert.equal(after.degraded, false);
      assert.equal(after.remaining, 3);
    });

    it("cost counts several units", async () => {
      const limiter = cache.rateLimiter({ algorithm: "sliding-window", limit: 10, window: 60, name: "cost" });
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
    const limiter = cache.rateLimiter({ algorithm: "fixed-window", limit: 1, window: 30 });
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
      const limiter = cache.rateLimiter({ algorithm, limit: 1, window: 0.1, name: `short-${algorithm}` });
      assert.equal((await limiter.limit("w")).allowed, true);
      assert.equal((await limiter.limit("w")).allowed, false);
      await new Promise((resolve) => setTimeout(resolve, 150));
      assert.equal((await limiter.limit("w")).allowed, true, algorithm);
    }
  });

  it("is refused on DynamoDB storage with a clear configuration error", () => {
    const cache = new Service({
      store: new DynamoDbStore({ tableName: "t", client: async () => Promise.reject(new Error("unused")) }),
    });
    assert.throws(() => cache.rateLimiter({ limit: 1, window: 1 }), CacheConfigError);
  });

  it("fails open (or closed) when the store is unavailable, without throwing", async () => {
    const down = createCache({
      secret: secretFor({ host: "127.0.0.1", port: 1 }, "orders", PASSWORD),
      connectTimeoutMs: 100,
      breaker: false,
    });
    const open = await down.rateLimiter({ limit: 5, window: 60 }).limit("x");
    assert.equal(open.allowed, true);
    assert.equal(open.degraded, true);
    const closed = await down.rateLimiter({ limit: 5, window: 60, failOpen: false }).limit("x");
    assert.equal(closed.allowed, false);
    await down.close();
  });
});
