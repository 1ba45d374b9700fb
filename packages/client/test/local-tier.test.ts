/**
 * The local tier on real redis-servers (standalone and a 3-master cluster). Two CacheServices with
 * their own local tier and bus subscriber stand for two processes; a third cache without the tier
 * writes behind their backs (it publishes nothing), so a test can tell a local hit from a shared
 * read by the value it gets.
 */
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { type RedisCluster, type RedisServer, startCluster, startRedis } from "@cacheplane/testkit";
import { Redis } from "ioredis";
import {
  CacheConfigError,
  type CacheService,
  type CreateCacheOptions,
  closeAllRedisConnections,
  createCache,
  type LocalTierOptions,
} from "../src/index.js";
import { BUS_CHANNEL } from "../src/internal-keys.js";
import { localTier } from "../src/local.js";
import { LOCAL_MISS, type LocalTier } from "../src/local-tier/local-tier.js";
import {
  clusterSecret,
  createClusterServiceUser,
  createServiceUser,
  RELAXED,
  SERVICE_USER,
  secretFor,
} from "./helpers/redis.js";

const PASSWORD = "Local-Tier-Pw-1122334455";
const KEYSPACE = "lt";

/** Polls until `check` is true (a state the code reaches asynchronously); fails after a generous deadline. */
async function waitFor(
  check: () => boolean | Promise<boolean>,
  what: string,
  timeoutMs = 8000,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (await check()) return;
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
  assert.fail(`timed out waiting for: ${what}`);
}

/** The cache's local tier with its internals (bus, sender id, epoch). */
function tierOf(cache: CacheService): LocalTier {
  assert.ok(cache.localTier, "the cache has a local tier");
  return cache.localTier as LocalTier;
}

function localStats(cache: CacheService) {
  const local = cache.getStats().local;
  assert.ok(local, "the cache has a local tier");
  return local;
}

interface Env {
  /** A cache with the local tier. */
  make(local?: LocalTierOptions, extra?: Partial<CreateCacheOptions>): CacheService;
  /** A cache without it (writes publish nothing). */
  plain(): CacheService;
  /** Admin connections, one per node. */
  admins(): Redis[];
  /** A raw subscriber (admin) on the bus channel. */
  subscribe(channel: string): Promise<{ messages: string[]; close(): void }>;
}

