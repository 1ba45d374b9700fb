/**
 * getOrSet's grace period (stale-if-error) with per-key backoff, soft and hard loader timeouts,
 * forceFresh, the loader context, and background work that finishes before a Lambda freeze
 * (flush, wrapHandler, leases), on a real redis-server. Time is a fake clock (`now`) and held loader
 * promises: nothing here waits for wall-clock time to pass or asserts a duration.
 */
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { type RedisServer, startRedis } from "@cacheplane/testkit";
import type { Redis } from "ioredis";
import {
  type CacheEvents,
  CacheLoaderTimeoutError,
  type CacheService,
  type CreateCacheOptions,
  closeAllRedisConnections,
  createCache,
  type LoaderContext,
  wrapHandler,
} from "../src/index.js";
import { createServiceUser, RELAXED, secretFor } from "./helpers/redis.js";

const PASSWORD = "Grace-Pw-5566778899";
const KEYSPACE = "grace";

let server: RedisServer;
let admin: Redis;
const caches: CacheService[] = [];

/** A clock the test moves by hand. */
function fakeClock() {
  let t = Date.UTC(2026, 0, 1);
  return {
    now: () => t,
    advance(seconds: number) {
      t += seconds * 1000;
    },
  };
}

function cacheWith(clock: { now: () => number }, options: CreateCacheOptions = {}): CacheService {
  const cache = createCache({
    secret: secretFor(server, KEYSPACE, PASSWORD),
    ...RELAXED,
    now: clock.now,
    ...options,
  });
  caches.push(cache);
  return cache;
}

/** A promise the test settles by hand, with a flag telling whether it settled. */
function deferred<T>() {
  let resolve!: (value: T) => void;
  let reject!: (error: unknown) => void;
  const promise = new Promise<T>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  return { promise, resolve, reject };
}

function collect<E extends keyof CacheEvents>(cache: CacheService, event: E): CacheEvents[E][] {
  const seen: CacheEvents[E][] = [];
  cache.on(event, (e) => seen.push(e));
  return seen;
}

let counter = 0;
const uniqueKey = (label: string) => `${label}-${++counter}`;

before(async () => {
  server = await startRedis({ acl: true, tls: false });
  admin = server.client();
  await createServiceUser(admin, KEYSPACE, PASSWORD);
});
after(async () => {
  await Promise.allSettled(caches.map((c) => c.close()));
  await closeAllRedisConnections();
  admin.disconnect();
  await server.stop();
});

describe("grace: stale-if-error", () => {
  it("the entry outlives its ttl by the grace period, with its logical expiry inside", async () => {
    const cache = cacheWith(fakeClock());
    const key = uniqueKey("format");
    await cache.getOrSet(key, () => "v1", { ttl: 60, grace: 600 });
    const pttl = await admin.pttl(`${KEYSPACE}:${key}`);
    assert.ok(pttl > 600_000 && pttl <= 660_000, `PX is ttl + grace (got ${pttl})`);
    const raw = await admin.getBuffer(`${KEYSPACE}:${key}`);
    assert.equal(raw?.[0], 0xc1, "framed: the header carries freshUntil");
    // Without grace (nor staleWhileRevalidate) nothing changes: text, PX = ttl.
    const plain = uniqueKey("plain");
    await cache.getOrSet(plain, () => "v1", { ttl: 60 });
    assert.ok((await admin.pttl(`${KEYSPACE}:${plain}`)) <= 60_000);
    assert.equal((await admin.get(`${KEYSPACE}:${plain}`))?.[0], "\x01");
  });

  it("a failing loader: the stale value within grace is served and says why; past grace the error reaches the caller", async () => {
    const clock = fakeClock();
    const cache = cacheWith(clock);
    const stale = collect(cache, "stale");
    const key = uniqueKey("error");
    const options = { ttl: 60, grace: 600, graceBackoff: 0 };
    assert.equal(await cache.getOrSet(key, () => "v1", options), "v1");
    clock.advance(61);
    const failure = new Error("orders db down");
    assert.equal(
      await cache.getOrSet(
        key,
        () => {
          throw failure;
        },
        options,
      ),
      "v1",
    );
    assert.equal(stale.length, 1);
    assert.equal(stale[0]?.reason, "error");
    assert.equal(stale[0]?.error, failure);
    assert.equal(stale[0]?.staleForMs, 1000);
    const stats = cache.getStats();
    assert.equal(stats.staleOnError, 1);
    assert.equal(stats.loadErrors, 1);
    assert.equal(stats.staleHits, 1);
    // A plain get does not serve stale values.
    assert.equal(await cache.get(key), undefined);
    clock.advance(600);
    await assert.rejects(
      cache.getOrSet(
        key,
        () => {
          throw failure;
        },
        options,
      ),
      /orders db down/,
    );
  });

  it("backs off: after a failed load the stale value is served without calling the loader, until graceBackoff ends", async () => {
    const clock = fakeClock();
    const cache = cacheWith(clock);
    const key = uniqueKey("backoff");
    const options = { ttl: 60, grace: 600, graceBackoff: 30 };
    await cache.getOrSet(key, () => "v1", options);
    clock.advance(61);
    let calls = 0;
    const failing = () => {
      calls++;
      throw new Error("still down");
    };
    assert.equal(await cache.getOrSet(key, failing, options), "v1");
    assert.equal(calls, 1);
    clock.advance(20);
    assert.equal(await cache.getOrSet(key, failing, options), "v1");
    assert.equal(await cache.getOrSet(key, failing, options), "v1");
    assert.equal(calls, 1, "no loader call during the backoff");
    assert.equal(cache.getStats().staleOnBackoff, 2);
    clock.advance(11);
    assert.equal(await cache.getOrSet(key, () => "v2", options), "v2", "after the backoff the loader runs");
    clock.advance(1);
    assert.equal(await cache.getOrSet(key, failing, options), "v2", "fresh again");
  });

  it("entries written before grace (plain text, stale-while-revalidate frames) stay readable", async () => {
    const clock = fakeClock();
    const cache = cacheWith(clock);
    const text = uniqueKey("old-text");
    await cache.set(text, { a: 1 }, { ttl: 60 });
    assert.deepStrictEqual(await cache.getOrSet(text, () => ({ a: 2 }), { ttl: 60, grace: 600 }), { a: 1 });
    const swr = uniqueKey("old-swr");
    await cache.getOrSet(swr, () => "old", { ttl: 60, staleWhileRevalidate: 30 });
    clock.advance(61);
    // an swr entry is also a grace candidate
    assert.equal(
      await cache.getOrSet(
        swr,
        () => {
          throw new Error("down");
        },
        { ttl: 60, grace: 600 },
      ),
      "old",
    );
  });
});

