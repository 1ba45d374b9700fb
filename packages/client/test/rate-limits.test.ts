/**
 * Several rate limits at once (`createRateLimits` of `@cacheplane/client/rate-limits`): on real
 * redis-server processes (standalone with an ACL service user calling the platform's FCALL library,
 * and a 3-master cluster) and on the memory store with an injected clock. The counters are read
 * back from Redis with an admin connection, so "a rejected request consumes nothing" and "refunds
 * never go below zero" are asserted on the stored state, not only on the answers.
 */
import assert from "node:assert/strict";
import { createServer, request } from "node:http";
import type { AddressInfo } from "node:net";
import { after, before, describe, it } from "node:test";
import { MAX_LIMITS_PER_CALL, multiLimitScript, scriptLibrary } from "@cacheplane/core/server-scripts";
import { type RedisCluster, type RedisServer, startCluster, startRedis } from "@cacheplane/testkit";
import type { Cluster, Redis } from "ioredis";
import {
  CacheConfigError,
  type CacheService,
  CacheUnavailableError,
  closeAllRedisConnections,
  createCache,
  DynamoDbStore,
  keySlot,
  type RateLimitsResult,
  CacheService as Service,
} from "../src/index.js";
import {
  createRateLimits,
  type RateLimitsOptions,
  rateLimitHeaders,
  setRateLimitHeaders,
  withRateLimitHeaders,
} from "../src/patterns/rate-limits/index.js";
import {
  clusterSecret,
  createClusterServiceUser,
  createServiceUser,
  RELAXED,
  secretFor,
} from "./helpers/redis.js";

const PASSWORD = "Multi-Limit-Pw-1122334455";
const KEYSPACE = "orders";

/** The stored key of a counter (as `multiLimitKey` writes it, with the keyspace). */
function counterKey(name: string, by: string, id: string, limit: string): string {
  return `${KEYSPACE}:__cp:rls:${name}:${by}:{${id}}:${limit}`;
}

type Admin = Redis | Cluster;

async function counter(admin: Admin, name: string, by: string, id: string, limit: string) {
  const value = await admin.get(counterKey(name, by, id, limit));
  return value === null ? 0 : Number(value);
}

function names(result: RateLimitsResult) {
  return result.limits.map((l) => `${l.name}:${l.count}/${l.limit}`).join(" ");
}

/** The tests every Redis topology must pass. */
interface Setup {
  cache: CacheService;
  admin: Admin;
  /** FCALLs the server(s) ran since the last call (INFO commandstats, then CONFIG RESETSTAT). */
  fcalls: () => Promise<number>;
  /** Server calls for one check of a user and an IP (whose counters are in different slots). */
  callsPerUserAndIp: number;
}

async function fcallsOf(nodes: RedisServer[]): Promise<number> {
  let total = 0;
  for (const node of nodes) {
    const admin = node.client();
    try {
      const stats = (await admin.info("commandstats")) as string;
      total += Number(/^cmdstat_fcall:calls=(\d+)/m.exec(stats)?.[1] ?? 0);
      await admin.config("RESETSTAT");
    } finally {
      admin.disconnect();
    }
  }
  return total;
}

