/** CacheService behaviour independent of the backend (memory store plus a store that fails on demand). */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import {
  CacheConfigError,
  CacheKeyError,
  CacheService,
  type CacheStore,
  CacheUnavailableError,
  MemoryStore,
  SerializationError,
} from "../src/index.js";

/** A memory store whose calls fail while `down` is set (a custom CacheStore, as users may write). */
function flakyStore(): { store: CacheStore; setDown(down: boolean): void; calls: () => number } {
  const inner = new MemoryStore({ keyspace: "flaky" });
  let down = false;
  let calls = 0;
  const store = new Proxy(inner, {
    get(target, property, receiver) {
      const value = Reflect.get(target, property, receiver);
      if (typeof value !== "function" || property === "close") return value;
      return (...args: unknown[]) => {
        calls++;
        if (down) return Promise.reject(new Error("connection refused"));
        return value.apply(target, args);
      };
    },
  }) as CacheStore;
  return { store, setDown: (d) => (down = d), calls: () => calls };
}

describe("CacheService", () => {
  it("validates keys and ttls with typed errors (rejections, not sync throws)", async () => {
    const cache = new CacheService({ store: new MemoryStore() });
    await assert.rejects(cache.get(""), CacheKeyError);
    await assert.rejects(
      cache.getOrSet("", async () => 1),
      CacheKeyError,
    );
    await assert.rejects(cache.lock("", 1), CacheKeyError);
    await assert.rejects(cache.get("x".repeat(2000)), CacheKeyError);
    await assert.rejects(cache.set("k", 1, { ttl: 0 }), CacheConfigError);
    await assert.rejects(cache.set("k", 1, { ttl: -5 }), CacheConfigError);
    await assert.rejects(cache.expire("k", Number.NaN), CacheConfigError);
    assert.throws(() => new CacheService({ store: new MemoryStore(), defaultTtl: 0 }), CacheConfigError);
  });

  it("applies defaultTtl when set() gets no ttl", async () => {
    const cache = new CacheService({ store: new MemoryStore(), defaultTtl: 42 });
    await cache.set("k", 1);
    const ttl = await cache.getTtl("k");
    assert.ok(ttl !== undefined && ttl > 41 && ttl <= 42);
  });

  it("a corrupt stored value: get throws SerializationError, getOrSet reports it and replaces it", async () => {
    const store = new MemoryStore({ keyspace: "c" });
    const cache = new CacheService({ store });
    await store.set("bad", Buffer.from('{"broken'));
    await assert.rejects(
      cache.get("bad"),
      (err: unknown) => err instanceof SerializationError && err.key === "bad",
    );
    const errors: string[] = [];
    cache.on("error", (e) => errors.push(e.operation));
    assert.equal(await cache.getOrSet("bad", async () => "fresh"), "fresh");
    assert.deepStrictEqual(errors, ["getOrSet"]);
    assert.equal(await cache.get("bad"), "fresh");
  });

  it("without throwOnError a failing store gives misses / false / 0 and error events; the loader still answers", async () => {
    const flaky = flakyStore();
    const cache = new CacheService({ store: flaky.store, breaker: false });
    flaky.setDown(true);
    const errors: string[] = [];
    cache.on("error", (e) => errors.push(e.operation));
    assert.equal(await cache.get("a"), undefined);
    assert.equal(await cache.set("a", 1), false);
    assert.equal(await cache.delete("a"), false);
    assert.equal(await cache.deleteMany(["a"]), 0);
    assert.deepStrictEqual(await cache.getMany(["a", "b"]), [undefined, undefined]);
    assert.equal(await cache.getOrSet("a", async () => "loaded"), "loaded");
    assert.ok(errors.length >= 6);
    assert.equal(cache.getStats().errors, errors.length);
  });

  it("with throwOnError the failure surfaces as CacheUnavailableError with the cause", async () => {
    const flaky = flakyStore();
    const cache = new CacheService({ store: flaky.store, breaker: false, throwOnError: true });
    flaky.setDown(true);
    await assert.rejects(
      cache.get("a"),
      (err: unknown) =>
        err instanceof CacheUnavailableError && err.operation === "get" && err.cause instanceof Error,
    );
  });

  it("breaker: opens after the threshold, stops calling the store, and half-opens later", async () => {
    const flaky = flakyStore();
    const cache = new CacheService({ store: flaky.store, breaker: { threshold: 3, halfOpenAfterMs: 50 } });
    const states: string[] = [];
    cache.on("breaker", (e) => states.push(`${e.previous}->${e.state}`));
    flaky.setDown(true);
    for (let i = 0; i < 10; i++) await cache.get("k");
    assert.equal(flaky.calls(), 3, "no store calls while open");
    assert.equal(cache.getStats().errors, 3);
    assert.equal(cache.getStats().fallbacks, 10);
    assert.equal(cache.breakerState, "open");
    flaky.setDown(false);
    await new Promise((resolve) => setTimeout(resolve, 80));
    await cache.set("k", 1);
    assert.equal(cache.breakerState, "closed");
    assert.deepStrictEqual(states, ["closed->open", "open->half-open", "half-open->closed"]);
  });

  it("fallback store: used while the primary fails, primary again after recovery", async () => {
    const flaky = flakyStore();
    const fallback = new MemoryStore({ keyspace: "fb" });
    const cache = new CacheService({
      store: flaky.store,
      fallback,
      breaker: { threshold: 2, halfOpenAfterMs: 10_000 },
    });
    flaky.setDown(true);
    assert.equal(await cache.set("k", "in-fallback"), true);
    assert.equal(await cache.get("k"), "in-fallback");
    assert.equal(await fallback.has("k"), true);
    assert.equal(cache.getStats().fallbackStorage, "memory");
  });

  it("a loader error reaches every concurrent caller and is not cached", async () => {
    const cache = new CacheService({ store: new MemoryStore() });
    let calls = 0;
    const failing = async () => {
      calls++;
      throw new Error("db down");
    };
    const results = await Promise.allSettled(Array.from({ length: 5 }, () => cache.getOrSet("k", failing)));
    assert.ok(results.every((r) => r.status === "rejected"));
    assert.equal(calls, 1);
    assert.equal(await cache.has("k"), false);
  });

  it("close() waits for background refreshes and refuses later calls", async () => {
    const cache = new CacheService({ store: new MemoryStore() });
    await cache.close();
    await assert.rejects(cache.get("k"), CacheConfigError);
  });
});