function suite(topology: "standalone" | "cluster", env: () => Env) {
  const caches: CacheService[] = [];
  const track = (c: CacheService) => {
    caches.push(c);
    return c;
  };
  const local = (options?: LocalTierOptions, extra?: Partial<CreateCacheOptions>) =>
    track(env().make(options, extra));
  const plain = () => track(env().plain());

  after(async () => {
    await Promise.allSettled(caches.map((c) => c.close()));
  });

  it(`${topology}: a write in A invalidates B's local copy (set, delete, getOrSet load, clear, tags)`, async () => {
    const a = local();
    const b = local();
    await Promise.all([a.connect(), b.connect()]);
    const key = `${topology}:inv`;
    const heard = localStats(b).invalidations;
    await a.set(key, 1);
    // A read racing with the invalidation of a write is not kept: wait until B heard it.
    await waitFor(() => localStats(b).invalidations > heard, "B hears A's first set");
    assert.equal(await b.get(key), 1); // read from Redis, kept locally
    const hits = localStats(b).hits;
    assert.equal(await b.get(key), 1);
    assert.equal(localStats(b).hits, hits + 1, "the second read is a local hit");

    const steps: [string, () => Promise<unknown>, unknown][] = [
      ["set", () => a.set(key, 2), 2],
      ["delete", () => a.delete(key), undefined],
      // The shared entry expires first (B still holds it locally); A's load then replaces it.
      [
        "getOrSet load",
        async () => {
          await waitFor(async () => (await a.get(key, { local: false })) === undefined, "the entry expires");
          return a.getOrSet(key, () => 3);
        },
        3,
      ],
      ["setMany", () => a.setMany([{ key, value: 4 }]), 4],
      ["deleteMany", () => a.deleteMany([key]), undefined],
    ];
    for (const [what, write, expected] of steps) {
      // B holds the key's current value locally...
      const base = localStats(b).invalidations;
      await a.set(key, "base", what === "getOrSet load" ? { ttl: 0.3 } : {});
      await waitFor(() => localStats(b).invalidations > base, `B hears A's set before the ${what}`);
      assert.equal(await b.get(key), "base");
      assert.equal(tierOf(b).get(key), "base", `B holds the value locally before A's ${what}`);
      // ...until A's write reaches it.
      const before = localStats(b).invalidations;
      await write();
      await waitFor(() => localStats(b).invalidations > before, `B hears A's ${what}`);
      assert.deepStrictEqual(await b.get(key), expected, `B reads the value after A's ${what}`);
    }

    // clear() drops the whole local tier everywhere. (Reads racing with an invalidation are not
    // kept, so B reads once it heard A's writes.)
    let before = localStats(b).invalidations;
    await a.set(key, 5);
    await a.set(`${key}:2`, 6);
    await waitFor(() => localStats(b).invalidations >= before + 2, "B hears A's two sets");
    assert.equal(await b.get(key), 5);
    assert.equal(await b.get(`${key}:2`), 6);
    assert.equal(localStats(b).entries, 2);
    before = localStats(b).invalidations;
    await a.clear();
    await waitFor(() => localStats(b).invalidations > before, "B hears A's clear");
    assert.equal(localStats(b).entries, 0, "clear() dropped every local entry of B");
    assert.equal(await b.get(key), undefined);

    // A tag invalidation drops the tagged entries (and only those).
    before = localStats(b).invalidations;
    await a.set(key, 7, { tags: ["t1"] });
    await a.set(`${key}:2`, 8);
    await waitFor(() => localStats(b).invalidations >= before + 2, "B hears A's two sets");
    assert.equal(await b.get(key), 7);
    assert.equal(await b.get(`${key}:2`), 8);
    assert.equal(localStats(b).entries, 2);
    before = localStats(b).invalidations;
    await a.invalidateTags(["t1"]);
    await waitFor(() => localStats(b).invalidations > before, "B hears A's tag invalidation");
    const hitsBefore = localStats(b).hits;
    assert.equal(await b.get(`${key}:2`), 8);
    assert.equal(localStats(b).hits, hitsBefore + 1, "the untagged entry is still local");
    assert.equal(await b.get(key), undefined, "the tagged entry is gone");
  });

  it(`${topology}: after B's subscriber connection is killed, B stops serving its local copies`, async () => {
    const b = local();
    const c = plain();
    await b.connect();
    const key = `${topology}:kill`;
    await c.set(key, "old");
    assert.equal(await b.get(key), "old");
    assert.equal(await b.get(key), "old");
    await c.set(key, "new"); // no invalidation: C has no local tier
    assert.equal(await b.get(key), "old", "still served locally (nothing told B)");
    const epoch = tierOf(b).bus.epoch;
    for (const admin of env().admins()) await admin.call("CLIENT", "KILL", "TYPE", "pubsub");
    await waitFor(() => tierOf(b).bus.epoch !== epoch, "B notices its subscriber connection closed");
    assert.equal(await b.get(key), "new", "the local copy was dropped with the connection");
    await waitFor(() => localStats(b).connected, "B subscribes again");
    await b.get(key);
    const hits = localStats(b).hits;
    assert.equal(await b.get(key), "new");
    assert.equal(localStats(b).hits, hits + 1, "local hits resume once subscribed again");
  });

  it(`${topology}: values never go on the bus, only key and tag names`, async () => {
    const a = local();
    await a.connect();
    const raw = await env().subscribe(`${KEYSPACE}:${BUS_CHANNEL}`);
    try {
      const marker = "VALUE-MARKER-do-not-publish";
      const key = `${topology}:bus-key`;
      await a.set(key, { marker });
      await a.getOrSet(`${key}:loaded`, () => ({ marker }));
      await a.setMany([{ key: `${key}:many`, value: marker }]);
      await a.set(`${key}:tagged`, marker, { tags: ["tag-x"] });
      await a.expire(key, 30);
      await a.delete(key);
      await a.deleteMany([`${key}:many`]);
      await a.invalidateTags(["tag-x"]);
      await a.clear();
      await waitFor(() => raw.messages.length >= 9, "the raw subscriber got the invalidations");
      const all = raw.messages.join("\n");
      assert.ok(!all.includes(marker), `a value went on the bus: ${all}`);
      assert.ok(all.includes(key) && all.includes(`${key}:loaded`) && all.includes("tag-x"), all);
    } finally {
      raw.close();
    }
  });
}