function redisSuite(topology: string, setup: () => Promise<Setup>) {
  describe(`rateLimits on ${topology}`, () => {
    let cache: CacheService;
    let admin: Admin;
    let ctx: Setup;
    before(async () => {
      ctx = await setup();
      // Not connected yet: the first check of a user and an IP learns the topology itself.
      ({ cache, admin } = ctx);
    });
    after(() => cache.close());

    it("round trips: one FCALL per identifier's slot (standalone: one for all)", async () => {
      const limits = createRateLimits(cache, {
        name: "trips",
        limits: [
          { name: "userSec", by: "user", limit: 10, window: 1 },
          { name: "userDay", by: "user", limit: 1000, window: 86_400 },
          { name: "ipDay", by: "ip", limit: 5000, window: 86_400 },
        ],
      });
      await ctx.fcalls();
      await limits.limit({ user: "erin", ip: "203.0.113.9" });
      assert.equal(await ctx.fcalls(), ctx.callsPerUserAndIp);
      const one = createRateLimits(cache, {
        name: "trips1",
        limits: [
          { name: "perSec", limit: 10, window: 1 },
          { name: "perDay", limit: 1000, window: 86_400 },
        ],
      });
      await one.limit("erin");
      assert.equal(await ctx.fcalls(), 1);
    });

    it("checks 2/hour and 3/day together: a rejected request is counted in neither", async () => {
      const limits = createRateLimits(cache, {
        name: "both",
        limits: [
          { name: "perHour", limit: 2, window: 3600 },
          { name: "perDay", limit: 3, window: 86_400 },
        ],
      });
      const first = await limits.limit("u1");
      assert.equal(first.allowed, true);
      assert.equal(first.degraded, false);
      assert.deepStrictEqual(
        first.limits.map((l) => [l.name, l.count, l.remaining]),
        [
          ["perHour", 1, 1],
          ["perDay", 1, 2],
        ],
      );
      assert.equal(first.limiting.name, "perHour");
      assert.equal((await limits.limit("u1")).allowed, true);
      const rejected = await limits.limit("u1");
      assert.equal(rejected.allowed, false, names(rejected));
      assert.equal(rejected.limiting.name, "perHour");
      assert.deepStrictEqual(
        rejected.limits.map((l) => [l.name, l.count, l.admits]),
        [
          ["perHour", 2, false],
          ["perDay", 2, true],
        ],
      );
      assert.ok(rejected.retryAfter >= 1 && rejected.retryAfter <= 3600);
      // The stored counters: perDay did not count the rejected request.
      assert.equal(await counter(admin, "both", "id", "u1", "perHour"), 2);
      assert.equal(await counter(admin, "both", "id", "u1", "perDay"), 2);
      // Both counters of one identifier are in one slot (one FCALL on a cluster).
      assert.equal(
        keySlot(counterKey("both", "id", "u1", "perHour")),
        keySlot(counterKey("both", "id", "u1", "perDay")),
      );
      const ttl = await admin.pttl(counterKey("both", "id", "u1", "perDay"));
      assert.ok(ttl > 3_600_000 && ttl <= 86_400_000);
    });

    it("a cost that fits one limit but not the other counts nowhere", async () => {
      const limits = createRateLimits(cache, {
        name: "cost",
        limits: [
          { name: "small", limit: 10, window: 60 },
          { name: "big", limit: 100, window: 60 },
        ],
      });
      assert.equal((await limits.limit("c", { cost: 8 })).allowed, true);
      const rejected = await limits.limit("c", { cost: 5 });
      assert.equal(rejected.allowed, false);
      assert.equal(await counter(admin, "cost", "id", "c", "small"), 8);
      assert.equal(await counter(admin, "cost", "id", "c", "big"), 8);
      assert.equal((await limits.limit("c", { cost: 2 })).allowed, true);
      assert.equal(await counter(admin, "cost", "id", "c", "big"), 10);
    });

    it("300 concurrent checks of one identifier never exceed either limit", async () => {
      const limits = createRateLimits(cache, {
        name: "burst",
        limits: [
          { name: "a", limit: 40, window: 3600 },
          { name: "b", limit: 70, window: 3600 },
        ],
      });
      const results = await Promise.all(Array.from({ length: 300 }, () => limits.limit("b1")));
      assert.equal(results.filter((r) => r.allowed).length, 40);
      assert.equal(await counter(admin, "burst", "id", "b1", "a"), 40);
      assert.equal(await counter(admin, "burst", "id", "b1", "b"), 40);
      assert.ok(results.every((r) => !r.degraded));
    });

    it("per user and per IP: 240 concurrent checks keep every counter equal to what was allowed", async () => {
      const limits = createRateLimits(cache, {
        name: "userip",
        limits: [
          { name: "user", by: "user", limit: 30, window: 3600 },
          { name: "ip", by: "ip", limit: 70, window: 3600 },
        ],
      });
      const users = ["alice", "bob", "carol", "dave"];
      const results = await Promise.all(
        Array.from({ length: 240 }, (_, i) =>
          limits.limit({ user: users[i % 4] as string, ip: "198.51.100.7" }).then((r) => ({ r, i })),
        ),
      );
      const allowed = results.filter(({ r }) => r.allowed);
      assert.ok(allowed.length <= 70, `${allowed.length} allowed`);
      assert.ok(allowed.length >= 60, `${allowed.length} allowed`);
      assert.equal(await counter(admin, "userip", "ip", "198.51.100.7", "ip"), allowed.length);
      for (const [u, user] of users.entries()) {
        const ofUser = allowed.filter(({ i }) => i % 4 === u).length;
        assert.ok(ofUser <= 30);
        assert.equal(await counter(admin, "userip", "user", user, "user"), ofUser, user);
      }
    });

    it("a rejecting IP limit leaves the user's counter untouched (other identifier, other slot)", async () => {
      const limits = createRateLimits(cache, {
        name: "comp",
        limits: [
          { name: "user", by: "user", limit: 10, window: 3600 },
          { name: "ip", by: "ip", limit: 2, window: 3600 },
        ],
      });
      const ids = { user: "erin", ip: "203.0.113.9" };
      assert.notEqual(
        keySlot(counterKey("comp", "user", ids.user, "user")),
        keySlot(counterKey("comp", "ip", ids.ip, "ip")),
      );
      assert.equal((await limits.limit(ids)).allowed, true);
      assert.equal((await limits.limit(ids)).allowed, true);
      for (let i = 0; i < 3; i++) {
        const rejected = await limits.limit(ids);
        assert.equal(rejected.allowed, false);
        assert.equal(rejected.limiting.name, "ip");
        assert.equal(rejected.limits[0]?.count, 2);
        assert.equal(rejected.limits[0]?.admits, true);
      }
      assert.equal(await counter(admin, "comp", "user", "erin", "user"), 2);
      assert.equal(await counter(admin, "comp", "ip", "203.0.113.9", "ip"), 2);
      // Another user from another IP is not affected.
      assert.equal((await limits.limit({ user: "erin", ip: "203.0.113.10" })).allowed, true);
      assert.equal(await counter(admin, "comp", "user", "erin", "user"), 3);
    });

    it("refund gives points back, never below zero", async () => {
      const limits = createRateLimits(cache, {
        name: "refund",
        limits: [
          { name: "perMin", limit: 5, window: 60 },
          { name: "perDay", limit: 50, window: 86_400 },
        ],
      });
      await limits.limit("r", { cost: 3 });
      assert.deepStrictEqual(await limits.refund("r", 2), { perMin: 4, perDay: 49 });
      assert.equal(await counter(admin, "refund", "id", "r", "perMin"), 1);
      assert.deepStrictEqual(await limits.refund("r", 10), { perMin: 5, perDay: 50 });
      assert.equal(await counter(admin, "refund", "id", "r", "perMin"), 0);
      assert.equal(await counter(admin, "refund", "id", "r", "perDay"), 0);
      // Nothing counted yet for this identifier: no counter is created below zero.
      assert.deepStrictEqual(await limits.refund("nobody"), { perMin: 5, perDay: 50 });
      assert.equal(await admin.exists(counterKey("refund", "id", "nobody", "perMin")), 0);
      // Refunded points can be used again.
      const again = await limits.limit("r", { cost: 5 });
      assert.equal(again.allowed, true, names(again));
    });

    it("per-key dynamic limits and per-call overrides", async () => {
      const limits = createRateLimits(cache, {
        name: "dyn",
        limits: [
          { name: "plan", limit: (id) => (id.startsWith("pro:") ? 5 : 2), window: 3600 },
          { name: "cap", limit: 100, window: 3600 },
        ],
      });
      const run = async (id: string, n: number, options?: { limits: Record<string, number> }) => {
        const results = [];
        for (let i = 0; i < n; i++) results.push((await limits.limit(id, options)).allowed);
        return results.filter(Boolean).length;
      };
      assert.equal(await run("free:1", 4), 2);
      assert.equal(await run("pro:1", 8), 5);
      assert.equal((await limits.limit("pro:1")).limits[0]?.limit, 5);
      // An override for this call: 7 for pro:1 admits two more.
      assert.equal(await run("pro:1", 4, { limits: { plan: 7 } }), 2);
      assert.equal(await counter(admin, "dyn", "id", "pro:1", "plan"), 7);
    });

    it("reset forgets an identifier's counters", async () => {
      const limits = createRateLimits(cache, {
        name: "reset",
        limits: [{ name: "one", limit: 1, window: 60 }],
      });
      assert.equal((await limits.limit("x")).allowed, true);
      assert.equal((await limits.limit("x")).allowed, false);
      await limits.reset("x");
      assert.equal(await admin.exists(counterKey("reset", "id", "x", "one")), 0);
      assert.equal((await limits.limit("x")).allowed, true);
    });
  });
}