describe("loader timeouts", () => {
  it("soft timeout: the stale value is returned while the load goes on in the background and stores its value", {
    timeout: 60_000,
  }, async () => {
    const clock = fakeClock();
    const cache = cacheWith(clock);
    const stale = collect(cache, "stale");
    const key = uniqueKey("soft");
    const options = { ttl: 60, grace: 600, timeouts: { softMs: 5 } };
    await cache.getOrSet(key, () => "v1", options);
    clock.advance(61);
    const slow = deferred<string>();
    // The loader is held until the call has returned: only the soft timeout can answer it.
    assert.equal(await cache.getOrSet(key, () => slow.promise, options), "v1");
    assert.equal(stale[0]?.reason, "soft-timeout");
    assert.equal(cache.getStats().staleOnSoftTimeout, 1);
    // The next caller does not start a second load: it waits for the running one (and times out softly too).
    let second = 0;
    assert.equal(
      await cache.getOrSet(
        key,
        () => {
          second++;
          return "other";
        },
        options,
      ),
      "v1",
    );
    assert.equal(second, 0);
    slow.resolve("v2");
    assert.equal((await cache.flush()).complete, true);
    assert.equal(await cache.get(key), "v2", "the background load stored its value");
  });

  it("without a stale value the soft timeout does not apply", { timeout: 60_000 }, async () => {
    const cache = cacheWith(fakeClock());
    const key = uniqueKey("soft-miss");
    const slow = deferred<string>();
    const call = cache.getOrSet(key, () => slow.promise, { ttl: 60, grace: 600, timeouts: { softMs: 1 } });
    setImmediate(() => slow.resolve("loaded"));
    assert.equal(await call, "loaded");
  });

  it("hard timeout: CacheLoaderTimeoutError without a stale value, the stale value within grace otherwise; the loader's signal is aborted", {
    timeout: 60_000,
  }, async () => {
    const clock = fakeClock();
    const cache = cacheWith(clock);
    const key = uniqueKey("hard");
    const options = { ttl: 60, grace: 600, graceBackoff: 0, timeouts: { hardMs: 5 } };
    const called = deferred<AbortSignal>();
    const never = deferred<string>();
    const error = await cache
      .getOrSet(
        key,
        (ctx: LoaderContext<string>) => {
          called.resolve(ctx.signal);
          return never.promise;
        },
        options,
      )
      .then(
        () => undefined,
        (err: unknown) => err,
      );
    assert.ok(error instanceof CacheLoaderTimeoutError);
    assert.equal(error.key, key);
    assert.equal(error.timeoutMs, 5);
    // (the timeout may fire before the loader is even called: the load goes on and calls it)
    const signal = await called.promise;
    assert.equal(signal.aborted, true);
    // The abandoned load still stores its value when it finishes.
    never.resolve("late");
    await cache.flush();
    assert.equal(await cache.getOrSet(key, () => "unused", options), "late");

    clock.advance(61);
    const stale = collect(cache, "stale");
    const hung = deferred<string>();
    assert.equal(await cache.getOrSet(key, () => hung.promise, options), "late");
    assert.equal(stale[0]?.reason, "timeout");
    const stats = cache.getStats();
    assert.equal(stats.loadTimeouts, 2);
    assert.equal(stats.staleOnTimeout, 1);
    hung.resolve("v3");
    await cache.flush();
  });
});