describe("local tier, standalone", () => {
  let server: RedisServer;
  let admin: Redis;
  const payload = () => secretFor(server, KEYSPACE, PASSWORD);
  const caches: CacheService[] = [];
  const make = (local: LocalTierOptions = {}, extra: Partial<CreateCacheOptions> = {}) => {
    const cache = createCache({ secret: payload(), ...RELAXED, local: localTier(local), ...extra });
    caches.push(cache);
    return cache;
  };

  before(async () => {
    server = await startRedis({ acl: true, tls: false });
    admin = server.client();
    await createServiceUser(admin, KEYSPACE, PASSWORD);
  });
  after(async () => {
    await Promise.allSettled(caches.map((c) => c.close()));
    await closeAllRedisConnections();
    admin?.disconnect();
    await server?.stop();
  });

  suite("standalone", () => ({
    make: (local, extra) => createCache({ secret: payload(), ...RELAXED, local: localTier(local), ...extra }),
    plain: () => createCache({ secret: payload(), ...RELAXED }),
    admins: () => [admin],
    async subscribe(channel) {
      const sub = server.client();
      const messages: string[] = [];
      sub.on("message", (_channel: string, message: string) => messages.push(message));
      await sub.subscribe(channel);
      return { messages, close: () => sub.disconnect() };
    },
  }));

  it("B never serves a local copy older than the local ttl (injected clock)", async () => {
    let now = 1_000_000;
    const b = make({ ttl: 2, maxSilence: 3600, heartbeat: 3600, now: () => now });
    const c = make(undefined, { local: false });
    await b.connect();
    await c.set("ttl", "v1");
    assert.equal(await b.get("ttl"), "v1");
    await c.set("ttl", "v2"); // behind B's back
    now += 1999;
    assert.equal(await b.get("ttl"), "v1", "younger than the local ttl: served locally");
    now += 1;
    assert.equal(await b.get("ttl"), "v2", "as old as the local ttl: read from Redis");
  });

  it("the local ttl is lowered to the entry's ttl (getOrSet ttl)", async () => {
    let now = 1_000_000;
    const b = make({ ttl: 60, maxSilence: 3600, heartbeat: 3600, now: () => now });
    const c = make(undefined, { local: false });
    await b.connect();
    assert.equal(await b.getOrSet("short", () => "v1", { ttl: 1 }), "v1");
    await c.set("short", "v2", { ttl: 60 });
    now += 999;
    assert.equal(await b.getOrSet("short", () => "loader"), "v1");
    now += 1;
    assert.equal(await b.getOrSet("short", () => "loader"), "v2");
  });

  it("a silent bus (no PING reply within maxSilence, as after a Lambda freeze) stops local hits until it answers", async () => {
    let now = 1_000_000;
    const b = make({ ttl: 3600, heartbeat: 60, maxSilence: 60, now: () => now });
    const c = make(undefined, { local: false });
    await b.connect();
    await c.set("frozen", "v1");
    assert.equal(await b.get("frozen"), "v1");
    assert.equal(await b.get("frozen"), "v1");
    await c.set("frozen", "v2");
    now += 60_000; // a minute without a sign of life from the bus
    assert.equal(await b.get("frozen"), "v2", "not served from memory: the bus was silent too long");
    // That call asked the bus for a sign of life; once it answers, local hits resume.
    await waitFor(() => tierOf(b).bus.lastHeard === now, "the bus answers the PING");
    assert.equal(await b.get("frozen"), "v2");
    const hits = localStats(b).hits;
    assert.equal(await b.get("frozen"), "v2");
    assert.equal(localStats(b).hits, hits + 1);
  });

  it("a paused server (PING unanswered) stops local hits; they resume on the same connection once it answers", async () => {
    const paused = await startRedis({ acl: true, tls: false });
    const pausedAdmin = paused.client();
    let b: CacheService | undefined;
    try {
      await createServiceUser(pausedAdmin, KEYSPACE, PASSWORD);
      let now = 1_000_000;
      b = make(
        { ttl: 3600, heartbeat: 60, maxSilence: 60, now: () => now },
        {
          secret: secretFor(paused, KEYSPACE, PASSWORD),
        },
      );
      await b.connect();
      await b.set("p", 1);
      assert.equal(await b.get("p"), 1);
      const tier = tierOf(b);
      assert.equal(tier.get("p"), 1);
      const epoch = tier.bus.epoch;
      paused.pause(); // SIGSTOP: the connection stays open, nothing answers
      now += 60_000;
      assert.equal(tier.get("p"), LOCAL_MISS, "silent for maxSilence: not served");
      await new Promise((resolve) => setTimeout(resolve, 100));
      assert.equal(tier.get("p"), LOCAL_MISS, "the PING it sent is not answered while paused");
      paused.resume();
      await waitFor(() => tier.bus.lastHeard === now, "the PING is answered after the resume");
      assert.equal(tier.bus.epoch, epoch, "same subscription: nothing was lost");
      assert.equal(tier.get("p"), 1, "served again");
    } finally {
      paused.resume();
      pausedAdmin.disconnect();
      await b?.close();
      await paused.stop();
    }
  });

  it("a process ignores its own messages and obeys everyone else's", async () => {
    const a = make();
    await a.connect();
    const sender = tierOf(a).bus.sender as string;
    assert.equal(sender.length, 16);
    await a.set("own", "v");
    assert.equal(await a.get("own"), "v");
    const channel = `${KEYSPACE}:${BUS_CHANNEL}`;
    const before = localStats(a).invalidations;
    await admin.publish(channel, `${sender}kown`); // looks like A's own
    await admin.publish(channel, `${"f".repeat(16)}kother`); // someone else's, about another key
    await waitFor(() => localStats(a).invalidations > before, "A got the second message");
    const hits = localStats(a).hits;
    assert.equal(await a.get("own"), "v");
    assert.equal(localStats(a).hits, hits + 1, "its own message did not drop the entry");
    const next = localStats(a).invalidations;
    await admin.publish(channel, `${"f".repeat(16)}kown`);
    await waitFor(() => localStats(a).invalidations > next, "A got another process's message");
    assert.equal(tierOf(a).get("own"), LOCAL_MISS, "another process's message dropped it");
  });

  it("a value read before an invalidation arrived is not kept (racing read)", async () => {
    const a = make();
    await a.connect();
    const tier = tierOf(a);
    const ticket = tier.ticket();
    const before = localStats(a).invalidations;
    await admin.publish(`${KEYSPACE}:${BUS_CHANNEL}`, `${"e".repeat(16)}krace`);
    await waitFor(() => localStats(a).invalidations > before, "A got the invalidation");
    tier.fill("race", "old", ticket);
    assert.equal(tier.get("race"), LOCAL_MISS, "the old value was refused");
    tier.fill("race", "new", tier.ticket());
    assert.equal(tier.get("race"), "new");
  });

  it("is bounded: maxEntries evicts the least recently used", async () => {
    const a = make({ maxEntries: 2 });
    await a.connect();
    await a.setMany([
      { key: "e1", value: 1 },
      { key: "e2", value: 2 },
      { key: "e3", value: 3 },
    ]);
    for (const key of ["e1", "e2", "e3"]) await a.get(key);
    assert.equal(localStats(a).entries, 2);
    assert.equal(tierOf(a).get("e1"), LOCAL_MISS, "e1 was evicted");
    assert.equal(tierOf(a).get("e3"), 3);
  });

  it("is bounded by bytes with maxBytes", async () => {
    const a = make({ maxEntries: 100, maxBytes: 300 });
    await a.connect();
    for (let i = 0; i < 5; i++) await a.set(`b${i}`, "x".repeat(100));
    for (let i = 0; i < 5; i++) await a.get(`b${i}`);
    assert.ok(localStats(a).entries <= 2, `entries: ${localStats(a).entries}`);
    assert.equal(tierOf(a).get("b4"), "x".repeat(100));
  });

  it("per call: local: false skips the tier; byDefault: false uses it only with local: true", async () => {
    const a = make();
    const c = make(undefined, { local: false });
    await a.connect();
    await c.set("opt", "v1");
    assert.equal(await a.get("opt"), "v1");
    await c.set("opt", "v2");
    assert.equal(await a.get("opt"), "v1", "served locally");
    assert.equal(await a.get("opt", { local: false }), "v2", "local: false reads the shared store");
    assert.equal(await a.getOrSet("opt", () => "x", { local: false }), "v2");

    const optIn = make({ byDefault: false });
    await optIn.connect();
    await c.set("opt-in", "v1");
    await optIn.get("opt-in");
    await optIn.get("opt-in");
    assert.equal(localStats(optIn).hits + localStats(optIn).misses, 0, "not used without local: true");
    assert.equal(await optIn.getOrSet("opt-in", () => "x", { local: true }), "v1");
    await c.set("opt-in", "v2");
    assert.equal(await optIn.get("opt-in", { local: true }), "v1", "opted in: served locally");
    assert.equal(await optIn.get("opt-in"), "v2");
    assert.equal(localStats(optIn).hits, 1);
  });

  it("getOrSet with forceFresh skips the local copy and loads", async () => {
    const a = make();
    await a.connect();
    assert.equal(await a.getOrSet("forced", () => "v1", { ttl: 60 }), "v1");
    assert.equal(await a.getOrSet("forced", () => "unused", { ttl: 60 }), "v1", "a local hit");
    let loads = 0;
    const fresh = await a.getOrSet("forced", () => `v${++loads + 1}`, { ttl: 60, forceFresh: true });
    assert.equal(loads, 1, "the loader ran although a local copy existed");
    assert.equal(fresh, "v2");
    assert.equal(await a.get("forced"), "v2", "the fresh value replaced the local copy");
  });

  it("ACL: the service user may use its own bus channel, never another keyspace's", async () => {
    const user = new Redis({
      host: server.host,
      port: server.port,
      username: SERVICE_USER,
      password: PASSWORD,
    });
    try {
      await user.subscribe(`${KEYSPACE}:${BUS_CHANNEL}`);
      await user.unsubscribe();
      await assert.rejects(user.subscribe(`other:${BUS_CHANNEL}`), /NOPERM/);
      assert.equal(typeof (await user.publish(`${KEYSPACE}:${BUS_CHANNEL}`, `${"0".repeat(16)}h`)), "number");
      await assert.rejects(user.publish(`other:${BUS_CHANNEL}`, "x"), /NOPERM/);
    } finally {
      user.disconnect();
    }
  });

  it("ACL: a user who may not PUBLISH (read-only preset) gets a CacheConfigError when the tier starts", async () => {
    const { buildAccessString } = await import("@cacheplane/core");
    const rules = buildAccessString({ keyspace: "ro", access: "read-only" }).split(" ");
    await admin.call("ACL", "SETUSER", "reader", "reset", ...rules, `>${PASSWORD}`);
    const cache = make({}, { secret: { ...secretFor(server, "ro", PASSWORD), username: "reader" } });
    await assert.rejects(cache.connect(), (err: unknown) => {
      assert.ok(err instanceof CacheConfigError, String(err));
      assert.match(err.message, /PUBLISH/);
      assert.ok(!err.message.includes(PASSWORD));
      return true;
    });
    await assert.rejects(cache.get("k"), CacheConfigError, "later calls report it too");
  });

  it("is refused at creation over DynamoDB, not used over memory, and checks its options", () => {
    assert.throws(
      () => createCache({ storage: "dynamodb", tableName: "t", local: localTier() }),
      (err: unknown) => err instanceof CacheConfigError && /needs redis storage/.test(err.message),
    );
    const memory = createCache({ storage: "memory", local: localTier() });
    assert.equal(memory.localTier, undefined);
    assert.throws(() => localTier({ ttl: -1 }), CacheConfigError);
    assert.throws(() => localTier({ maxEntries: 1.5 }), CacheConfigError);
    assert.throws(
      () => createCache({ storage: "memory", local: { maxEntries: 10 } as never }),
      (err: unknown) => err instanceof CacheConfigError && /@cacheplane\/client\/local/.test(err.message),
    );
  });
});

describe("local tier, 3-master cluster", () => {
  let cluster: RedisCluster;
  const admins: Redis[] = [];
  const payload = () => clusterSecret(cluster, KEYSPACE, PASSWORD);

  before(async () => {
    cluster = await startCluster({ masters: 3 });
    await createClusterServiceUser(cluster, KEYSPACE, PASSWORD);
    for (const node of cluster.nodes) admins.push(node.client());
  });
  after(async () => {
    await closeAllRedisConnections();
    for (const admin of admins) admin.disconnect();
    await cluster?.stop();
  });

  suite("cluster", () => ({
    make: (local, extra) => createCache({ secret: payload(), ...RELAXED, local: localTier(local), ...extra }),
    plain: () => createCache({ secret: payload(), ...RELAXED }),
    admins: () => admins,
    async subscribe(channel) {
      // Plain PUBLISH reaches every node of a cluster: one node's subscriber sees every message.
      const first = cluster.nodes[0] as RedisServer;
      const sub = first.client();
      const messages: string[] = [];
      sub.on("message", (_channel: string, message: string) => messages.push(message));
      await sub.subscribe(channel);
      return { messages, close: () => sub.disconnect() };
    },
  }));
});