let server: RedisServer;
let cluster: RedisCluster;

redisSuite("redis standalone (service user, FCALL)", async () => {
  server = await startRedis({ acl: true, tls: false });
  const admin = server.client();
  await createServiceUser(admin, KEYSPACE, PASSWORD);
  const cache = createCache({
    secret: secretFor(server, KEYSPACE, PASSWORD),
    throwOnError: true,
    ...RELAXED,
  });
  return { cache, admin, fcalls: () => fcallsOf([server]), callsPerUserAndIp: 1 };
});

redisSuite("redis cluster (3 masters)", async () => {
  cluster = await startCluster({ masters: 3 });
  await createClusterServiceUser(cluster, KEYSPACE, PASSWORD);
  const cache = createCache({
    secret: clusterSecret(cluster, KEYSPACE, PASSWORD),
    throwOnError: true,
    ...RELAXED,
  });
  return {
    cache,
    admin: cluster.client(),
    fcalls: () => fcallsOf(cluster.masters),
    callsPerUserAndIp: 2,
  };
});

after(async () => {
  await closeAllRedisConnections();
  await Promise.allSettled([server?.stop(), cluster?.stop()]);
});

describe("the multiLimit server function", () => {
  let redis: RedisServer;
  let admin: Redis;
  before(async () => {
    redis = await startRedis({ acl: true, tls: false });
    admin = redis.client();
    await createServiceUser(admin, KEYSPACE, PASSWORD);
  });
  after(() => redis.stop());

  const fn = () => scriptLibrary().functionName(multiLimitScript);

  it("is in the platform library and runs for the service user (FCALL, no EVAL granted)", async () => {
    const service = redis.client({ username: "svc", password: PASSWORD });
    try {
      const reply = await service.fcall(fn(), 2, "orders:{f}:a", "orders:{f}:b", 1, 5, 60_000, 7, 60_000);
      assert.deepStrictEqual(reply, [1, 1, 60_000, 1, 60_000]);
      await assert.rejects(service.eval("return 1", 0), /NOPERM/);
    } finally {
      service.disconnect();
    }
  });

  it("checks every argument before the first write", async () => {
    await assert.rejects(
      admin.fcall(fn(), 2, "orders:{g}:a", "orders:{g}:b", 1, 5, 60_000, 7, "forever"),
      /multiLimit arguments/,
    );
    assert.equal(await admin.exists("orders:{g}:a"), 0);
    await assert.rejects(admin.fcall(fn(), 1, "orders:{g}:a", 1.5, 5, 60_000), /multiLimit arguments/);
    const keys = Array.from({ length: MAX_LIMITS_PER_CALL + 1 }, (_, i) => `orders:{g}:${i}`);
    const args = keys.flatMap(() => [5, 1000]);
    await assert.rejects(admin.fcall(fn(), keys.length, ...keys, 1, ...args), /multiLimit arguments/);
  });
});

