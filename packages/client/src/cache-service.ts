/**
 * CacheService: one API over every {@link CacheStore}, with serialization, the circuit breaker and
 * fallback chain, statistics and events, and cache-aside with stampede protection (getOrSet).
 * Durations in this API are seconds (fractions allowed); store calls use milliseconds.
 */
import { randomBytes } from "node:crypto";
import { setTimeout as sleep } from "node:timers/promises";
import { type BreakerOptions, isBrokenCircuitError, StoreBreaker } from "./circuit-breaker.js";
import { type Codec, type CompressionOptions, Serializer } from "./codec.js";
import {
  CacheConfigError,
  CacheKeyError,
  CacheUnavailableError,
  describeError,
  isConfigurationError,
} from "./errors.js";
import { type CacheEventListener, type CacheEventName, EventHub } from "./events.js";
import { type HealthOptions, type HealthReport, runHealthCheck } from "./health.js";
import { acquireLock, type Lock, type LockOptions } from "./patterns/lock.js";
import { createPubSub, type PubSub } from "./patterns/pubsub.js";
import { createRateLimiter, type RateLimiter, type RateLimiterOptions } from "./patterns/rate-limiter.js";
import { createSessionStore, type SessionStore, type SessionsOptions } from "./patterns/sessions.js";
import { type CacheStats, Counters, LatencyWindow } from "./stats.js";
import type { CacheStore } from "./stores/cache-store.js";

export interface CacheServiceOptions {
  /** The primary store. */
  store: CacheStore;
  /** Serves reads and takes writes while the primary fails or its breaker is open, e.g. a DynamoDbStore. */
  fallback?: CacheStore;
  /** Default: tagged JSON (round-trips Date, BigInt, Buffer, Map, Set, undefined). */
  codec?: Codec;
  /** Compress encoded values above a size threshold. Default off. */
  compression?: CompressionOptions | false;
  /** Seconds a value lives when `set` gets no `ttl`. Default 300. `Infinity` = no expiry. */
  defaultTtl?: number;
  /** Circuit breaker around the primary store; `false` disables it. */
  breaker?: BreakerOptions | false;
  /** Throw {@link CacheUnavailableError} when a call cannot be served, instead of a miss/no-op. Default false. */
  throwOnError?: boolean;
  /** Longest key in UTF-8 bytes. Default 1024. */
  maxKeyLength?: number;
  /** Called once by `close()` after the stores are closed (used by createCache for shared connections). */
  onClose?: () => Promise<void>;
}

export interface SetOptions {
  /** Seconds to live. Default: the service's `defaultTtl`. `Infinity` = no expiry. */
  ttl?: number;
}

export interface GetOrSetOptions extends SetOptions {
  /**
   * Seconds after `ttl` during which a stale value is still served (at once) while one background
   * refresh runs. Default 0 (off).
   */
  staleWhileRevalidate?: number;
  /** Seconds the cross-process loader lock lives. Default 5. */
  lockTtl?: number;
  /** Seconds other processes poll for the value before loading themselves. Default: `lockTtl`. */
  lockWait?: number;
}

export interface SetManyEntry<T = unknown> {
  key: string;
  value: T;
  /** Seconds; default: the options' ttl, then the service's `defaultTtl`. */
  ttl?: number;
}

type Attempt<R> = { ok: true; value: R; source: "primary" | "fallback" } | { ok: false; error: unknown };

type ReadResult =
  | { state: "hit"; value: unknown; stale: boolean }
  | { state: "miss" }
  | { state: "unavailable" };

const LOCK_PREFIX = "__lock:";
/** A read that could not be served (store and fallback failed). */
const UNAVAILABLE: unique symbol = Symbol("unavailable");
const NO_OPTIONS: Readonly<GetOrSetOptions> = Object.freeze({});

/** Writes a payload from `Serializer.encodePayload`: text through `setText` when the store has it. */
function storeSet(store: CacheStore, key: string, payload: Buffer | string, ttlMs: number | undefined) {
  if (typeof payload !== "string") return store.set(key, payload, ttlMs);
  return store.setText
    ? store.setText(key, payload, ttlMs)
    : store.set(key, Buffer.from(payload, "utf8"), ttlMs);
}