describe("forceFresh and the loader context", () => {
  it("forceFresh skips a fresh cached value; concurrent forced calls share one loader call", async () => {
    const cache = cacheWith(fakeClock());
    const key = uniqueKey("force");
    await cache.getOrSet(key, () => "v1", { ttl: 60 });
    let calls = 0;
    const loader = async (ctx: LoaderContext<string>) => {
      calls++;
      return `v2 (was ${ctx.stale})`;
    };
    const results = await Promise.all(
      Array.from({ length: 10 }, () => cache.getOrSet(key, loader, { ttl: 60, forceFresh: true })),
    );
    assert.equal(calls, 1);
    assert.deepStrictEqual(new Set(results), new Set(["v2 (was v1)"]));
    assert.equal(await cache.get(key), "v2 (was v1)");
  });

  it("forceFresh across processes: while another holder loads, the caller waits for a newer value instead of loading or taking the old one", {
    timeout: 60_000,
  }, async () => {
    const a = cacheWith(fakeClock());
    const b = cacheWith(fakeClock());
    const key = uniqueKey("force-x");
    await a.getOrSet(key, () => "old", { ttl: 60 });
    const held = deferred<string>();
    const first = a.getOrSet(key, () => held.promise, { ttl: 60, forceFresh: true });
    // wait until A holds the key's stampede lock
    while ((await admin.exists(`${KEYSPACE}:__cp:sl:${key}`)) === 0)
      await new Promise((r) => setImmediate(r));
    const gets = async () => {
      const info = (await admin.info("commandstats")) as string;
      return Number(/^cmdstat_get:calls=(\d+)/m.exec(info)?.[1] ?? 0);
    };
    const getsBefore = await gets();
    let bCalls = 0;
    const second = b.getOrSet(
      key,
      () => {
        bCalls++;
        return "b";
      },
      { ttl: 60, forceFresh: true, lockWait: 60 },
    );
    // A answers only once B has polled (and seen the old entry) a few times
    while ((await gets()) < getsBefore + 6) await new Promise((r) => setTimeout(r, 5));
    held.resolve("new");
    assert.equal(await first, "new");
    assert.equal(await second, "new", "B took A's newer value, not the old one");
    assert.equal(bCalls, 0, "B did not call its loader");
  });

  it("ctx.setTtl sets the ttl from the value (adaptive caching), ctx.skip() returns the value without caching it", async () => {
    const cache = cacheWith(fakeClock());
    const short = uniqueKey("adaptive");
    await cache.getOrSet(
      short,
      (ctx) => {
        ctx.setTtl(5);
        return { expiresIn: 5 };
      },
      { ttl: 3600 },
    );
    const pttl = await admin.pttl(`${KEYSPACE}:${short}`);
    assert.ok(pttl > 0 && pttl <= 5000, `ttl from the value (got ${pttl})`);
    const skipped = uniqueKey("skip");
    assert.equal(
      await cache.getOrSet(skipped, (ctx) => {
        ctx.skip();
        return "error page";
      }),
      "error page",
    );
    assert.equal(await admin.exists(`${KEYSPACE}:${skipped}`), 0, "not cached");
    await assert.rejects(
      cache.getOrSet(uniqueKey("bad-ttl"), (ctx) => {
        ctx.setTtl(-1);
        return 1;
      }),
      /setTtl/,
    );
    await assert.rejects(
      cache.getOrSet(uniqueKey("bad"), () => 1, { grace: -1 }),
      /grace must be/,
    );
    await assert.rejects(
      cache.getOrSet(uniqueKey("bad"), () => 1, { timeouts: { hardMs: 0 } }),
      /timeouts.hardMs/,
    );
  });
});