describe("fail-open and fail-closed when Redis is unreachable (real server killed / paused)", () => {
  let redis: RedisServer;
  before(async () => {
    redis = await startRedis({ acl: true, tls: false });
    const admin = redis.client();
    await createServiceUser(admin, KEYSPACE, PASSWORD);
    await admin.call("ACL", "SAVE");
    admin.disconnect();
  });
  after(() => redis.stop());

  const spec = [
    { name: "perSec", limit: 10, window: 1 },
    { name: "perDay", limit: 1000, window: 86_400 },
  ];

  for (const fault of ["SIGSTOP", "SIGKILL"] as const) {
    it(`${fault}: the open limiter admits, the closed one rejects, both degraded; the breaker opens`, async () => {
      const cache = createCache({
        secret: secretFor(redis, KEYSPACE, PASSWORD),
        commandTimeoutMs: 300,
        connectTimeoutMs: 300,
        breaker: { threshold: 2 },
      });
      const open = createRateLimits(cache, { name: "fo", limits: spec, failOpen: true });
      const closed = createRateLimits(cache, { name: "fc", limits: spec, failOpen: false });
      try {
        assert.equal((await open.limit("u")).degraded, false);
        assert.equal((await closed.limit("u")).degraded, false);
        if (fault === "SIGSTOP") redis.pause();
        else await redis.kill();
        for (let i = 0; i < 4; i++) {
          const a = await open.limit("u");
          assert.equal(a.allowed, true);
          assert.equal(a.degraded, true);
          assert.equal(a.limits[1]?.remaining, 1000);
          const b = await closed.limit("u");
          assert.equal(b.allowed, false);
          assert.equal(b.degraded, true);
          assert.equal(b.retryAfter, 1);
          assert.equal(rateLimitHeaders(b)["Retry-After"], "1");
        }
        assert.equal(cache.breakerState, "open");
        assert.equal(await open.refund("u"), undefined);
      } finally {
        if (fault === "SIGSTOP") redis.resume();
        else await redis.restart();
        await cache.close();
      }
    });
  }

  it("with throwOnError the unavailable store is an error (CacheUnavailableError)", async () => {
    const cache = createCache({
      secret: secretFor({ host: "127.0.0.1", port: 1 }, KEYSPACE, PASSWORD),
      connectTimeoutMs: 100,
      breaker: false,
      throwOnError: true,
    });
    await assert.rejects(createRateLimits(cache, { limits: spec }).limit("u"), CacheUnavailableError);
    await cache.close();
  });
});