function ttlToMs(ttl: number, field = "ttl"): number | undefined {
  if (ttl === Number.POSITIVE_INFINITY) return undefined;
  if (typeof ttl !== "number" || !Number.isFinite(ttl) || ttl <= 0) {
    throw new CacheConfigError(`${field} must be a positive number of seconds (or Infinity)`, [field]);
  }
  return Math.max(1, Math.round(ttl * 1000));
}

export class CacheService {
  readonly store: CacheStore;
  readonly fallback: CacheStore | undefined;
  readonly serializer: Serializer;
  readonly defaultTtl: number;
  readonly throwOnError: boolean;
  private readonly breaker: StoreBreaker | undefined;
  private readonly counters = new Counters();
  private readonly latency = new LatencyWindow(1024);
  private readonly events = new EventHub();
  private readonly maxKeyLength: number;
  /**
   * In-flight getOrSet calls by key. A null-prototype object rather than a Map: under this
   * insert/delete churn V8 (Node 20) promotes what a Map's values reference into the old generation
   * (measured with 32 calls in flight: ~60 × the promoted bytes, frequent mark-compacts and
   * ~1.5 µs more per call); a dictionary-mode object does not.
   */
  private readonly inflight: Record<string, Promise<unknown> | undefined> = Object.create(null);
  private readonly background = new Map<string, Promise<void>>();
  private readonly onClose: (() => Promise<void>) | undefined;
  private closed = false;

  constructor(options: CacheServiceOptions) {
    this.store = options.store;
    this.fallback = options.fallback;
    this.serializer = new Serializer({ codec: options.codec, compression: options.compression });
    this.defaultTtl = options.defaultTtl ?? 300;
    ttlToMs(this.defaultTtl, "defaultTtl");
    this.throwOnError = options.throwOnError ?? false;
    this.maxKeyLength = options.maxKeyLength ?? 1024;
    this.onClose = options.onClose;
    if (options.breaker !== false) {
      this.breaker = new StoreBreaker(options.breaker ?? {}, (state, previous) =>
        this.events.emit("breaker", { state, previous }),
      );
    }
  }

  // ---------------------------------------------------------------- events and stats

  /** Subscribes to `hit`, `miss`, `error`, `breaker` or `fallback`; returns an unsubscribe function. */
  on<E extends CacheEventName>(event: E, listener: CacheEventListener<E>): () => void {
    return this.events.on(event, listener);
  }

  getStats(): CacheStats {
    const c = this.counters;
    const reads = c.hits + c.misses;
    return {
      hits: c.hits,
      misses: c.misses,
      staleHits: c.staleHits,
      sets: c.sets,
      deletes: c.deletes,
      loads: c.loads,
      errors: c.errors,
      fallbacks: c.fallbacks,
      hitRate: reads === 0 ? 0 : c.hits / reads,
      breaker: this.breaker ? this.breaker.state : "disabled",
      storage: this.store.kind,
      fallbackStorage: this.fallback?.kind,
      latency: this.latency.summary(),
    };
  }

  /** Current breaker state (`disabled` when there is none). */
  get breakerState(): CacheStats["breaker"] {
    return this.breaker ? this.breaker.state : "disabled";
  }

  // ---------------------------------------------------------------- guarded store calls

  /**
   * Runs `fn` on the primary store through the breaker; on failure, on the fallback store; else
   * reports `{ ok: false }` (or throws with `throwOnError`). Configuration errors always throw.
   * @internal used by the patterns.
   */
  async _run<R>(
    operation: string,
    key: string | undefined,
    fn: (store: CacheStore) => Promise<R>,
    options?: { fallback?: boolean },
  ): Promise<Attempt<R>> {
    if (this.closed)
      throw new CacheConfigError(`CacheService is closed (${operation})`, [], { operation, key });
    // Closed breaker (the normal case): call the store directly and report the outcome to the
    // breaker; open or half-open: through the breaker's policy. The failure handling lives in
    // `_failed()` so this function's suspended frame (allocated on every await) stays small.
    const direct = this._direct();
    const started = performance.now();
    let value: R;
    try {
      value = direct
        ? await fn(this.store)
        : await (this.breaker as StoreBreaker).execute(() => fn(this.store));
    } catch (err) {
      return this._failed(operation, key, fn, options, err, started, direct);
    }
    this._succeeded(started, direct);
    return { ok: true, value, source: "primary" };
  }

