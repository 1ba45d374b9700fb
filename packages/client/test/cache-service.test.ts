/** CacheService behaviour independent of the backend (memory store plus a store that fails on demand). */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { CircuitState, ConsecutiveBreaker, circuitBreaker, handleWhen } from "cockatiel";
import fc from "fast-check";
import { isConfigurationError } from "../src/errors.js";
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

/** A memory store whose calls succeed, fail (store outage) or fail with a configuration error. */
function modeStore(): {
  store: CacheStore;
  setMode(mode: "ok" | "fail" | "config"): void;
  calls: () => number;
} {
  const inner = new MemoryStore({ keyspace: "mode" });
  let mode: "ok" | "fail" | "config" = "ok";
  let calls = 0;
  const store = new Proxy(inner, {
    get(target, property, receiver) {
      const value = Reflect.get(target, property, receiver);
      if (typeof value !== "function" || property === "close") return value;
      return (...args: unknown[]) => {
        calls++;
        if (mode === "fail") return Promise.reject(new Error("connection refused"));
        if (mode === "config") return Promise.reject(new CacheConfigError("bad secret", ["REDIS_SECRET"]));
        return value.apply(target, args);
      };
    },
  }) as CacheStore;
  return { store, setMode: (m) => (mode = m), calls: () => calls };
}

