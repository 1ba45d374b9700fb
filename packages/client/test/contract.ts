/**
 * The shared contract: the same cases, through CacheService, on every store (memory, dynalite,
 * redis standalone, redis cluster). `makeStore(keyspace)` returns a fresh store on a shared backend.
 */
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { setTimeout as sleep } from "node:timers/promises";
import { CacheService } from "../src/cache-service.js";
import { CacheConfigError, CacheKeyError } from "../src/errors.js";
import { SessionConflictError } from "../src/patterns/sessions.js";
import { createSessionStore } from "../src/sessions.js";
import type { CacheStore } from "../src/stores/cache-store.js";

export interface ContractBackend {
  /** A store on the shared backend with this keyspace. */
  makeStore(keyspace: string): Promise<CacheStore> | CacheStore;
  /** Called once after the suite. */
  teardown?(): Promise<void>;
}

let counter = 0;
const uniqueKeyspace = (label: string) => `ct${label}${process.pid}x${++counter}`;

export function storeContract(name: string, setup: () => Promise<ContractBackend>): void {
  describe(`store contract: ${name}`, () => {
    let backend: ContractBackend;
    const services: CacheService[] = [];
    const service = async (
      options: { keyspace?: string; compression?: boolean; maxTtl?: number; now?: () => number } = {},
    ) => {
      const store = await backend.makeStore(options.keyspace ?? uniqueKeyspace("k"));
      const s = new CacheService({
        store,
        breaker: false,
        throwOnError: true,
        compression: options.compression ? { threshold: 64 } : false,
        ...(options.maxTtl === undefined ? {} : { maxTtl: options.maxTtl }),
        ...(options.now === undefined ? {} : { now: options.now }),
      });
      services.push(s);
      return s;
    };

    before(async () => {
      backend = await setup();
    });
    after(async () => {
      await Promise.allSettled(services.map((s) => s.close()));
      await backend?.teardown?.();
    });

    it("get misses, set/get round-trips typed values", async () => {
      const cache = await service();
      assert.equal(await cache.get("missing"), undefined);
      const value = {
        when: new Date("2024-02-03T04:05:06.007Z"),
        big: 2n ** 70n,
        bytes: Buffer.from([1, 2, 3]),
        map: new Map([["k", new Set([1, 2])]]),
        nothing: undefined,
        nil: null,
        text: "héllo ☃",
      };
      assert.equal(await cache.set("obj", value, { ttl: 60 }), true);
      assert.deepStrictEqual(await cache.get("obj"), value);
      await cache.set("str", "plain");
      assert.equal(await cache.get("str"), "plain");
      await cache.set("zero", 0);
      assert.equal(await cache.get("zero"), 0);
      await cache.set("undef", undefined);
      assert.equal(await cache.has("undef"), true);
      await cache.set("bin", Buffer.from([0xc1, 0xff, 0x00]));
      assert.deepStrictEqual(await cache.get("bin"), Buffer.from([0xc1, 0xff, 0x00]));
    });

    it("overwrites, deletes, has", async () => {
      const cache = await service();
      await cache.set("a", 1);
      await cache.set("a", 2);
      assert.equal(await cache.get("a"), 2);
      assert.equal(await cache.has("a"), true);
      assert.equal(await cache.delete("a"), true);
      assert.equal(await cache.delete("a"), false);
      assert.equal(await cache.has("a"), false);
      assert.equal(await cache.get("a"), undefined);
    });

    it("ttl: getTtl, expire, expiry, Infinity", async () => {
      const cache = await service();
      await cache.set("t", "v", { ttl: 30 });
      const ttl = await cache.getTtl("t");
      assert.ok(ttl !== undefined && ttl > 20 && ttl <= 30, `ttl ${ttl}`);
      assert.equal(await cache.expire("t", 100), true);
      const extended = await cache.getTtl("t");
      assert.ok(extended !== undefined && extended > 90 && extended <= 100, `ttl ${extended}`);
      assert.equal(await cache.expire("nope", 10), false);
      assert.equal(await cache.getTtl("nope"), undefined);
      // The ttl ceiling (default one day): Infinity and longer ttls are lowered to it.
      await cache.set("forever", 1, { ttl: Number.POSITIVE_INFINITY });
      const ceiling = await cache.getTtl("forever");
      assert.ok(ceiling !== undefined && ceiling > 86_390 && ceiling <= 86_400, `ttl ${ceiling}`);
      await cache.set("year", 1, { ttl: 365 * 86_400 });
      assert.ok(((await cache.getTtl("year")) ?? 0) <= 86_400);
      await cache.setMany([{ key: "many", value: 1, ttl: Number.POSITIVE_INFINITY }]);
      assert.ok(((await cache.getTtl("many")) ?? Number.POSITIVE_INFINITY) <= 86_400);
      assert.equal(await cache.expire("year", 10 * 86_400), true);
      assert.ok(((await cache.getTtl("year")) ?? 0) <= 86_400);
      const unbounded = await service({ maxTtl: Number.POSITIVE_INFINITY });
      await unbounded.set("forever", 1, { ttl: Number.POSITIVE_INFINITY });
      assert.equal(await unbounded.getTtl("forever"), Number.POSITIVE_INFINITY);

      await cache.set("short", "x", { ttl: 0.2 });
      await cache.setMany([{ key: "short2", value: "y", ttl: 0.2 }]);
      await cache.set("short3", "z", { ttl: 30 });
      await cache.expire("short3", 0.2);
      await sleep(450);
      assert.equal(await cache.get("short"), undefined);
      assert.equal(await cache.has("short"), false);
      assert.equal(await cache.getTtl("short"), undefined);
      assert.deepStrictEqual(await cache.getMany(["short", "short2", "short3"]), [
        undefined,
        undefined,
        undefined,
      ]);
      assert.equal(await cache.delete("short3"), false);
      assert.equal(await cache.expire("short2", 10), false);
    });

    it("getMany / setMany / deleteMany across many keys (and cluster slots)", async () => {
      const cache = await service();
      const entries = Array.from({ length: 130 }, (_, i) => ({
        key: `m:${i}`,
        value: { i, at: new Date(i) },
      }));
      assert.equal(await cache.setMany(entries, { ttl: 60 }), true);
      const keys = [...entries.map((e) => e.key), "m:missing", "m:0"];
      const values = await cache.getMany<{ i: number; at: Date }>(keys);
      assert.equal(values.length, keys.length);
      for (let i = 0; i < 130; i++) assert.deepStrictEqual(values[i], { i, at: new Date(i) });
      assert.equal(values[130], undefined);
      assert.deepStrictEqual(values[131], { i: 0, at: new Date(0) });
      assert.deepStrictEqual(await cache.getMany([]), []);
      // duplicates in one batch: the last one wins
      await cache.setMany([
        { key: "dup", value: 1 },
        { key: "dup", value: 2 },
      ]);
      assert.equal(await cache.get("dup"), 2);
      const removed = await cache.deleteMany([...entries.slice(0, 40).map((e) => e.key), "m:missing", "m:0"]);
      assert.equal(removed, 40);
      assert.equal(await cache.has("m:0"), false);
      assert.equal(await cache.has("m:40"), true);
    });

    it("clear invalidates this keyspace in O(1), for every process, and keeps locks, sessions, rate limits", async () => {
      const keyspace = uniqueKeyspace("c");
      const mine = await service({ keyspace });
      const otherProcess = await service({ keyspace });
      const other = await service({ keyspace: `${keyspace}other` });
      await mine.setMany(Array.from({ length: 60 }, (_, i) => ({ key: `k${i}`, value: i })));
      await other.set("k1", "keep");
      assert.equal(await otherProcess.get("k1"), 1);
      const lock = await mine.lock("job", 30);
      assert.ok(lock);
      const sessions = createSessionStore<{ user: string }>(mine, { ttl: 60 });
      const session = await sessions.create({ user: "ann" });

      assert.equal(await mine.clear(), true);
      assert.equal(await mine.get("k1"), undefined);
      assert.equal(await otherProcess.get("k1"), undefined, "another process sees the clear");
      assert.equal(await otherProcess.has("k2"), false);
      assert.deepStrictEqual(await otherProcess.getMany(["k3", "k4"]), [undefined, undefined]);
      assert.equal(await otherProcess.getTtl("k5"), undefined);
      assert.equal(await otherProcess.delete("k6"), false, "a cleared entry does not count as deleted");
      assert.equal(await other.get("k1"), "keep", "other keyspaces are untouched");
      assert.equal(await mine.lock("job", 30), undefined, "the lock is still held");
      assert.deepStrictEqual(await sessions.get(session.id), { user: "ann" }, "sessions survive");
      assert.equal(await lock.release(), true);

      // Entries written after the clear are visible to every process, also when the writer is
      // one that has not read since (it re-reads a generation older than a second).
      await otherProcess.set("after", "x");
      assert.equal(await mine.get("after"), "x");
      assert.equal(await mine.getOrSet("loaded", async () => "v"), "v");
      assert.equal(await otherProcess.get("loaded"), "v");
      assert.equal(await otherProcess.clear(), true);
      assert.equal(await mine.get("after"), undefined);
      await sleep(1100);
      await otherProcess.set("late", 1);
      assert.equal(await mine.get("late"), 1);
    });

    it("tags: invalidateTags makes tagged entries misses in every process; others untouched", async () => {
      const keyspace = uniqueKeyspace("t");
      const cache = await service({ keyspace });
      const otherProcess = await service({ keyspace });
      await cache.set("user:1", { name: "ann" }, { tags: ["user:1", "users"] });
      await cache.set("user:2", { name: "bob" }, { tags: ["users"] });
      await cache.set("plain", 1);
      await cache.setMany([{ key: "team:1", value: "t", tags: ["teams", "user:1"] }]);
      assert.deepStrictEqual(await otherProcess.get("user:1"), { name: "ann" });
      assert.equal(await otherProcess.invalidateTags(["user:1"]), true);
      assert.equal(await cache.get("user:1"), undefined);
      assert.equal(await cache.get("team:1"), undefined);
      assert.deepStrictEqual(await cache.get("user:2"), { name: "bob" });
      assert.deepStrictEqual(await cache.getMany(["user:1", "user:2", "plain"]), [
        undefined,
        { name: "bob" },
        1,
      ]);
      // a value loaded while its tag is invalidated is not kept
      const loaded = await cache.getOrSet(
        "report",
        async () => {
          await otherProcess.invalidateTags(["reports"]);
          return "stale";
        },
        { tags: ["reports"] },
      );
      assert.equal(loaded, "stale");
      assert.equal(await otherProcess.get("report"), undefined);
      assert.equal(await cache.getOrSet("report", async () => "fresh", { tags: ["reports"] }), "fresh");
      assert.equal(await otherProcess.get("report"), "fresh");
      // re-tagging after an invalidation works; an invalidation does not touch later writes
      await cache.set("user:1", { name: "ann2" }, { tags: ["user:1"] });
      assert.deepStrictEqual(await otherProcess.get("user:1"), { name: "ann2" });
      await assert.rejects(cache.set("x", 1, { tags: [""] }), CacheConfigError);
      await assert.rejects(
        cache.set("x", 1, { tags: Array.from({ length: 40 }, (_, i) => `t${i}`) }),
        CacheConfigError,
      );
    });

    it("an evicted (or expired) generation or tag version never brings entries back", async () => {
      const cache = await service();
      await cache.set("a", 1, { tags: ["t"] });
      await cache.clear();
      await cache.set("b", 2, { tags: ["t"] });
      assert.equal(await cache.get("b"), 2);
      // memory pressure evicts the generation key: every entry stamped with any generation misses
      await cache.store.delete("__cp:gen");
      assert.equal(await cache.get("a"), undefined);
      assert.equal(await cache.get("b"), undefined);
      await cache.set("c", 3, { tags: ["t"] });
      assert.equal(await cache.get("c"), 3, "the next write creates a new generation");
      assert.equal(await cache.get("a"), undefined);
      assert.equal(await cache.get("b"), undefined);
      // the same for a tag that was invalidated, then evicted
      await cache.invalidateTags(["t"]);
      assert.equal(await cache.get("c"), undefined);
      await cache.store.delete("__cp:tag:t");
      assert.equal(await cache.get("c"), undefined, "not resurrected by the missing tag version");
      await cache.set("d", 4, { tags: ["t"] });
      assert.equal(await cache.get("d"), 4);
      assert.equal(await cache.get("c"), undefined);
    });

    it("internal keys are out of reach of the key API and never collide with cache keys", async () => {
      const cache = await service();
      for (const call of [
        () => cache.get("__cp:gen"),
        () => cache.set("__cp:lock:{job}", "mine"),
        () => cache.delete("__cp:sl:x"),
        () => cache.getMany(["ok", "__cp:tag:t"]),
        () => cache.deleteMany(["__cp:sess:session:abc"]),
        () => cache.getOrSet("__cp:x", async () => 1),
        () => cache.expire("__cp:gen", 10),
      ]) {
        await assert.rejects(call(), CacheKeyError);
      }
      // the collisions: a cache key "lock:job" neither blocks nor releases lock("job")
      await cache.set("lock:user", "a cache value");
      const held = await cache.lock("user", 30);
      assert.ok(held, "a cache key does not block the lock");
      assert.equal(await cache.delete("lock:user"), true);
      assert.equal(await cache.lock("user", 30), undefined, "deleting that cache key does not free the lock");
      await held.release();
    });
    it("keyspaces isolate equal keys", async () => {
      const a = await service();
      const b = await service();
      await a.set("same", "a");
      await b.set("same", "b");
      assert.equal(await a.get("same"), "a");
      assert.equal(await b.get("same"), "b");
    });

    it("large values round-trip, compressed or not", async () => {
      const plain = await service();
      const compressed = await service({ compression: true });
      const big = { rows: Array.from({ length: 2000 }, (_, i) => ({ i, name: `row ${i}` })) };
      await plain.set("big", big);
      await compressed.set("big", big);
      assert.deepStrictEqual(await plain.get("big"), big);
      assert.deepStrictEqual(await compressed.get("big"), big);
    });

    it("getOrSet: one loader call for concurrent callers, then hits; errors are not cached", async () => {
      const cache = await service();
      let calls = 0;
      const loader = async () => {
        calls++;
        await sleep(20);
        return { n: calls };
      };
      const results = await Promise.all(
        Array.from({ length: 50 }, () => cache.getOrSet("cold", loader, { ttl: 60 })),
      );
      assert.equal(calls, 1);
      for (const r of results) assert.deepStrictEqual(r, { n: 1 });
      assert.deepStrictEqual(await cache.getOrSet("cold", loader), { n: 1 });
      assert.equal(calls, 1);

      let attempts = 0;
      const failing = async () => {
        attempts++;
        throw new Error("source down");
      };
      await assert.rejects(cache.getOrSet("bad", failing), /source down/);
      await assert.rejects(cache.getOrSet("bad", failing), /source down/);
      assert.equal(attempts, 2);
      assert.equal(await cache.has("bad"), false);
      assert.equal(await cache.getOrSet("bad", async () => "ok"), "ok");
    });

    it("getOrSet with staleWhileRevalidate serves the stale value and refreshes once", async () => {
      // The freshness clock is the test's: a loaded machine cannot make the refreshed value stale too.
      let now = Date.now();
      const cache = await service({ now: () => now });
      let version = 0;
      const loader = async () => ++version;
      assert.equal(await cache.getOrSet("swr", loader, { ttl: 0.15, staleWhileRevalidate: 30 }), 1);
      now += 300;
      // stale: plain get treats it as a miss, getOrSet serves it and refreshes in the background
      assert.equal(await cache.get("swr"), undefined);
      const stale = await Promise.all([
        cache.getOrSet("swr", loader, { ttl: 0.15, staleWhileRevalidate: 30 }),
        cache.getOrSet("swr", loader, { ttl: 0.15, staleWhileRevalidate: 30 }),
      ]);
      assert.deepStrictEqual(stale, [1, 1]);
      await cache.drain();
      assert.equal(version, 2);
      assert.equal(await cache.getOrSet("swr", loader, { ttl: 60 }), 2);
    });

    it("locks: exclusive, safe release, extend", async () => {
      const cache = await service();
      const first = await cache.lock("job", 30);
      assert.ok(first);
      assert.equal(await cache.lock("job", 30), undefined);
      assert.equal(await first.extend(60), true);
      assert.equal(await first.release(), true);
      assert.equal(await first.release(), false);
      assert.equal(await first.extend(60), false);
      const second = await cache.lock("job", 0.2);
      assert.ok(second);
      await sleep(350);
      // expired: someone else may take it, and the old holder cannot release the new lock
      const third = await cache.lock("job", 30);
      assert.ok(third);
      assert.equal(await second.release(), false);
      assert.equal(await third.release(), true);
      assert.ok(third.fence > second.fence, "fencing tokens increase across holders");
      assert.ok(second.fence > first.fence);
      const fourth = await cache.lock("job", 30);
      assert.ok(fourth && fourth.fence > third.fence, "also after a release");
      await fourth.release();
      const ran = await cache.withLock("job2", 10, async () => "done");
      assert.deepStrictEqual(ran, { acquired: true, result: "done" });
    });

    it("sessions: create, get, touch, revoke, loader fallback", async () => {
      const cache = await service();
      const truth = new Map<string, { user: string }>([["known", { user: "ann" }]]);
      let loads = 0;
      const sessions = createSessionStore<{ user: string }>(cache, {
        ttl: 60,
        loader: async (id) => {
          loads++;
          return truth.get(id);
        },
      });
      const created = await sessions.create({ user: "bob" });
      assert.ok(created.id.length >= 40);
      assert.deepStrictEqual(await sessions.get(created.id), { user: "bob" });
      assert.equal(await sessions.touch(created.id), true);
      assert.deepStrictEqual(await sessions.get("known"), { user: "ann" });
      assert.deepStrictEqual(await sessions.get("known"), { user: "ann" });
      assert.equal(loads, 1);
      assert.equal(await sessions.get("unknown"), undefined);
      assert.equal(await sessions.touch("unknown"), false);
      assert.equal(await sessions.update(created.id, { user: "bobby" }), true);
      assert.deepStrictEqual(await sessions.get(created.id), { user: "bobby" });
      assert.equal(await sessions.revoke(created.id), true);
      assert.equal(await sessions.get(created.id), undefined);
    });

    it("sessions: no fixation, no overwrite, no resurrection, atomic updates", async () => {
      const cache = await service();
      const truth = new Map<string, { n: number }>();
      const sessions = createSessionStore<{ n: number }>(cache, { ttl: 60, loader: (id) => truth.get(id) });
      await assert.rejects(sessions.create({ n: 0 }, { id: "chosen-by-attacker" }), CacheConfigError);
      assert.equal(await sessions.update("any-id", { n: 1 }), false, "update never creates");
      assert.equal(await sessions.update("any-id", (s) => ({ n: s.n + 1 })), false);
      assert.equal(await sessions.touch("any-id"), false);
      assert.equal(await sessions.get("any-id"), undefined);

      const { id } = await sessions.create({ n: 0 });
      for (let i = 0; i < 20; i++) assert.equal(await sessions.update(id, (s) => ({ n: s.n + 1 })), true);
      // concurrent read-modify-writes in one process: none lost
      await Promise.all(Array.from({ length: 20 }, () => sessions.update(id, (s) => ({ n: s.n + 1 }))));
      assert.deepStrictEqual(await sessions.get(id), { n: 40 });

      truth.set(id, { n: 40 });
      assert.equal(await sessions.revoke(id), true);
      assert.equal(await sessions.update(id, { n: 99 }), false, "revocation wins over a later update");
      assert.equal(await sessions.touch(id), false);
      assert.equal(await sessions.get(id), undefined, "the tombstone keeps the loader from refilling it");
      assert.equal(await sessions.revoke(id), false);

      const custom = createSessionStore<{ n: number }>(cache, { ttl: 60, allowCustomIds: true });
      await custom.create({ n: 1 }, { id: "migrated-1" });
      await assert.rejects(custom.create({ n: 2 }, { id: "migrated-1" }), SessionConflictError);
      assert.deepStrictEqual(await custom.get("migrated-1"), { n: 1 }, "create never overwrites");
      // The loader fills a session that left the cache, and then it can be updated.
      truth.set("from-table", { n: 5 });
      assert.equal(await sessions.update("from-table", (s) => ({ n: s.n + 1 })), true);
      assert.deepStrictEqual(await sessions.get("from-table"), { n: 6 });
    });

    it("stats count hits, misses and latency; health reports ok", async () => {
      const cache = await service();
      const hits: string[] = [];
      cache.on("hit", (e) => hits.push(e.key));
      await cache.set("s", 1);
      await cache.get("s");
      await cache.get("s2");
      const stats = cache.getStats();
      assert.equal(stats.hits, 1);
      assert.equal(stats.misses, 1);
      assert.equal(stats.sets, 1);
      assert.equal(stats.errors, 0);
      assert.ok(stats.latency.count >= 3);
      assert.deepStrictEqual(hits, ["s"]);
      const health = await cache.health();
      assert.equal(health.status, "ok", JSON.stringify(health));
      assert.ok(health.checks.some((c) => c.name.endsWith(":read") && c.ok));
    });
  });
}