  /**
   * `_run`'s hot path, for callers that inline it to save an async layer per call (get, getOrSet,
   * the rate limiter): true when a call may go straight to the primary store (service open,
   * breaker closed or off). The caller then awaits the store itself and reports the outcome with
   * {@link _succeeded} or {@link _failed}, exactly as `_run` does.
   * @internal
   */
  _direct(): boolean {
    return !this.closed && (this.breaker === undefined || this.breaker.closed);
  }

  /** @internal see {@link _direct}. */
  _succeeded(started: number, direct: boolean): void {
    if (direct) this.breaker?.succeeded();
    this.latency.record(performance.now() - started);
  }

  /**
   * A primary read: `_run(operation, key, (s) => s.get(key))`. `get` and `loadThrough` inline its
   * hot path (a direct store call: one async layer and one closure less per call) and come here
   * only when the breaker is not closed or the service is closed.
   */
  private async readSlow(operation: string, key: string): Promise<Buffer | undefined | typeof UNAVAILABLE> {
    const result = await this._run(operation, key, (s) => s.get(key));
    return result.ok ? result.value : UNAVAILABLE;
  }

  /** After a direct primary read failed: the fallback store, events, UNAVAILABLE, or a throw. */
  private async readFailed(
    operation: string,
    key: string,
    err: unknown,
    started: number,
  ): Promise<Buffer | undefined | typeof UNAVAILABLE> {
    const result = await this._failed(operation, key, (s) => s.get(key), undefined, err, started, true);
    return result.ok ? result.value : UNAVAILABLE;
  }

  /** `_run` after the primary store failed (or the open breaker refused the call). @internal */
  async _failed<R>(
    operation: string,
    key: string | undefined,
    fn: (store: CacheStore) => Promise<R>,
    options: { fallback?: boolean } | undefined,
    err: unknown,
    started: number,
    direct: boolean,
  ): Promise<Attempt<R>> {
    if (direct && this.breaker) await this.breaker.failed(err);
    if (isConfigurationError(err)) throw err;
    if (!isBrokenCircuitError(err)) {
      this.latency.record(performance.now() - started);
      this.counters.errors++;
      this.events.emit("error", { operation, key, error: err, storage: this.store.kind });
    }
    if (this.fallback && options?.fallback !== false) {
      try {
        const value = await fn(this.fallback);
        this.counters.fallbacks++;
        this.events.emit("fallback", { operation, key, target: this.fallback.kind });
        return { ok: true, value, source: "fallback" };
      } catch (fallbackErr) {
        if (isConfigurationError(fallbackErr)) throw fallbackErr;
        this.counters.errors++;
        this.events.emit("error", { operation, key, error: fallbackErr, storage: this.fallback.kind });
      }
    }
    this.counters.fallbacks++;
    this.events.emit("fallback", { operation, key, target: "none" });
    if (this.throwOnError) {
      throw new CacheUnavailableError(
        `Cache ${operation} failed on ${this.store.kind}${
          isBrokenCircuitError(err) ? " (circuit breaker open)" : ""
        }: ${describeError(err)}`,
        { operation, key, cause: err },
      );
    }
    return { ok: false, error: err };
  }

  private checkKey(key: unknown, operation: string): asserts key is string {
    if (typeof key !== "string" || key.length === 0) {
      throw new CacheKeyError(`Cache key must be a non-empty string (${operation})`, { operation });
    }
    if (key.length * 3 > this.maxKeyLength && Buffer.byteLength(key) > this.maxKeyLength) {
      throw new CacheKeyError(`Cache key is longer than ${this.maxKeyLength} bytes (${operation})`, {
        operation,
        key: key.slice(0, 64),
      });
    }
  }

  private ttlMs(ttl: number | undefined): number | undefined {
    return ttlToMs(ttl ?? this.defaultTtl);
  }

