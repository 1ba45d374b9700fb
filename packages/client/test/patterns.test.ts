import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { type RedisCluster, type RedisServer, startCluster, startRedis } from "@cacheplane/testkit";
import {
  type CacheService,
  closeAllRedisConnections,
  createCache,
  emfMetrics,
  type MemoryStore,
} from "../src/index.js";
import { createPubSub } from "../src/pubsub.js";
import {
  clusterSecret,
  createClusterServiceUser,
  createServiceUser,
  RELAXED,
  secretFor,
} from "./helpers/redis.js";

const PASSWORD = "Patterns-Pw-4455667788";

interface Events extends Record<string, unknown> {
  "order.created": { id: string; at: Date; total: bigint };
  "order.cancelled": { id: string };
}

function nextMessage<T>(): { promise: Promise<T>; resolve: (value: T) => void } {
  let resolve: (value: T) => void = () => undefined;
  const promise = new Promise<T>((r, reject) => {
    resolve = r;
    setTimeout(() => reject(new Error("no message received")), 5000).unref();
  });
  return { promise, resolve };
}

/**
 * `exactCounts`: PUBLISH returns the receivers on the node that got the message, so in cluster mode
 * the count can be 0 although the message reaches subscribers on other nodes.
 */
function pubsubSuite(
  name: string,
  make: () => Promise<{ publisher: CacheService; subscriber: CacheService }>,
  exactCounts = true,
) {
  describe(`pubsub on ${name}`, () => {
    let publisher: CacheService;
    let subscriber: CacheService;
    before(async () => {
      ({ publisher, subscriber } = await make());
    });
    after(async () => {
      await publisher.close();
      await subscriber.close();
    });

    it("delivers typed messages on keyspace-prefixed channels; unsubscribe stops delivery", async () => {
      const bus = createPubSub<Events>(subscriber);
      const out = createPubSub<Events>(publisher);
      const got = nextMessage<{ message: Events["order.created"]; channel: string }>();
      const created: Events["order.created"][] = [];
      const unsubscribe = await bus.subscribe("order.created", (message, channel) => {
        created.push(message);
        got.resolve({ message, channel });
      });
      const sent = { id: "o-1", at: new Date("2024-03-04T05:06:07Z"), total: 12345678901234567890n };
      const receivers = await out.publish("order.created", sent);
      if (exactCounts) assert.equal(receivers, 1);
      const { message, channel } = await got.promise;
      assert.equal(channel, "order.created");
      assert.deepStrictEqual(message, sent);
      assert.ok(message.at instanceof Date);

      // after unsubscribe, nothing more arrives: a sentinel on another channel proves delivery order
      await unsubscribe();
      const sentinel = nextMessage<Events["order.cancelled"]>();
      await bus.subscribe("order.cancelled", (m) => sentinel.resolve(m));
      const afterUnsubscribe = await out.publish("order.created", sent);
      if (exactCounts) assert.equal(afterUnsubscribe, 0);
      await out.publish("order.cancelled", { id: "o-2" });
      assert.deepStrictEqual(await sentinel.promise, { id: "o-2" });
      assert.equal(created.length, 1);
      await bus.close();
      await out.close();
    });

    it("the subscriber connection is dedicated: normal commands keep working", async () => {
      const bus = createPubSub<Events>(subscriber);
      await bus.subscribe("order.cancelled", () => undefined);
      await subscriber.set("while-subscribed", 1);
      assert.equal(await subscriber.get("while-subscribed"), 1);
      await bus.close();
    });
  });
}

let server: RedisServer;
let cluster: RedisCluster;

pubsubSuite("memory", async () => {
  const cache = createCache({ storage: "memory" });
  return { publisher: cache, subscriber: cache };
});

pubsubSuite("redis standalone", async () => {
  server = await startRedis({ acl: true, tls: false });
  const admin = server.client();
  await createServiceUser(admin, "orders", PASSWORD);
  const secret = secretFor(server, "orders", PASSWORD);
  return {
    publisher: createCache({ secret, ...RELAXED }),
    subscriber: createCache({ secret, ...RELAXED, commandTimeoutMs: 9_999 }),
  };
});

pubsubSuite(
  "redis cluster",
  async () => {
    cluster = await startCluster({ masters: 3 });
    await createClusterServiceUser(cluster, "orders", PASSWORD);
    const secret = clusterSecret(cluster, "orders", PASSWORD);
    return {
      publisher: createCache({ secret, ...RELAXED }),
      subscriber: createCache({ secret, ...RELAXED, commandTimeoutMs: 9_999 }),
    };
  },
  false,
);

