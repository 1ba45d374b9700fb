/**
 * O(1) clearing and tags on a real redis-server, as the platform will run them: the service user is
 * denied every command that walks or lists the keyspace (SCAN, KEYS, DBSIZE, RANDOMKEY, INFO...), and
 * the client never needs them. Also the cost of a read: one generation read per event-loop turn,
 * shared by all reads of the turn and sent with the turn's first value read in one MGET (standalone;
 * a GET of its own on a cluster), one GET per other read, and one MGET more only for a tagged entry's
 * hit.
 */
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { type RedisCluster, type RedisServer, startCluster, startRedis } from "@cacheplane/testkit";
import type { Redis } from "ioredis";
import { type CacheService, closeAllRedisConnections, createCache, MemoryStore } from "../src/index.js";
import { createRateLimiter } from "../src/patterns/rate-limits/index.js";
import { createSessionStore } from "../src/sessions.js";
import {
  clusterSecret,
  loadScriptLibrary,
  RELAXED,
  SERVICE_USER,
  secretFor,
  serviceUserRules,
} from "./helpers/redis.js";

const PASSWORD = "Generations-Pw-7788990011";
/** What the enumeration-proof presets take away (issue 8, item 2), applied on top of read-write. */
const NO_ENUMERATION = [
  "-scan",
  "-keys",
  "-dbsize",
  "-randomkey",
  "-info",
  "-select",
  "-pubsub",
  "-client|tracking",
  "-client|caching",
  "-client|getredir",
  "-client|trackinginfo",
  "-client|list",
  "-client|kill",
  "-cluster|getkeysinslot",
  "-cluster|countkeysinslot",
  "-eval",
  "-evalsha",
  "-eval_ro",
  "-evalsha_ro",
  "-script",
];

let server: RedisServer;
let admin: Redis;
let cache: CacheService;

async function calls(command: string): Promise<number> {
  const info = (await admin.info("commandstats")) as string;
  const match = new RegExp(`^cmdstat_${command}:calls=(\\d+)`, "m").exec(info);
  return match ? Number(match[1]) : 0;
}

before(async () => {
  server = await startRedis({ acl: true, tls: false });
  admin = server.client();
  await admin.call(
    "ACL",
    "SETUSER",
    SERVICE_USER,
    ...serviceUserRules("orders", PASSWORD),
    ...NO_ENUMERATION,
  );
  await loadScriptLibrary(admin);
  cache = createCache({ secret: secretFor(server, "orders", PASSWORD), ...RELAXED });
  await admin.call("ACL", "LOG", "RESET");
});

after(async () => {
  await cache?.close();
  await closeAllRedisConnections();
  admin?.disconnect();
  await server?.stop();
});

describe("a service user that may not enumerate keys", () => {
  it("uses every client feature without one denied command", async () => {
    await assert.rejects(
      (async () => {
        const { Redis: R } = await import("ioredis");
        const direct = new R({
          host: server.host,
          port: server.port,
          username: SERVICE_USER,
          password: PASSWORD,
        });
        try {
          await direct.scan("0");
        } finally {
          direct.disconnect();
        }
      })(),
      /NOPERM/,
      "the user really is denied SCAN",
    );
    await admin.call("ACL", "LOG", "RESET");

    await cache.setMany(Array.from({ length: 50 }, (_, i) => ({ key: `k${i}`, value: i, tags: ["all"] })));
    assert.equal(await cache.get("k1"), 1);
    assert.equal(await cache.clear(), true);
    assert.equal(await cache.get("k1"), undefined);
    await cache.set("t", 1, { tags: ["x"] });
    assert.equal(await cache.invalidateTags(["x"]), true);
    assert.equal(await cache.get("t"), undefined);
    assert.equal(await cache.getOrSet("g", async () => "v"), "v");
    assert.deepStrictEqual(await cache.getMany(["g", "nope"]), ["v", undefined]);
    assert.equal(await cache.deleteMany(["g"]), 1);
    const lock = await cache.lock("job", 10);
    assert.ok(lock && lock.fence > 0);
    await lock.release();
    const sessions = createSessionStore<{ n: number }>(cache, { ttl: 60 });
    const { id } = await sessions.create({ n: 1 });
    assert.equal(await sessions.update(id, (s) => ({ n: s.n + 1 })), true);
    assert.equal(await sessions.revoke(id), true);
    const limiter = createRateLimiter(cache, { algorithm: "sliding-window-counter", limit: 5, window: 10 });
    assert.equal((await limiter.limit("ip")).allowed, true);
    const health = await cache.health();
    assert.equal(health.status, "ok", JSON.stringify(health.checks));
    const log = (await admin.call("ACL", "LOG")) as unknown[];
    assert.deepStrictEqual(log, [], "no command was denied");
    assert.equal(await calls("scan"), 0);
    assert.equal(await calls("keys"), 0);
  });
});