  private recordRead(operation: string, key: string, hit: boolean, stale = false): void {
    if (hit) {
      this.counters.hits++;
      if (stale) this.counters.staleHits++;
      if (this.events.has("hit"))
        this.events.emit("hit", stale ? { operation, key, stale } : { operation, key });
    } else {
      this.counters.misses++;
      if (this.events.has("miss")) this.events.emit("miss", { operation, key });
    }
  }

  // ---------------------------------------------------------------- the cache API

  /** The value, or `undefined` on a miss (or when the store cannot be reached). */
  get<T = unknown>(key: string): Promise<T | undefined> {
    try {
      this.checkKey(key, "get");
    } catch (err) {
      return Promise.reject(err);
    }
    if (!this._direct()) return this.readSlow("get", key).then((raw) => this.finishGet<T>(key, raw));
    // _run's hot path, inlined (see _direct); a plain function with one `then`, no async frame.
    const started = performance.now();
    let pending: Promise<Buffer | undefined>;
    try {
      // Promise.resolve: a store's native promise as is; a (JS) store answering a plain value works too.
      pending = Promise.resolve(this.store.get(key));
    } catch (err) {
      pending = Promise.reject(err);
    }
    return pending.then(
      (raw) => {
        this._succeeded(started, true);
        return this.finishGet<T>(key, raw);
      },
      (err: unknown) => this.readFailed("get", key, err, started).then((raw) => this.finishGet<T>(key, raw)),
    );
  }

  /** Decodes what `get` read (a miss when undefined, unavailable, or past its freshness). */
  private finishGet<T>(key: string, raw: Buffer | undefined | typeof UNAVAILABLE): T | undefined {
    if (raw === undefined || raw === UNAVAILABLE) {
      this.recordRead("get", key, false);
      return undefined;
    }
    const entry = this.serializer.decodeEntry(raw, key);
    if (entry.freshUntil !== undefined && entry.freshUntil <= Date.now()) {
      this.recordRead("get", key, false);
      return undefined;
    }
    this.recordRead("get", key, true);
    return entry.value as T;
  }

  /** Stores a value; `false` when it could not be stored (store unavailable). */
  set<T = unknown>(key: string, value: T, options: SetOptions = NO_OPTIONS): Promise<boolean> {
    let ttlMs: number | undefined;
    let payload: Buffer | string;
    try {
      this.checkKey(key, "set");
      ttlMs = this.ttlMs(options.ttl);
      payload = this.serializer.encodePayload(value, key);
    } catch (err) {
      return Promise.reject(err);
    }
    if (!this._direct()) {
      return this._run("set", key, (s) => storeSet(s, key, payload, ttlMs)).then((r) => this.countSet(r.ok));
    }
    // _run's hot path, inlined (see _direct); a plain function with one `then`, no async frame.
    const started = performance.now();
    let pending: Promise<void>;
    try {
      pending = Promise.resolve(storeSet(this.store, key, payload, ttlMs));
    } catch (err) {
      pending = Promise.reject(err);
    }
    return pending.then(
      () => {
        this._succeeded(started, true);
        return this.countSet(true);
      },
      (err: unknown) =>
        this._failed("set", key, (s) => storeSet(s, key, payload, ttlMs), undefined, err, started, true).then(
          (r) => this.countSet(r.ok),
        ),
    );
  }

  private countSet(ok: boolean): boolean {
    if (ok) this.counters.sets++;
    return ok;
  }

  /** `true` when the key existed. */
  async delete(key: string): Promise<boolean> {
    this.checkKey(key, "delete");
    const result = await this._run("delete", key, (s) => s.delete(key));
    if (result.ok && result.value) this.counters.deletes++;
    return result.ok ? result.value : false;
  }

  async has(key: string): Promise<boolean> {
    this.checkKey(key, "has");
    const result = await this._run("has", key, (s) => s.has(key));
    return result.ok ? result.value : false;
  }

