/** CacheService behaviour independent of the backend (memory store plus a store that fails on demand). */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { setTimeout as sleep } from "node:timers/promises";
import fc from "fast-check";
import {
  CacheConfigError,
  CacheKeyError,
  CacheService,
  type CacheStore,
  CacheUnavailableError,
  createCache,
  MemoryStore,
  SerializationError,
} from "../src/index.js";
import { createSessionStore } from "../src/sessions.js";

/** The client's own keys (generation, tags, locks...): not what these tests count. */
const internal = (args: unknown[]) => typeof args[0] === "string" && args[0].startsWith("__cp:");

/**
 * A memory store whose calls fail while `down` is set (a custom CacheStore, as users may write).
 * `calls()` counts calls on cache keys (not the client's internal generation reads).
 */
function flakyStore(): { store: CacheStore; setDown(down: boolean): void; calls: () => number } {
  const inner = new MemoryStore({ keyspace: "flaky" });
  let down = false;
  let calls = 0;
  const store = new Proxy(inner, {
    get(target, property, receiver) {
      const value = Reflect.get(target, property, receiver);
      if (typeof value !== "function" || property === "close") return value;
      return (...args: unknown[]) => {
        if (!internal(args)) calls++;
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
  setMode(mode: "ok" | "fail" | "config" | "hang"): void;
  calls: () => number;
  /** Calls of any kind (also the client's generation reads) since the last `untouch()`. */
  touched: () => boolean;
  untouch: () => void;
} {
  const inner = new MemoryStore({ keyspace: "mode" });
  let mode: "ok" | "fail" | "config" | "hang" = "ok";
  let calls = 0;
  let touched = false;
  const store = new Proxy(inner, {
    get(target, property, receiver) {
      const value = Reflect.get(target, property, receiver);
      if (typeof value !== "function" || property === "close") return value;
      return (...args: unknown[]) => {
        if (!internal(args)) calls++;
        // deleteMany: only reconciliation uses it here (on its own timer)
        if (property !== "deleteMany") touched = true;
        if (mode === "fail") return Promise.reject(new Error("connection refused"));
        if (mode === "config") return Promise.reject(new CacheConfigError("bad secret", ["REDIS_SECRET"]));
        if (mode === "hang") {
          // like a stalled server: answered by the command timeout only
          return new Promise((_, reject) => setTimeout(() => reject(new Error("Command timed out")), 30));
        }
        return value.apply(target, args);
      };
    },
  }) as CacheStore;
  return {
    store,
    setMode: (m) => (mode = m),
    calls: () => calls,
    touched: () => touched,
    untouch: () => (touched = false),
  };
}

const NO_PROBE = { probeDelayMs: 1e9, maxProbeIntervalMs: 1e9 };

/**
 * Resolves at the breaker's next `state` event. Keeps the event loop alive meanwhile: the client's
 * probe timers are unref'd (they never keep a process alive), and these stores do no real I/O.
 */
function nextEvent(cache: CacheService, state: string): Promise<void> {
  const alive = setInterval(() => undefined, 1000);
  return new Promise<void>((resolve) => {
    const off = cache.on("breaker", (e) => {
      if (e.state === state) {
        off();
        resolve();
      }
    });
  }).finally(() => clearInterval(alive));
}

describe("circuit breaker", () => {
  it("property: opens after `threshold` consecutive failures, refuses calls while open, config errors do not count", async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.integer({ min: 1, max: 4 }),
        fc.boolean(),
        fc.array(fc.tuple(fc.constantFrom("ok", "fail", "config"), fc.constantFrom("get", "set", "has")), {
          maxLength: 40,
        }),
        async (threshold, withFallback, ops) => {
          const { store, setMode, touched, untouch } = modeStore();
          const cache = new CacheService({
            store,
            breaker: { threshold, ...NO_PROBE },
            ...(withFallback ? { fallback: new MemoryStore({ keyspace: "fb" }) } : {}),
          });
          // The reference: a consecutive-failure counter that opens for good (no probe runs here).
          let open = false;
          let failures = 0;
          let pending = false;
          for (const [mode, method] of ops) {
            setMode(mode);
            // Reconciliation of missed writes runs on a timer, which a slow machine may fire during
            // a call (an open breaker yields to the event loop): take its outcome from the service.
            pending = cache.getStats().pendingInvalidations > 0;
            untouch();
            const call =
              method === "get" ? cache.get("k") : method === "set" ? cache.set("k", 1) : cache.has("k");
            const got = await call.then(
              () => "resolved",
              (err: unknown) => (err instanceof CacheConfigError ? "config-error" : "other-error"),
            );
            let expected = "resolved";
            // A write that missed the primary makes reads of "k" skip it until reconciled (no
            // reconciliation runs here: it is on a timer) or until a write reaches it.
            const reachesStore: boolean = !open && (method === "set" || !pending);
            if (!reachesStore) {
              if (method === "set") pending = true;
            } else if (mode === "ok") {
              failures = 0;
              if (method === "set") pending = false;
            } else if (mode === "config") {
              expected = "config-error";
            } else {
              if (method === "set") pending = true;
              if (++failures >= threshold) open = true;
            }
            const step = `${method} (${mode})`;
            assert.equal(got, expected, step);
            assert.equal(cache.breakerState, open ? "open" : "closed", `state after ${step}`);
            assert.equal(touched(), reachesStore, `primary store reached by ${step}`);
          }
          await cache.close();
        },
      ),
      { numRuns: 200 },
    );
  });

  it("calls served by the fallback store do not count as primary successes", async () => {
    const { store, setMode } = modeStore();
    const fallback = new MemoryStore({ keyspace: "fb" });
    const cache = new CacheService({ store, fallback, breaker: { threshold: 3, ...NO_PROBE } });
    setMode("fail");
    assert.equal(await cache.set("k", 1), true);
    // "k" missed a write: read from the fallback without asking the primary (no failure counted)
    assert.equal(await cache.get("k"), 1);
    assert.equal(await cache.get("other"), undefined);
    assert.equal(cache.breakerState, "closed");
    assert.equal(await cache.getOrSet("loaded", () => 2), 2);
    assert.equal(cache.breakerState, "open", "three consecutive primary failures");
    assert.equal(cache.getStats().latency.count, 3, "failed primary calls are timed once each");
    await cache.close();
  });

  it("a success resets the consecutive count; configuration errors neither count nor reset", async () => {
    const { store, setMode } = modeStore();
    const cache = new CacheService({ store, breaker: { threshold: 3, ...NO_PROBE } });
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
    await cache.close();
  });

  it("concurrent failures open it once, and every failed call is counted as an error", async () => {
    const { store, setMode, calls } = modeStore();
    const cache = new CacheService({ store, breaker: { threshold: 3, ...NO_PROBE } });
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
    await cache.close();
  });

  it("recovers by a background probe, without any caller, and never holds a caller", async () => {
    const { store, setMode, touched, untouch } = modeStore();
    const cache = new CacheService({
      store,
      breaker: { threshold: 1, probeDelayMs: 5, maxProbeIntervalMs: 20 },
    });
    const states: string[] = [];
    cache.on("breaker", (e) => states.push(e.state));
    setMode("fail");
    await cache.get("k");
    assert.deepStrictEqual(states, ["open"]);
    // A stalled store: failed probes keep it open without events, and callers are answered at
    // once (a caller that became the trial would wait for the store's timeout).
    setMode("hang");
    await sleep(60);
    let answered = false;
    const call = cache.get("k").then((v) => {
      answered = true;
      return v;
    });
    await new Promise((resolve) => setImmediate(resolve));
    assert.equal(answered, true, "answered without waiting for the store");
    assert.equal(await call, undefined);
    assert.deepStrictEqual(states, ["open"]);
    const closed = nextEvent(cache, "closed");
    setMode("ok");
    await closed; // nobody calls the cache meanwhile: the probe closes it
    assert.deepStrictEqual(states, ["open", "half-open", "closed"]);
    untouch();
    assert.equal(await cache.set("k", 1), true);
    assert.equal(touched(), true);
    assert.equal(await cache.get("k"), 1);
    await cache.close();
  });

  it("a caller loop that never waits on I/O still lets the probe close the breaker", async () => {
    // The primary answers like a socket (in a later macrotask), fails until `recoverAt`; the
    // fallback answers at once (microtasks only), so the loop below never yields to the event loop
    // by itself. The probe's timer and its reply can only run if the client yields.
    const inner = new MemoryStore({ keyspace: "io" });
    let recoverAt = Number.POSITIVE_INFINITY;
    const store = new Proxy(inner, {
      get(target, property, receiver) {
        const value = Reflect.get(target, property, receiver);
        if (typeof value !== "function" || property === "close") return value;
        return (...args: unknown[]) =>
          new Promise((resolve, reject) =>
            setImmediate(() => {
              if (Date.now() < recoverAt) reject(new Error("connection refused"));
              else resolve(value.apply(target, args));
            }),
          );
      },
    }) as CacheStore;
    const cache = new CacheService({
      store,
      fallback: new MemoryStore({ keyspace: "io" }),
      breaker: { threshold: 2, probeDelayMs: 5, maxProbeIntervalMs: 20 },
    });
    await cache.get("k");
    await cache.get("k");
    assert.equal(cache.breakerState, "open");
    recoverAt = Date.now() + 50;
    let iterations = 0;
    // Bounded by a generous deadline (not a speed assertion): without the yield it is reached.
    const state = () => cache.breakerState;
    const giveUp = Date.now() + 30_000;
    while (state() !== "closed" && (iterations % 1000 !== 0 || Date.now() < giveUp)) {
      await cache.get("k");
      iterations++;
    }
    assert.equal(cache.breakerState, "closed", `still ${cache.breakerState} after ${iterations} calls`);
    await cache.close();
  });

  it("writes and deletes made during an outage never bring an old value back after recovery", async () => {
    const { store, setDown } = flakyStore();
    const fallback = new MemoryStore({ keyspace: "fb" });
    const cache = new CacheService({
      store,
      fallback,
      breaker: { threshold: 2, probeDelayMs: 5, maxProbeIntervalMs: 20 },
    });
    await cache.set("written", "old");
    await cache.set("deleted", "old");
    await cache.set("cleared", "old");
    setDown(true);
    assert.equal(await cache.set("written", "new"), true, "taken by the fallback");
    assert.equal(await cache.delete("deleted"), false, "not in the fallback");
    assert.equal(await cache.get("written"), "new");
    assert.equal(await cache.get("deleted"), undefined);
    assert.equal(cache.breakerState, "open");
    assert.equal(cache.getStats().pendingInvalidations, 2);
    const closed = nextEvent(cache, "closed");
    setDown(false);
    await closed;
    assert.equal(cache.getStats().pendingInvalidations, 0);
    // Neither the value from before the outage nor a stale copy in the fallback comes back.
    assert.equal(await cache.get("written"), undefined);
    assert.equal(await cache.get("deleted"), undefined);
    assert.equal(await cache.get("cleared"), "old", "keys not written during the outage are kept");
    assert.equal(await fallback.has("written"), false, "the fallback is forgotten on recovery");
    await cache.close();
  });

  it("without a fallback (and below the threshold) missed writes are reconciled too; reads do not trust the key meanwhile", async () => {
    const { store, setDown } = flakyStore();
    const cache = new CacheService({ store, breaker: false });
    await cache.set("k", "old");
    setDown(true);
    assert.equal(await cache.set("k", "new"), false);
    setDown(false);
    // the write failed, Redis still has "old": the key is not read from the primary
    assert.equal(await cache.get("k"), undefined);
    while (cache.getStats().pendingInvalidations > 0) await sleep(20);
    assert.equal(await cache.get("k"), undefined, "deleted on the primary");
    assert.equal(await cache.set("k", "newest"), true);
    assert.equal(await cache.get("k"), "newest");
    await cache.close();
  });

  it("a clear() during an outage is applied when the store is back", async () => {
    const { store, setDown } = flakyStore();
    const other = new CacheService({ store, breaker: false }); // another process on the same store
    const cache = new CacheService({
      store,
      fallback: new MemoryStore({ keyspace: "fb" }),
      breaker: { threshold: 1, probeDelayMs: 5, maxProbeIntervalMs: 20 },
    });
    await cache.set("a", 1);
    setDown(true);
    await cache.get("a");
    assert.equal(await cache.clear(), false, "not applied to the store yet");
    assert.equal(await cache.get("a"), undefined, "but this process treats every entry as gone");
    const closed = nextEvent(cache, "closed");
    setDown(false);
    await closed;
    assert.equal(await other.get("a"), undefined, "applied for everyone");
    await cache.close();
    await other.close();
  });

  it("beyond maxPendingInvalidations the whole keyspace is invalidated on recovery (bounded memory)", async () => {
    const { store, setDown } = flakyStore();
    const cache = new CacheService({
      store,
      fallback: new MemoryStore({ keyspace: "fb" }),
      maxPendingInvalidations: 10,
      breaker: { threshold: 1, probeDelayMs: 5, maxProbeIntervalMs: 20 },
    });
    await cache.set("untouched", 1);
    setDown(true);
    for (let i = 0; i < 50; i++) await cache.set(`k${i}`, i);
    assert.equal(cache.getStats().pendingInvalidations, 1, "one generation bump instead of 50 keys");
    const closed = nextEvent(cache, "closed");
    setDown(false);
    await closed;
    assert.equal(await cache.get("untouched"), undefined);
    assert.equal(await cache.get("k1"), undefined);
    await cache.close();
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

  it("the ttl ceiling: maxTtl option and CACHE_MAX_TTL, validated; swr windows and sessions are capped too", async () => {
    assert.equal(createCache({ storage: "memory" }).maxTtl, 86_400);
    assert.equal(createCache({ storage: "memory", env: { CACHE_MAX_TTL: "60" } }).maxTtl, 60);
    assert.equal(
      createCache({ storage: "memory", env: { CACHE_MAX_TTL: "Infinity" } }).maxTtl,
      Number.POSITIVE_INFINITY,
    );
    assert.equal(createCache({ storage: "memory", maxTtl: 5, env: { CACHE_MAX_TTL: "60" } }).maxTtl, 5);
    assert.throws(() => createCache({ storage: "memory", env: { CACHE_MAX_TTL: "soon" } }), CacheConfigError);
    assert.throws(() => new CacheService({ store: new MemoryStore(), maxTtl: 0 }), CacheConfigError);
    const store = new MemoryStore({ keyspace: "c" });
    const cache = new CacheService({ store, maxTtl: 60 });
    await cache.getOrSet("swr", async () => 1, { ttl: 50, staleWhileRevalidate: 3600 });
    assert.ok(((await store.getTtl("swr")) ?? Number.POSITIVE_INFINITY) <= 60_000);
    const sessions = createSessionStore<{ n: number }>(cache, { ttl: Number.POSITIVE_INFINITY });
    const { id } = await sessions.create({ n: 1 });
    assert.ok(((await store.getTtl(`__cp:sess:session:${id}`)) ?? Number.POSITIVE_INFINITY) <= 60_000);
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

  it("breaker: opens after the threshold, stops calling the store, and closes again by itself", async () => {
    const flaky = flakyStore();
    const cache = new CacheService({
      store: flaky.store,
      breaker: { threshold: 3, probeDelayMs: 20, maxProbeIntervalMs: 20 },
    });
    const states: string[] = [];
    cache.on("breaker", (e) => states.push(`${e.previous}->${e.state}`));
    flaky.setDown(true);
    for (let i = 0; i < 10; i++) await cache.get("k");
    assert.equal(flaky.calls(), 3, "no store calls while open");
    assert.equal(cache.getStats().errors, 3);
    assert.equal(cache.getStats().fallbacks, 10);
    assert.equal(cache.breakerState, "open");
    const closed = nextEvent(cache, "closed");
    flaky.setDown(false);
    await closed;
    assert.equal(await cache.set("k", 1), true);
    assert.deepStrictEqual(states, ["closed->open", "open->half-open", "half-open->closed"]);
    await cache.close();
  });

  it("fallback store: used while the primary fails, primary again after recovery", async () => {
    const flaky = flakyStore();
    const fallback = new MemoryStore({ keyspace: "fb" });
    const cache = new CacheService({
      store: flaky.store,
      fallback,
      breaker: { threshold: 2, ...NO_PROBE },
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
    // Text behind the keyspace generation's stamp (codec.ts): still text, still the codec's JSON.
    const stamp = /^\x01[A-Za-z0-9_-]{16}\x01/;
    assert.ok(texts.every((t) => stamp.test(t)));
    assert.deepStrictEqual(
      texts.map((t) => t.replace(stamp, "")),
      [JSON.stringify(value), '{"$t":"date","v":"1970-01-01T00:00:00.000Z"}'],
    );
    assert.equal(buffers.length, 1);
    assert.ok(Buffer.isBuffer(buffers[0]));
    assert.equal(buffers[0]?.toString("utf8").replace(stamp, ""), JSON.stringify(value));
    assert.deepStrictEqual(await new CacheService({ store: inner }).get("a"), value);
  });

  it("a (JavaScript) store answering plain values instead of promises still works", async () => {
    const inner = new MemoryStore({ keyspace: "sync" });
    const data = new Map<string, Buffer>();
    const store = Object.assign(Object.create(inner) as MemoryStore, {
      get: (key: string) => data.get(key),
      set: (key: string, value: Buffer) => void data.set(key, value),
      setIfAbsent: (key: string, value: Buffer) => !data.has(key) && data.set(key, value) !== undefined,
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
