/**
 * The shared contract: the same cases, through CacheService, on every store (memory, dynalite,
 * redis standalone, redis cluster). `makeStore(keyspace)` returns a fresh store on a shared backend.
 */
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { setTimeout as sleep } from "node:timers/promises";
import { CacheService } from "../src/cache-service.js";
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
    const service = async (options: { keyspace?: string; compression?: boolean } = {}) => {
      const store = await backend.makeStore(options.keyspace ?? uniqueKeyspace("k"));
      const s = new CacheService({
        store,
        breaker: false,
        throwOnError: true,
        compression: options.compression ? { threshold: 64 } : false,
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
      await cache.set("forever", 1, { ttl: Number.POSITIVE_INFINITY });
      assert.equal(await cache.getTtl("forever"), Number.POSITIVE_INFINITY);

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

    it("clear deletes only this keyspace", async () => {
      const keyspace = uniqueKeyspace("c");
      const mine = await service({ keyspace });
      const other = await service({ keyspace: `${keyspace}other` });
      await mine.setMany(Array.from({ length: 60 }, (_, i) => ({ key: `k${i}`, value: i })));
      await other.set("k1", "keep");
      assert.equal(await mine.clear(), 60);
      assert.equal(await mine.get("k1"), undefined);
      assert.equal(await other.get("k1"), "keep");
      assert.equal(await mine.clear(), 0);
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
      const cache = await service();
      let version = 0;
      const loader = async () => ++version;
      assert.equal(await cache.getOrSet("swr", loader, { ttl: 0.15, staleWhileRevalidate: 30 }), 1);
      await sleep(300);
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
      const ran = await cache.withLock("job2", 10, async () => "done");
      assert.deepStrictEqual(ran, { acquired: true, result: "done" });
    });

    it("sessions: create, get, touch, revoke, loader fallback", async () => {
      const cache = await service();
      const truth = new Map<string, { user: string }>([["known", { user: "ann" }]]);
      let loads = 0;
      const sessions = cache.sessions<{ user: string }>({
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