  /** Values aligned with `keys` (`undefined` for misses). Keys of different cluster slots are fine. */
  async getMany<T = unknown>(keys: readonly string[]): Promise<(T | undefined)[]> {
    for (const key of keys) this.checkKey(key, "getMany");
    if (keys.length === 0) return [];
    const result = await this._run("getMany", undefined, (s) => s.getMany(keys));
    const now = Date.now();
    return keys.map((key, i) => {
      const raw = result.ok ? result.value[i] : undefined;
      if (raw === undefined) {
        this.recordRead("getMany", key, false);
        return undefined;
      }
      const entry = this.serializer.decodeEntry(raw, key);
      if (entry.freshUntil !== undefined && entry.freshUntil <= now) {
        this.recordRead("getMany", key, false);
        return undefined;
      }
      this.recordRead("getMany", key, true);
      return entry.value as T;
    });
  }

  /** Stores many values (pipelined / batched per store). */
  async setMany<T = unknown>(
    entries: readonly SetManyEntry<T>[],
    options: SetOptions = {},
  ): Promise<boolean> {
    const encoded = entries.map((entry) => {
      this.checkKey(entry.key, "setMany");
      return {
        key: entry.key,
        value: this.serializer.encode(entry.value, entry.key),
        ttlMs: this.ttlMs(entry.ttl ?? options.ttl),
      };
    });
    if (encoded.length === 0) return true;
    const result = await this._run("setMany", undefined, (s) => s.setMany(encoded));
    if (result.ok) this.counters.sets += encoded.length;
    return result.ok;
  }

  /** How many of the keys existed. */
  async deleteMany(keys: readonly string[]): Promise<number> {
    for (const key of keys) this.checkKey(key, "deleteMany");
    if (keys.length === 0) return 0;
    const result = await this._run("deleteMany", undefined, (s) => s.deleteMany(keys));
    const count = result.ok ? result.value : 0;
    this.counters.deletes += count;
    return count;
  }

  /** Sets a new ttl (seconds) on an existing key; `false` when it does not exist. */
  async expire(key: string, ttl: number): Promise<boolean> {
    this.checkKey(key, "expire");
    const ttlMs = ttlToMs(ttl);
    if (ttlMs === undefined) throw new CacheConfigError("expire needs a finite ttl", ["ttl"]);
    const result = await this._run("expire", key, (s) => s.expire(key, ttlMs));
    return result.ok ? result.value : false;
  }

  /** Remaining seconds; `Infinity` when the key has no expiry; `undefined` when it does not exist. */
  async getTtl(key: string): Promise<number | undefined> {
    this.checkKey(key, "getTtl");
    const result = await this._run("getTtl", key, (s) => s.getTtl(key));
    if (!result.ok || result.value === undefined) return undefined;
    return result.value === Number.POSITIVE_INFINITY ? result.value : result.value / 1000;
  }

  /** Deletes every key of this keyspace (SCAN-based on Redis, on every cluster master). */
  async clear(): Promise<number> {
    const result = await this._run("clear", undefined, (s) => s.clear());
    return result.ok ? result.value : 0;
  }

  // ---------------------------------------------------------------- cache-aside

  /**
   * The cached value, or the loader's value (then cached). Concurrent callers in this process share
   * one loader call; across processes a short lock lets one loader run while the others poll for
   * the value (bounded), then load themselves. Loader errors are not cached and reach the caller.
   * When the store is unavailable the loader is called and its value returned.
   */
  getOrSet<T>(key: string, loader: () => Promise<T> | T, options: GetOrSetOptions = NO_OPTIONS): Promise<T> {
    try {
      this.checkKey(key, "getOrSet");
    } catch (err) {
      return Promise.reject(err);
    }
    const existing = this.inflight[key];
    if (existing !== undefined) return existing as Promise<T>;
    // loadThrough removes the entry when it settles (always after this set: it awaits first).
    const promise = this.loadThrough(key, loader, options);
    this.inflight[key] = promise;
    return promise;
  }

  /** Waits for background work (stale-while-revalidate refreshes) to finish. */
  async drain(): Promise<void> {
    while (this.background.size > 0) await Promise.allSettled([...this.background.values()]);
  }

  private async readEntry(key: string, operation: string): Promise<ReadResult> {
    return this.toReadResult(await this.readSlow(operation, key), key, operation);
  }