describe("the cost of a read", () => {
  it("50 concurrent gets: one MGET (the generation with the first value) and 49 GETs", async () => {
    await cache.set("hot", { a: 1 });
    await cache.get("hot");
    await admin.config("RESETSTAT");
    const values = await Promise.all(Array.from({ length: 50 }, () => cache.get("hot")));
    assert.ok(values.every((v) => (v as { a: number }).a === 1));
    assert.equal(await calls("get"), 49);
    assert.equal(await calls("mget"), 1);
  });

  it("a lone get or getOrSet hit is one command: the generation and the value in one MGET", async () => {
    await cache.set("lone", { a: 1 });
    await admin.config("RESETSTAT");
    assert.deepEqual(await cache.get("lone"), { a: 1 });
    assert.deepEqual(await cache.getOrSet("lone", () => ({ a: 2 })), { a: 1 });
    assert.equal(await calls("mget"), 2);
    assert.equal(await calls("get"), 0);
  });

  it("a read after a write of the same key in the same turn sees the write (the paired value is used once)", async () => {
    await cache.set("rw", 1);
    await cache.get("rw"); // the generation is fresh: the set below is one SET
    const [before, written, after] = await Promise.all([
      cache.get("rw"),
      cache.set("rw", 2),
      cache.get("rw"),
    ]);
    assert.equal(before, 1);
    assert.equal(written, true);
    assert.equal(after, 2, "the second read is a GET sent after the SET");
  });

  it("a set right after a read: one SET, no GET", async () => {
    await cache.get("hot");
    await admin.config("RESETSTAT");
    assert.equal(await cache.set("w", 1), true);
    assert.equal(await calls("set"), 1);
    assert.equal(await calls("get"), 0);
  });

  it("a hit on a tagged entry costs one MGET more; untagged entries pay nothing", async () => {
    await cache.set("tagged", 1, { tags: ["a", "b"] });
    await cache.set("untagged", 1);
    await admin.config("RESETSTAT");
    assert.equal(await cache.get("untagged"), 1);
    assert.equal(await calls("mget"), 1);
    assert.equal(await calls("get"), 0);
    await admin.config("RESETSTAT");
    assert.equal(await cache.get("tagged"), 1);
    assert.equal(await calls("mget"), 2);
    assert.equal(await calls("get"), 0);
  });

  it("entries stay text in Redis, stamped with the generation; entries of older releases are read until the first stamped write", async () => {
    const fresh = createCache({
      secret: secretFor(server, "orders", PASSWORD),
      keyspace: "orders",
      ...RELAXED,
    });
    await admin.del("orders:__cp:gen");
    await admin.set("orders:legacy", '{"a":0}'); // written by a release before generations
    assert.deepStrictEqual(await fresh.get("legacy"), { a: 0 });
    await fresh.set("stamped", { a: 1 });
    const gen = await admin.get("orders:__cp:gen");
    assert.match(gen ?? "", /^[A-Za-z0-9_-]{16}$/, "the first write created the generation");
    assert.equal(await admin.ttl("orders:__cp:gen"), -1, "the generation key does not expire");
    assert.equal(await admin.get("orders:stamped"), `\x01${gen}\x01{"a":1}`);
    assert.equal(await fresh.get("legacy"), undefined, "unstamped entries end with the first generation");
    await fresh.close();
  });

  it("a memory fallback also honours clear() and tags", async () => {
    const fallback = new MemoryStore({ keyspace: "orders" });
    const viaFallback = new (cache.constructor as typeof CacheService)({ store: fallback });
    await viaFallback.set("a", 1, { tags: ["t"] });
    await viaFallback.set("b", 2);
    await viaFallback.invalidateTags(["t"]);
    assert.equal(await viaFallback.get("a"), undefined);
    assert.equal(await viaFallback.get("b"), 2);
    await viaFallback.clear();
    assert.equal(await viaFallback.get("b"), undefined);
  });
});