describe("rateLimits on the memory store (injected clock)", () => {
  it("fixed windows move with the clock; the day limit rejects once the second limit has room", async () => {
    let now = 1_700_000_000_000;
    const cache = createCache({ storage: "memory" });
    const limits = createRateLimits(cache, {
      limits: [
        { name: "perSec", limit: 2, window: 1 },
        { name: "perDay", limit: 3, window: 86_400 },
      ],
      now: () => now,
    });
    assert.equal((await limits.limit("m")).allowed, true);
    assert.equal((await limits.limit("m")).allowed, true);
    const third = await limits.limit("m");
    assert.equal(third.allowed, false);
    assert.equal(third.limiting.name, "perSec");
    assert.equal(third.retryAfter, 1);
    assert.equal(third.limits[1]?.count, 2);
    now += 1000;
    assert.equal((await limits.limit("m")).allowed, true);
    const fifth = await limits.limit("m");
    assert.equal(fifth.allowed, false);
    assert.equal(fifth.limiting.name, "perDay");
    assert.equal(fifth.retryAfter, 86_399);
    assert.equal(fifth.limits[0]?.count, 1);
    assert.equal(fifth.limits[0]?.admits, true);
  });

  it("headers: exact RateLimit-Policy, RateLimit and Retry-After strings", async () => {
    let now = 1_700_000_000_000;
    const cache = createCache({ storage: "memory" });
    const limits = createRateLimits(cache, {
      name: "api",
      limits: [
        { name: "perSec", limit: 10, window: 1 },
        { name: "perDay", limit: 1000, window: 86_400 },
      ],
      now: () => now,
    });
    for (let i = 0; i < 6; i++) await limits.limit("h");
    now += 400;
    const ok = await limits.limit("h");
    assert.deepStrictEqual(rateLimitHeaders(ok), {
      "RateLimit-Policy": `"perSec";q=10;w=1, "perDay";q=1000;w=86400`,
      RateLimit: `"perSec";r=3;t=1, "perDay";r=993;t=86400`,
    });
    const rejected = await limits.limit("h", { cost: 4 });
    assert.deepStrictEqual(rateLimitHeaders(rejected), {
      "RateLimit-Policy": `"perSec";q=10;w=1, "perDay";q=1000;w=86400`,
      RateLimit: `"perSec";r=3;t=1, "perDay";r=993;t=86400`,
      "Retry-After": "1",
    });
    // Lambda: a copy of the result with the headers merged into its own.
    const lambda = withRateLimitHeaders(
      { statusCode: 429, headers: { "content-type": "text/plain" } },
      rejected,
    );
    assert.deepStrictEqual(lambda, {
      statusCode: 429,
      headers: {
        "content-type": "text/plain",
        "RateLimit-Policy": `"perSec";q=10;w=1, "perDay";q=1000;w=86400`,
        RateLimit: `"perSec";r=3;t=1, "perDay";r=993;t=86400`,
        "Retry-After": "1",
      },
    });
  });

  it("headers on a real node:http response", async () => {
    const cache = createCache({ storage: "memory" });
    const limits = createRateLimits(cache, {
      limits: [{ name: "perMin", limit: 1, window: 60 }],
      now: () => 5_000_000,
    });
    const server = createServer(async (_req, res) => {
      const result = await limits.limit("node");
      setRateLimitHeaders(res, result);
      res.statusCode = result.allowed ? 200 : 429;
      res.end();
    });
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    const { port } = server.address() as AddressInfo;
    const get = () =>
      new Promise<{ status: number; headers: Record<string, unknown> }>((resolve, reject) => {
        request({ host: "127.0.0.1", port, path: "/" }, (res) => {
          res.resume();
          res.on("end", () => resolve({ status: res.statusCode ?? 0, headers: res.headers }));
        })
          .on("error", reject)
          .end();
      });
    try {
      const first = await get();
      assert.equal(first.status, 200);
      assert.equal(first.headers["ratelimit-policy"], `"perMin";q=1;w=60`);
      assert.equal(first.headers.ratelimit, `"perMin";r=0;t=60`);
      assert.equal(first.headers["retry-after"], undefined);
      const second = await get();
      assert.equal(second.status, 429);
      assert.equal(second.headers["retry-after"], "60");
    } finally {
      server.close();
    }
  });

  it("refunds never go below zero; dynamic limits per identifier", async () => {
    const cache = createCache({ storage: "memory" });
    const limits = createRateLimits(cache, {
      limits: [{ name: "plan", limit: (id) => (id === "vip" ? 3 : 1), window: 60 }],
    });
    assert.equal((await limits.limit("vip")).allowed, true);
    assert.deepStrictEqual(await limits.refund("vip", 5), { plan: 3 });
    for (let i = 0; i < 3; i++) assert.equal((await limits.limit("vip")).allowed, true);
    assert.equal((await limits.limit("vip")).allowed, false);
    assert.equal((await limits.limit("guest")).allowed, true);
    assert.equal((await limits.limit("guest")).allowed, false);
  });

  it("refuses bad configuration and input with typed errors", async () => {
    const cache = createCache({ storage: "memory" });
    const bad = (options: RateLimitsOptions) =>
      assert.throws(() => createRateLimits(cache, options), CacheConfigError);
    bad({ limits: [] });
    bad({ limits: [{ name: "a b", limit: 1, window: 1 }] });
    bad({ limits: [{ name: 'q"', limit: 1, window: 1 }] });
    bad({ limits: [{ name: "{tag}", limit: 1, window: 1 }] });
    bad({ limits: [{ name: "a", limit: 0, window: 1 }] });
    bad({ limits: [{ name: "a", limit: 1.5, window: 1 }] });
    bad({ limits: [{ name: "a", limit: 1, window: 0 }] });
    bad({
      limits: [
        { name: "a", limit: 1, window: 1 },
        { name: "a", limit: 2, window: 2 },
      ],
    });
    bad({ limits: Array.from({ length: 17 }, (_, i) => ({ name: `l${i}`, limit: 1, window: 1 })) });
    const two = createRateLimits(cache, {
      limits: [
        { name: "u", by: "user", limit: 1, window: 1 },
        { name: "i", by: "ip", limit: 1, window: 1 },
      ],
    });
    await assert.rejects(two.limit("just-one"), /pass \{ user, ip \}/);
    await assert.rejects(two.limit({ user: "a" }), /needs a non-empty "ip" identifier/);
    const one = createRateLimits(cache, { limits: [{ name: "a", limit: (id) => id.length - 3, window: 1 }] });
    await assert.rejects(one.limit("ab"), CacheConfigError);
    await assert.rejects(one.limit(""), CacheConfigError);
    await assert.rejects(one.limit("abcd", { cost: 0 }), CacheConfigError);
    const dynamo = new Service({
      store: new DynamoDbStore({ tableName: "t", client: async () => Promise.reject(new Error("unused")) }),
    });
    assert.throws(
      () => createRateLimits(dynamo, { limits: [{ name: "a", limit: 1, window: 1 }] }),
      CacheConfigError,
    );
  });
});