  private toReadResult(
    raw: Buffer | undefined | typeof UNAVAILABLE,
    key: string,
    operation: string,
  ): ReadResult {
    if (raw === UNAVAILABLE) return { state: "unavailable" };
    if (raw === undefined) return { state: "miss" };
    try {
      const entry = this.serializer.decodeEntry(raw, key);
      return {
        state: "hit",
        value: entry.value,
        stale: entry.freshUntil !== undefined && entry.freshUntil <= Date.now(),
      };
    } catch (err) {
      // A corrupt entry is reported and then replaced by the loader's value.
      this.counters.errors++;
      this.events.emit("error", { operation, key, error: err, storage: this.store.kind });
      return { state: "miss" };
    }
  }

  private async writeEntry(key: string, value: unknown, options: GetOrSetOptions): Promise<void> {
    const ttlMs = this.ttlMs(options.ttl);
    const swrMs = options.staleWhileRevalidate ? Math.round(options.staleWhileRevalidate * 1000) : 0;
    let payload: Buffer | string;
    let storeTtl = ttlMs;
    if (swrMs > 0 && ttlMs !== undefined) {
      payload = this.serializer.encodePayload(value, key, Date.now() + ttlMs);
      storeTtl = ttlMs + swrMs;
    } else {
      payload = this.serializer.encodePayload(value, key);
    }
    const result = await this._run("set", key, (s) => storeSet(s, key, payload, storeTtl));
    if (result.ok) this.counters.sets++;
  }

  private async callLoader<T>(
    key: string,
    loader: () => Promise<T> | T,
    options: GetOrSetOptions,
  ): Promise<T> {
    this.counters.loads++;
    const value = await loader();
    await this.writeEntry(key, value, options);
    return value;
  }

  /** getOrSet's work for one key; removes the key's in-flight entry when it settles. */
  private async loadThrough<T>(
    key: string,
    loader: () => Promise<T> | T,
    options: GetOrSetOptions,
  ): Promise<T> {
    try {
      let raw: Buffer | undefined | typeof UNAVAILABLE;
      if (this._direct()) {
        // _run's hot path, inlined (see _direct).
        const started = performance.now();
        let failed = false;
        try {
          raw = await this.store.get(key);
        } catch (err) {
          failed = true;
          raw = await this.readFailed("getOrSet", key, err, started);
        }
        if (!failed) this._succeeded(started, true);
      } else {
        raw = await this.readSlow("getOrSet", key);
      }
      const first = this.toReadResult(raw, key, "getOrSet");
      if (first.state === "hit" && !first.stale) {
        this.recordRead("getOrSet", key, true);
        return first.value as T;
      }
      return await this.loadAfterRead(key, loader, options, first);
    } finally {
      delete this.inflight[key];
    }
  }

  /** getOrSet past a fresh hit: stale-while-revalidate, or load (under a lock when shared). */
  private async loadAfterRead<T>(
    key: string,
    loader: () => Promise<T> | T,
    options: GetOrSetOptions,
    first: ReadResult,
  ): Promise<T> {
    if (first.state === "hit") {
      if (options.staleWhileRevalidate) {
        this.recordRead("getOrSet", key, true, true);
        this.refreshInBackground(key, loader, options);
        return first.value as T;
      }
    }
    this.recordRead("getOrSet", key, false);
    if (first.state === "unavailable" || (this.store.local && !this.fallback)) {
      return this.callLoader(key, loader, options);
    }

    const lockKey = LOCK_PREFIX + key;
    const lockTtlMs = ttlToMs(options.lockTtl ?? 5, "lockTtl") ?? 5000;
    const waitMs = Math.round((options.lockWait ?? lockTtlMs / 1000) * 1000);
    const token = randomBytes(12);
    const tryLock = async (): Promise<"acquired" | "held" | "unavailable"> => {
      const r = await this._run("lock", lockKey, (s) => s.setIfAbsent(lockKey, token, lockTtlMs));
      if (!r.ok) return "unavailable";
      return r.value ? "acquired" : "held";
    };
    const loadUnderLock = async (): Promise<T> => {
      try {
        // Someone may have stored the value between our read and our lock.
        const again = await this.readEntry(key, "getOrSet");
        if (again.state === "hit" && !again.stale) return again.value as T;
        return await this.callLoader(key, loader, options);
      } finally {
        await this._run("unlock", lockKey, (s) => s.compareAndDelete(lockKey, token)).catch(() => undefined);
      }
    };

    let lock = await tryLock();
    if (lock === "acquired") return loadUnderLock();
    if (lock === "unavailable") return this.callLoader(key, loader, options);

    const deadline = Date.now() + waitMs;
    let delay = 15;
    while (Date.now() < deadline) {
      await sleep(Math.min(delay + Math.random() * delay, Math.max(1, deadline - Date.now())));
      delay = Math.min(delay * 1.5, 200);
      const polled = await this.readEntry(key, "getOrSet");
      if (polled.state === "hit" && !polled.stale) return polled.value as T;
      if (polled.state === "unavailable") break;
      // The holder may have failed (lock released without a value): take over.
      lock = await tryLock();
      if (lock === "acquired") return loadUnderLock();
      if (lock === "unavailable") break;
    }
    return this.callLoader(key, loader, options);
  }