describe("background work and the Lambda freeze", () => {
  it("flush() waits for a stale-while-revalidate refresh, bounded, and says what was left", {
    timeout: 60_000,
  }, async () => {
    const clock = fakeClock();
    const cache = cacheWith(clock);
    const key = uniqueKey("flush");
    const options = { ttl: 60, staleWhileRevalidate: 600 };
    await cache.getOrSet(key, () => "v1", options);
    clock.advance(61);
    const held = deferred<string>();
    assert.equal(await cache.getOrSet(key, () => held.promise, options), "v1");
    const partial = await cache.flush({ timeoutMs: 1 });
    assert.equal(partial.complete, false);
    assert.deepStrictEqual(
      partial.pending.map((t) => [t.kind, t.key]),
      [["refresh", key]],
    );
    held.resolve("v2");
    const done = await cache.flush({ timeoutMs: 60_000 });
    assert.deepStrictEqual([done.complete, done.pending], [true, []]);
    assert.equal(await cache.getOrSet(key, () => "unused", options), "v2");
  });

  it("without flush, a refresh frozen past its lock ttl: the lock expires, the entry stays whole, later callers start a new refresh, the late value is dropped", {
    timeout: 60_000,
  }, async () => {
    const clock = fakeClock();
    const cache = cacheWith(clock);
    const key = uniqueKey("freeze");
    const options = { ttl: 60, staleWhileRevalidate: 600, lockTtl: 5 };
    await cache.getOrSet(key, () => "v1", options);
    clock.advance(61);
    const frozen = deferred<string>();
    const started = deferred<void>();
    const frozenLoader = () => {
      started.resolve();
      return frozen.promise;
    };
    assert.equal(await cache.getOrSet(key, frozenLoader, options), "v1");
    await started.promise; // the refresh holds the lock and its loader runs
    // The refresh holds the lock with a ttl: a process frozen now cannot hold it forever.
    const lockTtl = await admin.pttl(`${KEYSPACE}:__cp:sl:${key}`);
    assert.ok(lockTtl > 0 && lockTtl <= 5000, `the lock expires by itself (PTTL ${lockTtl})`);
    // The entry is the whole old value meanwhile (one SET replaces it, never a partial write).
    assert.equal(await cache.getOrSet(key, () => "unused", options), "v1");

    // Thaw after longer than the lock's ttl: the refresh is not waited for, a new one runs.
    clock.advance(6);
    let second = 0;
    assert.equal(
      await cache.getOrSet(
        key,
        () => {
          second++;
          return "v2";
        },
        options,
      ),
      "v1",
    );
    // Bounded: with the frozen refresh still counted as live this would give up with complete: false.
    const result = await cache.flush({ timeoutMs: 5000 });
    assert.equal(result.complete, true, "the frozen refresh is not waited for");
    assert.equal(second, 1, "a new refresh ran instead of waiting on the frozen one");
    assert.deepStrictEqual(
      result.abandoned.map((t) => t.key),
      [key],
    );
    assert.equal(await cache.getOrSet(key, () => "unused", options), "v2");
    // The frozen loader answers at last: its minutes-old value does not overwrite v2.
    frozen.resolve("v1-late");
    await frozen.promise;
    // every continuation of the late load has run (a SET it issued now goes before the read below)
    await new Promise((r) => setImmediate(r));
    assert.equal(await cache.getOrSet(key, () => "unused", options), "v2");
  });

  it("wrapHandler returns only after the cache's background work, also when the handler throws", {
    timeout: 60_000,
  }, async () => {
    const clock = fakeClock();
    const cache = cacheWith(clock);
    const key = uniqueKey("wrap");
    const options = { ttl: 60, staleWhileRevalidate: 600 };
    await cache.getOrSet(key, () => "v1", options);
    clock.advance(61);
    const handler = wrapHandler(
      async (event: { fail: boolean; value: string }) => {
        const source = deferred<string>();
        const value = await cache.getOrSet(key, () => source.promise, options);
        // the refresh's loader answers only after the handler has returned
        setImmediate(() => source.resolve(event.value));
        if (event.fail) throw new Error("handler failed");
        return value;
      },
      cache,
      { timeoutMs: 60_000 },
    );
    assert.equal(await handler({ fail: false, value: "v2" }, {}), "v1");
    assert.equal(await admin.get(`${KEYSPACE}:${key}`).then((raw) => raw?.includes("v2")), true);

    clock.advance(61);
    await assert.rejects(handler({ fail: true, value: "v3" }, {}), /handler failed/);
    assert.equal(await admin.get(`${KEYSPACE}:${key}`).then((raw) => raw?.includes("v3")), true);
  });

  it("wrapHandler keeps the flush within the invocation's remaining time", async () => {
    const clock = fakeClock();
    const cache = cacheWith(clock);
    const key = uniqueKey("deadline");
    const options = { ttl: 60, staleWhileRevalidate: 600 };
    await cache.getOrSet(key, () => "v1", options);
    clock.advance(61);
    const held = deferred<string>();
    const results: unknown[] = [];
    const handler = wrapHandler(() => cache.getOrSet(key, () => held.promise, options), [cache], {
      onFlush: (r) => results.push(...r),
    });
    // 100 ms left, 100 ms reserved: no time to wait
    assert.equal(await handler({}, { getRemainingTimeInMillis: () => 100 }), "v1");
    assert.equal((results[0] as { complete: boolean }).complete, false);
    held.resolve("v2");
    await cache.flush();
  });
});