after(async () => {
  await closeAllRedisConnections();
  await Promise.allSettled([server?.stop(), cluster?.stop()]);
});

describe("locks under contention", () => {
  it("of 50 concurrent acquirers exactly one wins; waiting acquirers get it after release", async () => {
    const cache = createCache({ storage: "memory" });
    const locks = await Promise.all(Array.from({ length: 50 }, () => cache.lock("contended", 10)));
    const winners = locks.filter((l) => l !== undefined);
    assert.equal(winners.length, 1);
    const waiter = cache.lock("contended", 10, { wait: 5, retryDelayMs: 10 });
    await winners[0]?.release();
    assert.ok(await waiter);
  });
});

describe("observability", () => {
  it("events: hit, miss, error hooks; listener errors never break a call", async () => {
    const cache = createCache({ storage: "memory" });
    const seen: string[] = [];
    const off = cache.on("hit", (e) => seen.push(`hit:${e.key}`));
    cache.on("miss", (e) => seen.push(`miss:${e.key}`));
    cache.on("miss", () => {
      throw new Error("bad listener");
    });
    await cache.get("a");
    await cache.set("a", 1);
    await cache.get("a");
    off();
    await cache.get("a");
    assert.deepStrictEqual(seen, ["miss:a", "hit:a"]);
  });

  it("getStats: counters, hit rate and p50/p99 latency from a bounded window", async () => {
    const cache = createCache({ storage: "memory" });
    for (let i = 0; i < 3000; i++) await cache.set(`k${i % 10}`, i);
    for (let i = 0; i < 10; i++) await cache.get(`k${i}`);
    for (let i = 0; i < 10; i++) await cache.get(`none${i}`);
    await cache.getOrSet("loaded", async () => 1);
    const stats = cache.getStats();
    assert.equal(stats.sets, 3001);
    assert.equal(stats.hits, 10);
    assert.equal(stats.misses, 11);
    assert.equal(stats.loads, 1);
    assert.equal(stats.hitRate, 10 / 21);
    // getOrSet on the memory store: get + set (no cross-process lock for an in-process store)
    assert.equal(stats.latency.count, 3000 + 20 + 1 + 1);
    assert.ok(
      stats.latency.p50 >= 0 &&
        stats.latency.p50 <= stats.latency.p99 &&
        stats.latency.p99 <= stats.latency.max,
    );
    assert.equal(stats.breaker, "closed");
    assert.equal(stats.storage, "memory");
  });

  it("EMF: one JSON line per flush with deltas, CloudWatch metadata and dimensions", async () => {
    const cache = createCache({ storage: "memory" });
    const lines: string[] = [];
    const metrics = emfMetrics(cache, {
      namespace: "Test",
      dimensions: { Service: "orders" },
      write: (line) => lines.push(line),
      now: () => 1_700_000_000_000,
    });
    await cache.set("a", 1);
    await cache.get("a");
    await cache.get("b");
    metrics.flush();
    await cache.get("a");
    metrics.flush();
    assert.equal(metrics.flush(), undefined, "nothing new: nothing written");
    assert.equal(lines.length, 2);
    for (const line of lines) {
      assert.ok(line.endsWith("\n"));
      assert.equal(line.trim().split("\n").length, 1);
    }
    const first = JSON.parse(lines[0] ?? "");
    assert.equal(first._aws.Timestamp, 1_700_000_000_000);
    const directive = first._aws.CloudWatchMetrics[0];
    assert.equal(directive.Namespace, "Test");
    assert.deepStrictEqual(directive.Dimensions, [["Service"]]);
    const names = directive.Metrics.map((m: { Name: string }) => m.Name);
    for (const name of ["CacheHits", "CacheMisses", "CacheErrors", "CacheLatencyP50", "CacheLatencyP99"]) {
      assert.ok(names.includes(name), name);
      assert.equal(typeof first[name], "number");
    }
    assert.equal(first.Service, "orders");
    assert.equal(first.CacheHits, 1);
    assert.equal(first.CacheMisses, 1);
    const second = JSON.parse(lines[1] ?? "");
    assert.equal(second.CacheHits, 1);
    assert.equal(second.CacheMisses, 0);
  });

  it("health on memory: ok with ping/write/read/delete checks", async () => {
    const cache = createCache({ storage: "memory" });
    const report = await cache.health();
    assert.equal(report.status, "ok");
    assert.deepStrictEqual(
      report.checks.map((c) => c.name),
      ["memory:ping", "memory:write", "memory:read", "memory:delete", "breaker"],
    );
    assert.equal(typeof report.latencyMs, "number");
    assert.equal((cache.store as MemoryStore).size, 0, "the probe key was removed");
  });
});