  private refreshInBackground<T>(key: string, loader: () => Promise<T> | T, options: GetOrSetOptions): void {
    if (this.background.has(key)) return;
    const lockKey = LOCK_PREFIX + key;
    const token = randomBytes(12);
    const lockTtlMs = ttlToMs(options.lockTtl ?? 5, "lockTtl") ?? 5000;
    const task = (async () => {
      const r = await this._run("lock", lockKey, (s) => s.setIfAbsent(lockKey, token, lockTtlMs));
      // Another process refreshes already.
      if (r.ok && !r.value) return;
      try {
        await this.callLoader(key, loader, options);
      } finally {
        if (r.ok) await this._run("unlock", lockKey, (s) => s.compareAndDelete(lockKey, token));
      }
    })()
      .catch((err: unknown) => {
        this.events.emit("error", { operation: "refresh", key, error: err, storage: this.store.kind });
      })
      .finally(() => {
        this.background.delete(key);
      });
    this.background.set(key, task);
  }

  // ---------------------------------------------------------------- patterns

  /** A rate limiter in this keyspace (atomic Lua on Redis, in-process on memory). */
  rateLimiter(options: RateLimiterOptions): RateLimiter {
    return createRateLimiter(this, options);
  }

  /** Sessions cached under `session:<id>` with an optional source-of-truth loader. */
  sessions<T = unknown>(options: SessionsOptions<T>): SessionStore<T> {
    return createSessionStore<T>(this, options);
  }

  /** Pub/sub with typed messages on channels prefixed with the keyspace (dedicated subscriber connection). */
  pubsub<M extends Record<string, unknown> = Record<string, unknown>>(): PubSub<M> {
    return createPubSub<M>(this);
  }

  /** A lock held until `release()` or `ttl` seconds; `undefined` when it is held elsewhere. */
  async lock(key: string, ttl: number, options: LockOptions = {}): Promise<Lock | undefined> {
    this.checkKey(key, "lock");
    return acquireLock(this, key, ttl, options);
  }

  /** Runs `fn` while holding the lock; `undefined` (without running) when the lock is held elsewhere. */
  async withLock<R>(
    key: string,
    ttl: number,
    fn: (lock: Lock) => Promise<R>,
    options: LockOptions = {},
  ): Promise<{ acquired: true; result: R } | { acquired: false }> {
    const lock = await this.lock(key, ttl, options);
    if (!lock) return { acquired: false };
    try {
      return { acquired: true, result: await fn(lock) };
    } finally {
      await lock.release();
    }
  }

  /** Ping plus a write/read/delete probe in the keyspace, for a service's health path. */
  health(options: HealthOptions = {}): Promise<HealthReport> {
    return runHealthCheck(this, options);
  }

  // ---------------------------------------------------------------- lifecycle

  /** Opens the connection now (e.g. during Lambda init) instead of at the first call. */
  async connect(): Promise<void> {
    await this.store.connect?.();
  }

  /** Waits for background refreshes, then closes the stores (shared connections are reference-counted). */
  async close(): Promise<void> {
    if (this.closed) return;
    await this.drain();
    this.closed = true;
    this.events.clear();
    await Promise.allSettled([this.store.close(), this.fallback?.close()]);
    await this.onClose?.();
  }
}