describe("a cluster service user that may not enumerate keys", () => {
  let cluster: RedisCluster;
  before(async () => {
    cluster = await startCluster({ masters: 3 });
    for (const node of cluster.nodes) {
      const nodeAdmin = node.client();
      try {
        await nodeAdmin.call(
          "ACL",
          "SETUSER",
          SERVICE_USER,
          ...serviceUserRules("orders", PASSWORD),
          ...NO_ENUMERATION,
        );
        await loadScriptLibrary(nodeAdmin);
        await nodeAdmin.call("ACL", "LOG", "RESET");
      } finally {
        nodeAdmin.disconnect();
      }
    }
  });
  after(async () => {
    await closeAllRedisConnections();
    await cluster?.stop();
  });

  it("a get reads the generation with a GET of its own (its key lives in another slot): no MGET, no CROSSSLOT", async () => {
    const c = createCache({ secret: clusterSecret(cluster, "orders", PASSWORD), ...RELAXED });
    await c.set("pair", { a: 1 });
    const counts = async (command: string) => {
      let n = 0;
      for (const node of cluster.masters) {
        const nodeAdmin = node.client();
        try {
          const info = (await nodeAdmin.info("commandstats")) as string;
          n += Number(new RegExp(`^cmdstat_${command}:calls=(\\d+)`, "m").exec(info)?.[1] ?? 0);
        } finally {
          nodeAdmin.disconnect();
        }
      }
      return n;
    };
    const [gets, mgets] = [await counts("get"), await counts("mget")];
    assert.deepStrictEqual(await c.get("pair"), { a: 1 });
    assert.equal((await counts("get")) - gets, 2);
    assert.equal((await counts("mget")) - mgets, 0);
    await c.close();
  });

  it("clear, tags, locks, sessions, health and multi-key calls work on every node without a denied command", async () => {
    const c = createCache({ secret: clusterSecret(cluster, "orders", PASSWORD), ...RELAXED });
    const keys = Array.from({ length: 60 }, (_, i) => `k${i}`);
    await c.setMany(keys.map((key, i) => ({ key, value: i, tags: [`t${i % 3}`] })));
    assert.deepStrictEqual(await c.getMany(["k0", "k1"]), [0, 1]);
    assert.equal(await c.invalidateTags(["t0", "t1"]), true);
    assert.deepStrictEqual(await c.getMany(["k0", "k1", "k2"]), [undefined, undefined, 2]);
    assert.equal(await c.clear(), true);
    assert.equal(await c.get("k2"), undefined);
    const lock = await c.lock("job", 10);
    assert.ok(lock && lock.fence > 0);
    await lock.release();
    const sessions = createSessionStore<{ n: number }>(c, { ttl: 60 });
    const { id } = await sessions.create({ n: 1 });
    assert.equal(await sessions.update(id, (v) => ({ n: v.n + 1 })), true);
    assert.equal((await c.health()).status, "ok");
    assert.equal(await c.deleteMany(keys), 0, "all cleared already");
    for (const node of cluster.nodes) {
      const nodeAdmin = node.client();
      try {
        assert.deepStrictEqual(await nodeAdmin.call("ACL", "LOG"), [], `denials on ${node.port}`);
      } finally {
        nodeAdmin.disconnect();
      }
    }
    await c.close();
  });
});