describe("circuit breaker (closed fast path)", () => {
  it("property: same states and store calls as cockatiel's policy wrapping every call", async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.integer({ min: 1, max: 4 }),
        fc.boolean(),
        fc.array(fc.tuple(fc.constantFrom("ok", "fail", "config"), fc.constantFrom("get", "set", "has")), {
          maxLength: 40,
        }),
        async (threshold, withFallback, ops) => {
          const { store, setMode, calls } = modeStore();
          const cache = new CacheService({
            store,
            breaker: { threshold, halfOpenAfterMs: 1e9 },
            ...(withFallback ? { fallback: new MemoryStore({ keyspace: "fb" }) } : {}),
          });
          const reference = circuitBreaker(
            handleWhen((err) => !isConfigurationError(err)),
            { halfOpenAfter: 1e9, breaker: new ConsecutiveBreaker(threshold) },
          );
          let referenceCalls = 0;
          for (const [mode, method] of ops) {
            setMode(mode);
            const call =
              method === "get" ? cache.get("k") : method === "set" ? cache.set("k", 1) : cache.has("k");
            const got = await call.then(
              () => "resolved",
              (err: unknown) => (err instanceof CacheConfigError ? "config-error" : "other-error"),
            );
            const expected = await reference
              .execute(async () => {
                referenceCalls++;
                if (mode === "fail") throw new Error("connection refused");
                if (mode === "config") throw new CacheConfigError("bad secret");
              })
              // The service turns store failures and refusals (open breaker) into misses / false.
              .then(
                () => "resolved",
                (err: unknown) => (err instanceof CacheConfigError ? "config-error" : "resolved"),
              );
            const step = `${method} (${mode})`;
            assert.equal(got, expected, step);
            assert.equal(
              cache.breakerState,
              reference.state === CircuitState.Closed ? "closed" : "open",
              `state after ${step}`,
            );
            assert.equal(calls(), referenceCalls, `primary store calls after ${step}`);
          }
        },
      ),
      { numRuns: 200 },
    );
  });

  it("calls served by the fallback store do not count as primary successes", async () => {
    const { store, setMode, calls } = modeStore();
    const fallback = new MemoryStore({ keyspace: "fb" });
    const cache = new CacheService({ store, fallback, breaker: { threshold: 3, halfOpenAfterMs: 10_000 } });
    setMode("fail");
    assert.equal(await cache.set("k", 1), true);
    assert.equal(await cache.get("k"), 1);
    assert.equal(cache.breakerState, "closed");
    assert.equal(await cache.getOrSet("k", () => 2), 1);
    assert.equal(cache.breakerState, "open", "three consecutive primary failures");
    assert.equal(calls(), 3);
    assert.equal(cache.getStats().latency.count, 3, "failed primary calls are timed once each");
  });

  it("a success resets the consecutive count; configuration errors neither count nor reset", async () => {
    const { store, setMode } = modeStore();
    const cache = new CacheService({ store, breaker: { threshold: 3, halfOpenAfterMs: 10_000 } });
    setMode("fail");
    await cache.get("k");
    await cache.get("k");
    setMode("ok");
    await cache.get("k");
    setMode("fail");
    await cache.get("k");
    await cache.get("k");
    assert.equal(cache.breakerState, "closed", "2 consecutive failures after a success");
    setMode("config");
    await assert.rejects(cache.get("k"), CacheConfigError);
    assert.equal(cache.breakerState, "closed");
    setMode("fail");
    await cache.get("k");
    assert.equal(cache.breakerState, "open");
  });

  it("concurrent failures open it once, and every failed call is counted as an error", async () => {
    const { store, setMode, calls } = modeStore();
    const cache = new CacheService({ store, breaker: { threshold: 3, halfOpenAfterMs: 10_000 } });
    const states: string[] = [];
    cache.on("breaker", (e) => states.push(`${e.previous}->${e.state}`));
    setMode("fail");
    await Promise.all(Array.from({ length: 10 }, () => cache.get("k")));
    assert.deepStrictEqual(states, ["closed->open"]);
    assert.equal(calls(), 10);
    assert.equal(cache.getStats().errors, 10);
    await cache.get("k");
    assert.equal(calls(), 10, "refused while open");
    assert.equal(cache.getStats().errors, 10, "refused calls are not errors");
  });

  it("a failed trial re-opens it; concurrent callers wait for the trial", async () => {
    const { store, setMode, calls } = modeStore();
    const cache = new CacheService({ store, breaker: { threshold: 1, halfOpenAfterMs: 30 } });
    const states: string[] = [];
    cache.on("breaker", (e) => states.push(e.state));
    setMode("fail");
    await cache.get("k");
    await new Promise((resolve) => setTimeout(resolve, 50));
    await cache.get("k");
    assert.deepStrictEqual(states, ["open", "half-open", "open"]);
    await new Promise((resolve) => setTimeout(resolve, 50));
    setMode("ok");
    const before = calls();
    // The set is the trial; the gets start while it runs, wait for it, then run closed.
    const [stored, ...values] = await Promise.all([
      cache.set("k", 1),
      ...Array.from({ length: 5 }, () => cache.get("k")),
    ]);
    assert.equal(stored, true);
    assert.deepStrictEqual(values, [1, 1, 1, 1, 1]);
    assert.deepStrictEqual(states, ["open", "half-open", "open", "half-open", "closed"]);
    assert.equal(calls(), before + 6);
  });
});

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

  it("text payloads go through setText when the store has it, else as UTF-8 bytes through set", async () => {
    const texts: string[] = [];
    const buffers: Buffer[] = [];
    const inner = new MemoryStore({ keyspace: "t" });
    const withText = Object.assign(Object.create(inner) as MemoryStore, {
      setText: (key: string, value: string, ttlMs?: number) => {
        texts.push(value);
        return inner.set(key, Buffer.from(value, "utf8"), ttlMs);
      },
    });
    const plain = Object.assign(Object.create(inner) as MemoryStore, {
      set: (key: string, value: Buffer, ttlMs?: number) => {
        buffers.push(value);
        return inner.set(key, value, ttlMs);
      },
    });
    const value = { text: "héllo ☃ \ud83d\ude00", n: 1 };
    await new CacheService({ store: withText }).set("a", value);
    await new CacheService({ store: plain }).set("b", value);
    await new CacheService({ store: withText }).set("c", new Date(0));
    assert.deepStrictEqual(texts, [JSON.stringify(value), '{"$t":"date","v":"1970-01-01T00:00:00.000Z"}']);
    assert.equal(buffers.length, 1);
    assert.ok(Buffer.isBuffer(buffers[0]));
    assert.deepStrictEqual(buffers[0], Buffer.from(JSON.stringify(value), "utf8"));
    assert.deepStrictEqual(await new CacheService({ store: inner }).get("a"), value);
  });

  it("a (JavaScript) store answering plain values instead of promises still works", async () => {
    const inner = new MemoryStore({ keyspace: "sync" });
    const data = new Map<string, Buffer>();
    const store = Object.assign(Object.create(inner) as MemoryStore, {
      get: (key: string) => data.get(key),
      set: (key: string, value: Buffer) => void data.set(key, value),
    }) as unknown as CacheStore;
    const cache = new CacheService({ store });
    assert.equal(await cache.set("k", { a: 1 }), true);
    assert.deepStrictEqual(await cache.get("k"), { a: 1 });
    assert.deepStrictEqual(await cache.getOrSet("k", () => 2), { a: 1 });
    assert.equal(await cache.get("missing"), undefined);
  });

  it("close() waits for background refreshes and refuses later calls", async () => {
    const cache = new CacheService({ store: new MemoryStore() });
    await cache.close();
    await assert.rejects(cache.get("k"), CacheConfigError);
  });
});
