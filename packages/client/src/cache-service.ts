/**
 * CacheService: one API over every {@link CacheStore}, with serialization, per-node circuit breakers
 * and the fallback chain, generations (O(1) `clear()`) and tags, statistics and events, and
 * cache-aside with stampede protection (getOrSet). Durations in this API are seconds (fractions
 * allowed); store calls use milliseconds.
 */
import { KeyBackoff } from "./cache-aside/backoff.js";
import { LoadLease } from "./cache-aside/lease.js";
import { LoadContext, type LoaderContext } from "./cache-aside/loader-context.js";
import { type CacheAsidePolicy, cacheAsidePolicy, type LoaderTimeouts } from "./cache-aside/policy.js";
import { awaitLoad } from "./cache-aside/timeouts.js";
import {
  BREAKER_OPEN,
  BreakerOpenError,
  type BreakerOptions,
  Breakers,
  isBrokenCircuitError,
} from "./circuit-breaker.js";
import {
  type Codec,
  type CompressionOptions,
  type Envelope,
  MAX_TAG_BYTES,
  MAX_TAGS,
  Serializer,
  type TagStamp,
} from "./codec.js";
import { type EmfMetrics, emfMetrics, type MetricsSink } from "./emf-metrics.js";
import {
  CacheConfigError,
  CacheKeyError,
  CacheLoaderTimeoutError,
  CacheUnavailableError,
  describeError,
  isConfigurationError,
} from "./errors.js";
import { type CacheLogger, logEvents } from "./event-logger.js";
import { type CacheEventListener, type CacheEventName, EventHub, type StaleReason } from "./events.js";
import { type HealthOptions, type HealthReport, runHealthCheck } from "./health.js";
import { GENERATION_KEY, isReservedKey, reservedKeyError, stampedeLockKey, tagKey } from "./internal-keys.js";
import {
  LOCAL_MISS,
  type LocalTierHandle as LocalTier,
  type LocalTierFactory,
} from "./local-tier/contract.js";
import { builtin, sleep } from "./node-builtins.js";
import { PendingInvalidations } from "./outage.js";
import { acquireLock, type Lock, type LockOptions } from "./patterns/lock.js";
import { type FlushResult, PendingWork } from "./pending-work.js";
import { type CacheStats, Counters, LatencyWindow } from "./stats.js";
import type { CacheStore, StoreEntry } from "./stores/cache-store.js";
import { type GenerationRead, newVersion, StoreVersions } from "./versions.js";

export interface CacheServiceOptions {
  /** The primary store. */
  store: CacheStore;
  /** Serves reads and takes writes while the primary fails or its breaker is open, e.g. a DynamoDbStore. */
  fallback?: CacheStore;
  /** Default: tagged JSON (round-trips Date, BigInt, Buffer, Map, Set, undefined). */
  codec?: Codec;
  /** Compress encoded values above a size threshold. Default off. */
  compression?: CompressionOptions | false;
  /** Seconds a value lives when `set` gets no `ttl`. Default 300. */
  defaultTtl?: number;
  /**
   * The ttl ceiling in seconds: no entry written through this service lives longer (a longer ttl,
   * or `Infinity`, is lowered to it), so nothing stays in the shared cache forever by accident and
   * entries orphaned by `clear()` or `invalidateTags()` are reclaimed. Default 86,400 (one day).
   * `Infinity` lifts the ceiling (then `ttl: Infinity` means no expiry).
   */
  maxTtl?: number;
  /** Circuit breakers around the primary store (one per cluster node); `false` disables them. */
  breaker?: BreakerOptions | false;
  /** Throw {@link CacheUnavailableError} when a call cannot be served, instead of a miss/no-op. Default false. */
  throwOnError?: boolean;
  /** Longest key in UTF-8 bytes. Default 1024. */
  maxKeyLength?: number;
  /**
   * Keys written or deleted while the primary failed are remembered (and deleted on the primary when
   * it is back) up to this many; beyond it, the whole keyspace is invalidated on recovery instead.
   * Default 10,000.
   */
  maxPendingInvalidations?: number;
  /** Called once by `close()` after the stores are closed (used by createCache for shared connections). */
  onClose?: () => Promise<void>;
  /**
   * A Powertools `Metrics` instance (or any {@link MetricsSink}): `flush()` adds the cache's
   * metrics since the last flush to it and publishes them with the service's own, so one EMF
   * pipeline carries both. Default: none (use {@link emfMetrics} for the built-in EMF writer).
   */
  metrics?: MetricsSink;
  /**
   * A Powertools `Logger` (or any {@link CacheLogger}): store errors, breaker changes, fallbacks
   * (debug) and stale values served by getOrSet (with the reason) are logged through it. Default:
   * the client logs nothing.
   */
  logger?: CacheLogger;
  /** Clock (epoch ms) for freshness, grace, backoff and load leases. Default `Date.now`; tests inject one. */
  now?: () => number;
  /**
   * `localTier({...})` from `@cacheplane/client/local`: a bounded in-process tier in front of a
   * Redis store, kept coherent across processes through pub/sub on `<keyspace>:__cp:bus`. Default
   * off. Not used over memory storage.
   */
  local?: LocalTierFactory | false;
}

export interface GetOptions {
  /** Use the local tier for this call (default: the tier's `byDefault`). */
  local?: boolean;
}

/** A getOrSet loader: the value of the key, from its source. `ctx` is optional to use. */
export type Loader<T> = (ctx: LoaderContext<T>) => Promise<T> | T;

/** Options of {@link CacheService.flush}. */
export interface FlushOptions {
  /** The longest `flush()` waits, in milliseconds. Default 1000. */
  timeoutMs?: number;
}

export interface SetOptions {
  /** Seconds to live. Default: the service's `defaultTtl`. Lowered to `maxTtl` (the ceiling). */
  ttl?: number;
  /**
   * Tags of the entry: `invalidateTags([tag])` makes every entry written with that tag a miss. A hit
   * on a tagged entry costs one extra round trip (the tags' versions); untagged entries pay nothing.
   * At most 32 tags of at most 512 bytes each.
   */
  tags?: readonly string[];
}

export interface GetOrSetOptions extends SetOptions {
  /**
   * Seconds after `ttl` during which a stale value is still served (at once) while one background
   * refresh runs. Default 0 (off).
   */
  staleWhileRevalidate?: number;
  /**
   * Seconds the cross-process loader lock lives. Default 5. While the loader runs, its holder renews
   * the lock every `lockTtl / 3`, so a loader slower than `lockTtl` still runs once.
   */
  lockTtl?: number;
  /**
   * Seconds other processes wait for the value while the lock is held before loading themselves.
   * Default: the larger of `lockTtl` and 10.
   */
  lockWait?: number;
  /**
   * Seconds after `ttl` during which a stale value is kept and served when the loader fails or
   * passes a timeout (stale-if-error), instead of an error. The entry lives `ttl` + the larger of
   * `grace` and `staleWhileRevalidate` in the store. Default 0 (off).
   */
  grace?: number;
  /**
   * Seconds after a failed load (error or hard timeout) during which this process serves the stale
   * value of the key without calling its loader. Default 10. Applies only where a stale value is
   * served (`grace`, `staleWhileRevalidate`); with none, the loader is called.
   */
  graceBackoff?: number;
  /** Loader timeouts in milliseconds: `softMs` (serve stale, keep loading) and `hardMs` (give up). */
  timeouts?: LoaderTimeouts;
  /**
   * Skip the cached value and load (still one loader call per key at a time in this process, and
   * across processes the holder of the lock loads while the others wait for a newer value).
   */
  forceFresh?: boolean;
  /** Use the local tier for this call (default: the tier's `byDefault`). */
  local?: boolean;
}

export interface SetManyEntry<T = unknown> {
  key: string;
  value: T;
  /** Seconds; default: the options' ttl, then the service's `defaultTtl`. */
  ttl?: number;
  /** Tags of this entry (default: the options' tags). */
  tags?: readonly string[];
}

type Attempt<R> = { ok: true; value: R; source: "primary" | "fallback" } | { ok: false; error: unknown };

/** What `_run` does when the primary did not take a write (see outage.ts). */
export interface RunOptions {
  /** `false`: never use the fallback store (locks). */
  fallback?: boolean;
  /** A write or delete of `key`: remembered and reconciled on the primary when it missed it. */
  write?: boolean;
  /** A read of `key`: not sent to the primary while a missed write of `key` is pending. */
  read?: boolean;
  /** Version keys this call bumps: bumped again on the primary when it missed them. */
  bumps?: readonly string[];
}

/** A valid stored entry: its payload and header (`error`: the header is corrupt; decoding throws it). */
interface Hit {
  raw: Buffer;
  envelope: Envelope;
  error?: unknown;
}

/** The envelope of an entry whose header could not be read. */
const CORRUPT: Envelope = Object.freeze({
  gen: "",
  tags: undefined,
  freshUntil: undefined,
  bodyStart: 0,
  compression: 0,
});

/**
 * `age`: ms since the entry's logical expiry (`freshUntil`); negative while it is fresh (`-1` for
 * entries without one, which the store expires itself).
 */
type ReadResult =
  | { state: "hit"; value: unknown; age: number; gen: string | undefined }
  | { state: "miss"; gen: string | undefined }
  | { state: "unavailable"; gen: undefined };

/** The generation is unknown (never read, and unreadable now): entries cannot be validated. */
class VersionUnavailableError extends BreakerOpenError {
  override name = "VersionUnavailableError";
}
const VERSION_UNAVAILABLE = new VersionUnavailableError("the keyspace generation cannot be read");

/** What a background refresh resolves to when another process holds the key's lock (it refreshes). */
const ELSEWHERE: unique symbol = Symbol("loaded elsewhere");

/** The in-flight slot of `forceFresh` calls: `__cp:` keys are never user keys (internal-keys.ts). */
const FRESH_SLOT = "__cp:fresh:";

const DEFAULT_FLUSH_TIMEOUT_MS = 1000;

/** One load of a key in this process (a getOrSet loader call with its lock, or a background refresh). */
interface Load {
  promise: Promise<unknown>;
  ctx: LoadContext<unknown>;
  lease: LoadLease;
  /** Started by stale-while-revalidate: nobody waits for it (foreground calls do not join it). */
  background: boolean;
  lock: LoaderLock | undefined;
  /** A caller's hard timeout passed (counted and signalled once). */
  timedOut: boolean;
  /** Set when the lease lapsed: the release of the lock this load held. */
  unlocked: Promise<void> | undefined;
}

interface Stale<T> {
  value: T;
  /** ms since the entry's logical expiry. */
  age: number;
}

/** A read that could not be served (store and fallback failed). */
const UNAVAILABLE: unique symbol = Symbol("unavailable");
const NO_OPTIONS: Readonly<GetOrSetOptions> = Object.freeze({});
const NO_RUN_OPTIONS: Readonly<RunOptions> = Object.freeze({});
const READ: Readonly<RunOptions> = Object.freeze({ read: true });
const WRITE: Readonly<RunOptions> = Object.freeze({ write: true });

/** Version keys (generation, tags) outlive every entry: at least this long, else `maxTtl`. */
const MIN_TAG_TTL_MS = 24 * 3600 * 1000;
const DEFAULT_MAX_TTL = 86_400;

/** Writes a payload from `Serializer.encodePayload`: text through `setText` when the store has it. */
function storeSet(store: CacheStore, key: string, payload: Buffer | string, ttlMs: number | undefined) {
  if (typeof payload !== "string") return store.set(key, payload, ttlMs);
  return store.setText
    ? store.setText(key, payload, ttlMs)
    : store.set(key, Buffer.from(payload, "utf8"), ttlMs);
}

function checkTtl(ttl: number, field: string): void {
  if (ttl === Number.POSITIVE_INFINITY) return;
  if (typeof ttl !== "number" || !Number.isFinite(ttl) || ttl <= 0) {
    throw new CacheConfigError(`${field} must be a positive number of seconds (or Infinity)`, [field]);
  }
}

function toMs(seconds: number): number {
  return Math.max(1, Math.round(seconds * 1000));
}

function checkTags(tags: readonly string[] | undefined, operation: string): readonly string[] | undefined {
  if (tags === undefined || tags.length === 0) return undefined;
  if (!Array.isArray(tags) || tags.length > MAX_TAGS) {
    throw new CacheConfigError(`tags must be an array of at most ${MAX_TAGS} strings (${operation})`, [
      "tags",
    ]);
  }
  for (const tag of tags) {
    if (typeof tag !== "string" || tag.length === 0 || Buffer.byteLength(tag) > MAX_TAG_BYTES) {
      throw new CacheConfigError(
        `Each tag must be a non-empty string of at most ${MAX_TAG_BYTES} bytes (${operation})`,
        ["tags"],
      );
    }
  }
  return tags.length === 1 ? tags : [...new Set(tags)];
}

export class CacheService {
  readonly store: CacheStore;
  readonly fallback: CacheStore | undefined;
  readonly serializer: Serializer;
  readonly defaultTtl: number;
  /** The ttl ceiling in seconds (`Infinity`: none). */
  readonly maxTtl: number;
  readonly throwOnError: boolean;
  private readonly maxTtlMs: number | undefined;
  /** Ttl of generation and tag version keys (ms; `undefined` without a ceiling). */
  private readonly tagTtlMs: number | undefined;
  private readonly defaultTtlMs: number | undefined;
  private readonly breakers: Breakers;
  private readonly pending: PendingInvalidations;
  /** Generations and tag versions of the primary store. */
  private readonly versions: StoreVersions;
  private readonly fallbackVersions: StoreVersions | undefined;
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
  /** Loads running in this process, by key (getOrSet's slow path; see {@link Load}). */
  private readonly loads = new Map<string, Load>();
  private readonly backoff: KeyBackoff;
  /** Background work `flush()` waits for (pending-work.ts). */
  private readonly work: PendingWork;
  private readonly now: () => number;
  private readonly metricsOut: EmfMetrics | undefined;
  private readonly logger: CacheLogger | undefined;
  private readonly onClose: (() => Promise<void>) | undefined;
  private reconcileTimer: NodeJS.Timeout | undefined;
  private reconcileDelay = 0;
  /** The local tier (`local` option), undefined when off. @internal */
  readonly localTier: LocalTier | undefined;
  private closed = false;

  constructor(options: CacheServiceOptions) {
    this.store = options.store;
    this.fallback = options.fallback;
    this.serializer = new Serializer({ codec: options.codec, compression: options.compression });
    this.maxTtl = options.maxTtl ?? DEFAULT_MAX_TTL;
    checkTtl(this.maxTtl, "maxTtl");
    this.maxTtlMs = this.maxTtl === Number.POSITIVE_INFINITY ? undefined : toMs(this.maxTtl);
    this.tagTtlMs = this.maxTtlMs === undefined ? undefined : Math.max(this.maxTtlMs, MIN_TAG_TTL_MS);
    this.defaultTtl = options.defaultTtl ?? 300;
    checkTtl(this.defaultTtl, "defaultTtl");
    this.defaultTtlMs = this.clampMs(this.defaultTtl);
    this.throwOnError = options.throwOnError ?? false;
    this.maxKeyLength = options.maxKeyLength ?? 1024;
    this.onClose = options.onClose;
    this.now = options.now ?? Date.now;
    this.backoff = new KeyBackoff(this.now);
    this.work = new PendingWork(this.now);
    this.logger = options.logger;
    if (this.logger !== undefined) logEvents(this.events, this.logger);
    this.metricsOut = options.metrics ? emfMetrics(this, { metrics: options.metrics }) : undefined;
    this.pending = new PendingInvalidations(options.maxPendingInvalidations ?? 10_000);
    this.breakers = new Breakers(options.breaker ?? {}, {
      domainOf: (key) => this.store.failureDomain?.(key) ?? "",
      probe: (key) => (key === undefined ? this.store.ping() : this.store.has(key)),
      reconcile: (domain) => this.reconcile(domain),
      changed: (state, previous, domain) =>
        this.events.emit("breaker", domain === "" ? { state, previous } : { state, previous, domain }),
    });
    // Version reads count toward a breaker only where their node is not the value's (cluster): on
    // one domain the value read that goes with them already counts, once per call.
    const ownDomain = (key: string) => this.domainOf(key) !== "";
    this.versions = new StoreVersions(this.store, {
      allows: (key) => this.breakers.allows(key),
      succeeded: (key) => {
        if (!this.breakers.calm && ownDomain(key)) this.breakers.succeeded(key);
      },
      failed: (key, err) => {
        if (!ownDomain(key)) return;
        this.breakers.failed(key, err);
        if (isBrokenCircuitError(err) || isConfigurationError(err)) return;
        this.counters.errors++;
        this.events.emit("error", {
          operation: "generation",
          key: undefined,
          error: err,
          storage: this.store.kind,
        });
      },
    });
    this.store.onReconnect?.(() => this.breakers.probeNow());
    const always = () => true;
    const ignore = () => undefined;
    this.fallbackVersions = this.fallback
      ? new StoreVersions(this.fallback, { allows: always, succeeded: ignore, failed: ignore })
      : undefined;
    const local = options.local;
    if (local && typeof local.create !== "function") {
      throw new CacheConfigError("local: use localTier() (@cacheplane/client/local)", ["local"]);
    }
    this.localTier = local ? local.create(this) : undefined;
  }

  /** @internal the local tier's error events. */
  _localError(operation: string, error: unknown): void {
    this.counters.errors++;
    this.events.emit("error", { operation, key: undefined, error, storage: this.store.kind });
  }

  /** Runs a write of `keys` through the local tier (invalidated here and everywhere), when there is one. */
  private localWrite<R>(keys: readonly string[], run: () => Promise<R>): Promise<R> {
    return this.localTier === undefined ? run() : this.localTier.write(keys, run);
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
      staleOnError: c.staleOnError,
      staleOnTimeout: c.staleOnTimeout,
      staleOnSoftTimeout: c.staleOnSoftTimeout,
      staleOnBackoff: c.staleOnBackoff,
      loadErrors: c.loadErrors,
      loadTimeouts: c.loadTimeouts,
      sets: c.sets,
      deletes: c.deletes,
      loads: c.loads,
      errors: c.errors,
      fallbacks: c.fallbacks,
      hitRate: reads === 0 ? 0 : c.hits / reads,
      breaker: this.breakers.state,
      openNodes: this.breakers.openDomains().filter((d) => d.domain !== ""),
      pendingInvalidations: this.pending.size,
      storage: this.store.kind,
      fallbackStorage: this.fallback?.kind,
      latency: this.latency.summary(),
      ...(this.localTier === undefined ? {} : { local: this.localTier.stats() }),
    };
  }

  /** Current breaker state (`open` when any node's breaker is open; `disabled` when there is none). */
  get breakerState(): CacheStats["breaker"] {
    return this.breakers.state;
  }

  // ---------------------------------------------------------------- guarded store calls

  /** The generations/tag versions of `store` (the primary or the fallback). @internal */
  _versionsOf(store: CacheStore): StoreVersions {
    return store === this.store ? this.versions : (this.fallbackVersions as StoreVersions);
  }

  /**
   * Runs `fn` on the primary store when its breaker (for `key`'s node) is closed; on failure, on the
   * fallback store; else reports `{ ok: false }` (or throws with `throwOnError`). Configuration
   * errors always throw. See {@link RunOptions} for writes the primary missed.
   * @internal used by the patterns.
   */
  async _run<R>(
    operation: string,
    key: string | undefined,
    fn: (store: CacheStore) => Promise<R>,
    options: Readonly<RunOptions> = NO_RUN_OPTIONS,
  ): Promise<Attempt<R>> {
    if (this.closed)
      throw new CacheConfigError(`CacheService is closed (${operation})`, [], { operation, key });
    const started = performance.now();
    if (!this.primaryAllows(key, options)) {
      return this._failed(operation, key, fn, options, BREAKER_OPEN, started, false);
    }
    let value: R;
    try {
      value = await fn(this.store);
    } catch (err) {
      return this._failed(operation, key, fn, options, err, started, true);
    }
    this._succeeded(started, true, key, options);
    return { ok: true, value, source: "primary" };
  }

  /** Whether a call on `key` may go to the primary now. */
  private primaryAllows(key: string | undefined, options: Readonly<RunOptions>): boolean {
    if (!this.breakers.allows(key)) return false;
    if (options.read !== true || key === undefined || this.pending.size === 0) return true;
    return this.pending.trusts(key);
  }

  /**
   * `_run`'s hot path, for callers that inline it to save an async layer per call (get, set,
   * getOrSet, the rate limiter): true when a call may go straight to the primary store without any
   * per-key check (service open, every breaker closed without failures, nothing pending). The caller
   * then awaits the store itself and reports the outcome with {@link _succeeded} or {@link _failed}.
   * @internal
   */
  _direct(): boolean {
    return !this.closed && this.breakers.calm && this.pending.size === 0;
  }

  /** @internal see {@link _direct}. */
  _succeeded(started: number, direct: boolean, key?: string, options?: Readonly<RunOptions>): void {
    if (direct && !this.breakers.calm) this.breakers.succeeded(key);
    if (options?.write === true && key !== undefined && this.pending.size > 0) this.pending.superseded(key);
    this.latency.record(performance.now() - started);
  }

  /** `_run` after the primary store failed (or its open breaker refused the call). @internal */
  async _failed<R>(
    operation: string,
    key: string | undefined,
    fn: (store: CacheStore) => Promise<R>,
    options: Readonly<RunOptions> | undefined,
    err: unknown,
    started: number,
    direct: boolean,
  ): Promise<Attempt<R>> {
    if (direct) this.breakers.failed(key, err);
    if (isConfigurationError(err)) throw err;
    const refused = isBrokenCircuitError(err);
    if (!refused) {
      this.latency.record(performance.now() - started);
      this.counters.errors++;
      this.events.emit("error", { operation, key, error: err, storage: this.store.kind });
    }
    if (options !== undefined) this.missed(key, options);
    if (refused) {
      // A caller whose loop never waits on I/O must still let the probe run (circuit-breaker.ts).
      const turn = this.breakers.yieldIfStarving();
      if (turn !== undefined) await turn;
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
        `Cache ${operation} failed on ${this.store.kind}${refused ? " (circuit breaker open)" : ""}: ${describeError(err)}`,
        { operation, key, cause: err },
      );
    }
    return { ok: false, error: err };
  }

  /** The primary missed a write/delete of `key` or version bumps: remember them (outage.ts). */
  private missed(key: string | undefined, options: Readonly<RunOptions>): void {
    let recorded = false;
    if (options.write === true && key !== undefined) {
      this.pending.addDelete(key);
      recorded = true;
    }
    if (options.bumps !== undefined) {
      for (const bump of options.bumps) this.pending.addBump(bump);
      recorded = true;
    }
    if (recorded) this.scheduleReconcile();
  }

  /**
   * Reconciles pending invalidations of domains whose breaker is closed (failures below the
   * threshold, or no breaker at all); open domains are reconciled by their probe.
   */
  private scheduleReconcile(): void {
    if (this.reconcileTimer !== undefined || this.closed) return;
    this.reconcileDelay = Math.min(1000, Math.max(50, this.reconcileDelay * 2));
    this.reconcileTimer = setTimeout(() => {
      this.reconcileTimer = undefined;
      this.work.track(this.reconcilePending(), "reconcile");
    }, this.reconcileDelay);
    this.reconcileTimer.unref?.();
  }

  /** Reconciles pending invalidations now (flush) instead of at the scheduled retry. */
  private reconcileNow(): void {
    if (this.reconcileTimer === undefined || this.closed) return;
    clearTimeout(this.reconcileTimer);
    this.reconcileTimer = undefined;
    this.work.track(this.reconcilePending(), "reconcile");
  }

  private async reconcilePending(): Promise<void> {
    if (this.closed || this.pending.size === 0) {
      this.reconcileDelay = 0;
      return;
    }
    const domains = new Set<string>();
    for (const key of this.pending.bumps) domains.add(this.domainOf(key));
    for (const key of this.pending.deletes) domains.add(this.domainOf(key));
    for (const domain of domains) {
      if (!this.breakers.domainAllows(domain)) continue;
      try {
        await this.reconcile(domain);
      } catch {
        // counted by reconcile; retried below
      }
    }
    if (this.pending.size > 0) this.scheduleReconcile();
    else this.reconcileDelay = 0;
  }

  private domainOf(key: string): string {
    return this.store.failureDomain?.(key) ?? "";
  }

  /**
   * Applies what the primary missed in `domain`: bumps the pending version keys and deletes the
   * pending keys; then forgets the fallback's entries (they were written during the outage and would
   * be stale in the next one). Rejects (leaving the rest pending) when the primary fails.
   */
  private async reconcile(domain: string): Promise<void> {
    const bumps = [...this.pending.bumps].filter((key) => this.domainOf(key) === domain);
    const deletes = [...this.pending.deletes].filter((key) => this.domainOf(key) === domain);
    if (bumps.length === 0 && deletes.length === 0) return;
    try {
      for (const key of bumps) {
        if (key === GENERATION_KEY) await this.versions.bumpGeneration(undefined);
        else await this.store.set(key, Buffer.from(newVersion(), "latin1"), this.tagTtlMs);
        this.pending.bumps.delete(key);
      }
      for (let i = 0; i < deletes.length; i += 500) {
        const part = deletes.slice(i, i + 500);
        await this.store.deleteMany(part);
        for (const key of part) this.pending.deletes.delete(key);
      }
    } catch (err) {
      this.breakers.failed(bumps[0] ?? deletes[0], err);
      this.counters.errors++;
      this.events.emit("error", {
        operation: "reconcile",
        key: undefined,
        error: err,
        storage: this.store.kind,
      });
      throw err;
    }
    await this.forgetFallback();
  }

  /** Drops what the fallback holds (memory: cleared; else its generation is bumped). */
  private async forgetFallback(): Promise<void> {
    const fallback = this.fallback;
    if (!fallback) return;
    try {
      if (fallback.local && fallback.clear) await fallback.clear();
      else await (this.fallbackVersions as StoreVersions).bumpGeneration(undefined);
    } catch (err) {
      this.events.emit("error", {
        operation: "reconcile",
        key: undefined,
        error: err,
        storage: fallback.kind,
      });
    }
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
    if (isReservedKey(key)) throw reservedKeyError(key, operation);
  }

  /** A ttl in seconds (validated) as store milliseconds, lowered to the ceiling. */
  private clampMs(ttl: number): number | undefined {
    if (ttl === Number.POSITIVE_INFINITY) return this.maxTtlMs;
    const ms = toMs(ttl);
    return this.maxTtlMs !== undefined && ms > this.maxTtlMs ? this.maxTtlMs : ms;
  }

  private ttlMs(ttl: number | undefined): number | undefined {
    if (ttl === undefined) return this.defaultTtlMs;
    checkTtl(ttl, "ttl");
    return this.clampMs(ttl);
  }

  /** Store milliseconds for a ttl in seconds, lowered to the ceiling. @internal (patterns) */
  _ttlMs(ttl: number, field = "ttl"): number {
    checkTtl(ttl, field);
    const ms = this.clampMs(ttl);
    if (ms === undefined) {
      throw new CacheConfigError(`${field} must be finite (this service has no ttl ceiling)`, [field]);
    }
    return ms;
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

  // ---------------------------------------------------------------- reading entries

  /**
   * Validates a stored payload against the generation (and its tags' versions): the entry, or
   * undefined when it is missing or was invalidated. Rejects/throws {@link VERSION_UNAVAILABLE} when
   * the generation or the tag versions cannot be read.
   */
  private validate(
    raw: Buffer | undefined,
    gen: string | undefined,
    versions: StoreVersions,
    key: string,
  ): Hit | undefined | Promise<Hit | undefined> {
    if (raw === undefined) return undefined;
    if (gen === undefined) throw VERSION_UNAVAILABLE;
    // The common case, a text value stamped with a generation: compared in place.
    const start = this.serializer.textStamp(raw, gen);
    if (start !== 0)
      return start < 0 ? undefined : { raw, envelope: this.serializer.textEnvelope(gen, start) };
    let envelope: Envelope;
    try {
      envelope = this.serializer.peek(raw, key);
    } catch (error) {
      // Reported when decoded: get throws it, getOrSet reports it and replaces the entry.
      return { raw, envelope: CORRUPT, error };
    }
    if (envelope.gen !== gen) return undefined;
    const tags = envelope.tags;
    if (tags === undefined) return { raw, envelope };
    if (versions === this.versions && this.pending.size > 0) {
      for (const [tag] of tags) if (this.pending.bumps.has(tagKey(tag))) return undefined;
    }
    return versions.tagVersions(tags.map((t) => t[0])).then(
      (current) => {
        for (let i = 0; i < tags.length; i++) if ((tags[i] as TagStamp)[1] !== current[i]) return undefined;
        return { raw, envelope };
      },
      () => {
        throw VERSION_UNAVAILABLE;
      },
    );
  }

  /** Reads and validates one entry from `store` (generation read pipelined with the value read). */
  private readFrom(store: CacheStore, key: string): Promise<Hit | undefined> {
    const versions = this._versionsOf(store);
    const read = versions.generation();
    let pending: Promise<Buffer | undefined>;
    try {
      pending = Promise.resolve(store.get(key));
    } catch (err) {
      return Promise.reject(err);
    }
    return pending.then((raw) =>
      read.done
        ? this.validate(raw, read.gen, versions, key)
        : read.promise.then(() => this.validate(raw, read.gen, versions, key)),
    );
  }

  /** Reads and validates entries from `store` (aligned with `keys`). */
  private async readManyFrom(store: CacheStore, keys: readonly string[]): Promise<(Hit | undefined)[]> {
    const versions = this._versionsOf(store);
    const read = versions.generation();
    const raws = await store.getMany(keys);
    if (!read.done) await read.promise;
    return Promise.all(raws.map((raw, i) => this.validate(raw, read.gen, versions, keys[i] as string)));
  }

  private decodeHit(hit: Hit, key: string): unknown {
    if (hit.error !== undefined) throw hit.error;
    return this.serializer.decodeBody(hit.raw, hit.envelope, key);
  }

  /** `_run(operation, key, readFrom)` for reads that could not take the inline hot path. */
  private async readSlow(operation: string, key: string): Promise<Hit | undefined | typeof UNAVAILABLE> {
    const result = await this._run(operation, key, (s) => this.readFrom(s, key), READ);
    return result.ok ? result.value : UNAVAILABLE;
  }

  /** After a direct primary read failed (or could not be validated): fallback, events, UNAVAILABLE, or a throw. */
  private async readFailed(
    operation: string,
    key: string,
    err: unknown,
    started: number,
    direct: boolean,
  ): Promise<Hit | undefined | typeof UNAVAILABLE> {
    const result = await this._failed(
      operation,
      key,
      (s) => this.readFrom(s, key),
      READ,
      err,
      started,
      direct,
    );
    return result.ok ? result.value : UNAVAILABLE;
  }

  /**
   * The hot path of get and getOrSet: the generation read of this turn and the value read, sent
   * together to the primary; validated when both are in (standalone: the generation's reply comes
   * first, so no extra step). Only called when {@link _direct}.
   */
  private readDirect(
    operation: string,
    key: string,
    decode: false,
  ): Promise<Hit | undefined | typeof UNAVAILABLE>;
  private readDirect(operation: string, key: string, decode: true): Promise<unknown>;
  private readDirect(operation: string, key: string, decode: boolean): Promise<unknown> {
    const started = performance.now();
    // The turn's first read carries the generation read in the same command where the store can.
    const read = this.versions.generation(key);
    let pending: Promise<Buffer | undefined>;
    const paired = read.paired;
    if (paired !== undefined) {
      read.paired = undefined;
      pending = paired;
    } else {
      try {
        // Promise.resolve: a store's native promise as is; a (JS) store answering a plain value works too.
        pending = Promise.resolve(this.store.get(key));
      } catch (err) {
        pending = Promise.reject(err);
      }
    }
    return pending.then(
      (raw) => {
        this._succeeded(started, true);
        if (!read.done)
          return read.promise.then(() => this.settle(operation, key, raw, read, started, decode));
        return this.settle(operation, key, raw, read, started, decode);
      },
      (err: unknown) => {
        const failed = this.readFailed(operation, key, err, started, true);
        return decode ? failed.then((hit) => this.finishGet(key, hit)) : failed;
      },
    );
  }

  /** The validated hit, decoded for `get` (`decode`), without an extra promise step when synchronous. */
  private settle(
    operation: string,
    key: string,
    raw: Buffer | undefined,
    read: GenerationRead,
    started: number,
    decode: boolean,
  ): unknown {
    const hit = this.validated(operation, key, raw, read, started);
    if (!decode) return hit;
    if (hit instanceof Promise) return hit.then((h) => this.finishGet(key, h));
    return this.finishGet(key, hit);
  }

  private validated(
    operation: string,
    key: string,
    raw: Buffer | undefined,
    read: GenerationRead,
    started: number,
  ): Hit | undefined | Promise<Hit | undefined | typeof UNAVAILABLE> {
    if (raw === undefined) return undefined;
    if (read.gen === undefined) return this.readFailed(operation, key, VERSION_UNAVAILABLE, started, false);
    try {
      const result = this.validate(raw, read.gen, this.versions, key);
      if (result === undefined || !(result instanceof Promise)) return result;
      return result.catch((err: unknown) => this.readFailed(operation, key, err, started, false));
    } catch (err) {
      if (err === VERSION_UNAVAILABLE) return this.readFailed(operation, key, err, started, false);
      throw err;
    }
  }

  // ---------------------------------------------------------------- the cache API

  /** The value, or `undefined` on a miss (or when the store cannot be reached). */
  get<T = unknown>(key: string, options?: GetOptions): Promise<T | undefined> {
    try {
      this.checkKey(key, "get");
    } catch (err) {
      return Promise.reject(err);
    }
    const local = this.localTier;
    if (local?.usedBy(options?.local)) return this.getLocal<T>(key, local);
    if (this._direct()) return this.readDirect("get", key, true) as Promise<T | undefined>;
    return this.readSlow("get", key).then((hit) => this.finishGet<T>(key, hit));
  }

  /** `get` through the local tier: its value, else the shared store's (then kept locally). */
  private async getLocal<T>(key: string, local: LocalTier): Promise<T | undefined> {
    const value = local.get(key);
    if (value !== LOCAL_MISS) {
      this.recordRead("get", key, true);
      return value as T;
    }
    const ticket = local.ticket();
    // Only values read from the primary on its normal path are kept (not a fallback's).
    const direct = this._direct();
    const hit = await (direct ? this.readDirect("get", key, false) : this.readSlow("get", key));
    const result = this.finishGet<T>(key, hit);
    if (direct) local.keepHit(key, result, hit, ticket);
    return result;
  }

  /** Decodes what `get` read (a miss when undefined, unavailable, or past its freshness). */
  private finishGet<T>(key: string, hit: Hit | undefined | typeof UNAVAILABLE): T | undefined {
    if (hit === undefined || hit === UNAVAILABLE) {
      this.recordRead("get", key, false);
      return undefined;
    }
    const freshUntil = hit.envelope.freshUntil;
    if (freshUntil !== undefined && freshUntil <= this.now()) {
      this.recordRead("get", key, false);
      return undefined;
    }
    const value = this.decodeHit(hit, key);
    this.recordRead("get", key, true);
    return value as T;
  }

  /** Stores a value; `false` when it could not be stored (store unavailable). */
  set<T = unknown>(key: string, value: T, options: SetOptions = NO_OPTIONS): Promise<boolean> {
    const local = this.localTier;
    if (local !== undefined) return local.write([key], () => this.setShared(key, value, options));
    return this.setShared(key, value, options);
  }

  private setShared<T>(key: string, value: T, options: SetOptions): Promise<boolean> {
    let ttlMs: number | undefined;
    let tags: readonly string[] | undefined;
    try {
      this.checkKey(key, "set");
      ttlMs = this.ttlMs(options.ttl);
      tags = checkTags(options.tags, "set");
    } catch (err) {
      return Promise.reject(err);
    }
    const gen = this.versions.known;
    if (tags !== undefined || gen === undefined || gen === "" || !this._direct() || !this.versions.fresh()) {
      return this.setSlow(key, value, ttlMs, tags);
    }
    // The hot path: one SET stamped with the generation read less than a second ago.
    let payload: Buffer | string;
    try {
      payload = this.serializer.encodePayload(value, key, undefined, gen);
    } catch (err) {
      return Promise.reject(err);
    }
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
        this._failed(
          "set",
          key,
          (s) => this.writeTo(s, key, value, ttlMs, tags),
          WRITE,
          err,
          started,
          true,
        ).then((r) => this.countSet(r.ok)),
    );
  }

  private async setSlow(
    key: string,
    value: unknown,
    ttlMs: number | undefined,
    tags: readonly string[] | undefined,
  ): Promise<boolean> {
    const r = await this._run("set", key, (s) => this.writeTo(s, key, value, ttlMs, tags), WRITE);
    return this.countSet(r.ok);
  }

  /**
   * Writes an entry to `store` stamped with its generation (and its tags' versions, read first).
   * When the known generation is missing or old, the current one is read along with the write, and
   * a stale stamp is rewritten, so a process that only writes still follows other processes' clears.
   */
  private async writeTo(
    store: CacheStore,
    key: string,
    value: unknown,
    ttlMs: number | undefined,
    tags: readonly string[] | undefined,
    freshUntil?: number,
    stamps?: { gen: string | undefined; tags: readonly TagStamp[] | undefined },
  ): Promise<void> {
    const versions = this._versionsOf(store);
    const stamped = stamps !== undefined && store === this.store;
    let gen = stamped ? stamps.gen : versions.known;
    let read: GenerationRead | undefined;
    // A loaded value keeps the stamp read before its loader ran (never re-stamped: see writeEntry).
    if (gen === undefined || (!stamped && !versions.fresh())) {
      read = versions.generation();
      if (gen === undefined) {
        if (!read.done) await read.promise;
        gen = read.gen;
        if (gen === undefined) throw read.error ?? VERSION_UNAVAILABLE;
        read = undefined;
      }
    }
    // Never stamp with a missing generation (versions.ts): the first writer creates it.
    if (gen === "") {
      gen = await versions.createGeneration();
      read = undefined;
    }
    let tagStamps = stamped ? stamps.tags : undefined;
    if (tags !== undefined && tagStamps === undefined) {
      const current = await versions.ensureTagVersions(tags, this.tagTtlMs);
      tagStamps = tags.map((tag, i) => [tag, current[i] as string] as const);
    }
    await storeSet(store, key, this.serializer.encodePayload(value, key, freshUntil, gen, tagStamps), ttlMs);
    if (read !== undefined) {
      if (!read.done) await read.promise;
      const current = read.gen === "" ? await versions.createGeneration() : read.gen;
      if (current !== undefined && current !== gen) {
        await storeSet(
          store,
          key,
          this.serializer.encodePayload(value, key, freshUntil, current, tagStamps),
          ttlMs,
        );
      }
    }
  }

  private countSet(ok: boolean): boolean {
    if (ok) this.counters.sets++;
    return ok;
  }

  /** `true` when a valid entry existed (one invalidated by `clear()` or a tag counts as gone). */
  async delete(key: string): Promise<boolean> {
    this.checkKey(key, "delete");
    const result = await this.localWrite([key], () =>
      this._run(
        "delete",
        key,
        async (s) => {
          // Sent in this order on one connection: the read sees the entry before the delete.
          const [hit, removed] = await Promise.all([
            this.readFrom(s, key).catch(() => undefined),
            s.delete(key),
          ]);
          return removed && hit !== undefined;
        },
        WRITE,
      ),
    );
    if (result.ok && result.value) this.counters.deletes++;
    return result.ok ? result.value : false;
  }

  /** Whether a valid entry exists (a stale-while-revalidate entry past its ttl still exists). */
  async has(key: string): Promise<boolean> {
    this.checkKey(key, "has");
    const result = await this._run("has", key, (s) => this.readFrom(s, key), READ);
    return result.ok && result.value !== undefined;
  }

  /**
   * Groups keys by failure domain (cluster node) so that each group is guarded by its own breaker;
   * one group on standalone Redis, DynamoDB and memory.
   */
  private byDomain(keys: readonly string[]): number[][] {
    if (this.store.failureDomain === undefined) return [keys.map((_, i) => i)];
    const groups = new Map<string, number[]>();
    keys.forEach((key, i) => {
      const domain = this.domainOf(key);
      const group = groups.get(domain);
      if (group) group.push(i);
      else groups.set(domain, [i]);
    });
    return [...groups.values()];
  }

  /** Values aligned with `keys` (`undefined` for misses). Keys of different cluster slots are fine. */
  async getMany<T = unknown>(keys: readonly string[]): Promise<(T | undefined)[]> {
    for (const key of keys) this.checkKey(key, "getMany");
    if (keys.length === 0) return [];
    const hits: (Hit | undefined)[] = new Array(keys.length).fill(undefined);
    await Promise.all(
      this.byDomain(keys).map(async (indexes) => {
        // Keys with a pending missed write are read from the fallback.
        const trusted: number[] = [];
        const untrusted: number[] = [];
        for (const i of indexes) {
          if (this.pending.size === 0 || this.pending.trusts(keys[i] as string)) trusted.push(i);
          else untrusted.push(i);
        }
        for (const group of [trusted, untrusted]) {
          if (group.length === 0) continue;
          const groupKeys = group.map((i) => keys[i] as string);
          const result = await this._run(
            "getMany",
            groupKeys[0],
            (s) => this.readManyFrom(s, groupKeys),
            group === untrusted ? { read: true } : NO_RUN_OPTIONS,
          );
          if (result.ok) {
            for (let j = 0; j < group.length; j++) hits[group[j] as number] = result.value[j];
          }
        }
      }),
    );
    const now = this.now();
    return keys.map((key, i) => {
      const hit = hits[i];
      if (hit === undefined || (hit.envelope.freshUntil !== undefined && hit.envelope.freshUntil <= now)) {
        this.recordRead("getMany", key, false);
        return undefined;
      }
      const value = this.decodeHit(hit, key);
      this.recordRead("getMany", key, true);
      return value as T;
    });
  }

  /** Stores many values (pipelined / batched per store). `false` when some could not be stored. */
  async setMany<T = unknown>(
    entries: readonly SetManyEntry<T>[],
    options: SetOptions = {},
  ): Promise<boolean> {
    const prepared = entries.map((entry) => {
      this.checkKey(entry.key, "setMany");
      return {
        key: entry.key,
        value: entry.value as unknown,
        ttlMs: this.ttlMs(entry.ttl ?? options.ttl),
        tags: checkTags(entry.tags ?? options.tags, "setMany"),
      };
    });
    // Encoding errors reach the caller before anything is written.
    for (const e of prepared) this.serializer.encodePayload(e.value, e.key);
    if (prepared.length === 0) return true;
    const keys = prepared.map((e) => e.key);
    const results = await this.localWrite(keys, () => this.setManyShared(prepared));
    const ok = results.every(Boolean);
    if (ok) this.counters.sets += prepared.length;
    return ok;
  }

  private setManyShared(
    prepared: readonly {
      key: string;
      value: unknown;
      ttlMs: number | undefined;
      tags: readonly string[] | undefined;
    }[],
  ): Promise<boolean[]> {
    return Promise.all(
      this.byDomain(prepared.map((e) => e.key)).map(async (indexes) => {
        const group = indexes.map((i) => prepared[i] as (typeof prepared)[number]);
        const result = await this._run(
          "setMany",
          group[0]?.key,
          (s) => this.writeManyTo(s, group),
          NO_RUN_OPTIONS,
        );
        if (!result.ok) {
          for (const e of group) this.pending.addDelete(e.key);
          this.scheduleReconcile();
        } else if (result.source === "primary" && this.pending.size > 0) {
          for (const e of group) this.pending.superseded(e.key);
        } else if (result.source === "fallback") {
          for (const e of group) this.pending.addDelete(e.key);
          this.scheduleReconcile();
        }
        return result.ok;
      }),
    );
  }

  private async writeManyTo(
    store: CacheStore,
    entries: readonly {
      key: string;
      value: unknown;
      ttlMs: number | undefined;
      tags: readonly string[] | undefined;
    }[],
  ): Promise<void> {
    const versions = this._versionsOf(store);
    let gen = versions.known;
    if (gen === undefined || !versions.fresh()) {
      const read = versions.generation();
      if (!read.done) await read.promise;
      gen = read.gen;
      if (gen === undefined) throw read.error ?? VERSION_UNAVAILABLE;
    }
    if (gen === "") gen = await versions.createGeneration();
    const allTags = [...new Set(entries.flatMap((e) => e.tags ?? []))];
    const current = new Map<string, string>();
    if (allTags.length > 0) {
      const versionsRead = await versions.ensureTagVersions(allTags, this.tagTtlMs);
      for (let i = 0; i < allTags.length; i++) current.set(allTags[i] as string, versionsRead[i] as string);
    }
    const stamp = gen;
    const storeEntries: StoreEntry[] = entries.map((e) => ({
      key: e.key,
      value: this.serializer.encode(
        e.value,
        e.key,
        undefined,
        stamp,
        e.tags?.map((tag) => [tag, current.get(tag) as string] as const),
      ),
      ttlMs: e.ttlMs,
    }));
    await store.setMany(storeEntries);
  }

  /** How many of the keys held a valid entry (all of them are deleted). */
  async deleteMany(keys: readonly string[]): Promise<number> {
    for (const key of keys) this.checkKey(key, "deleteMany");
    const unique = [...new Set(keys)];
    if (unique.length === 0) return 0;
    const counts = await this.localWrite(unique, () => this.deleteManyShared(unique));
    const count = counts.reduce((a, b) => a + b, 0);
    this.counters.deletes += count;
    return count;
  }

  private deleteManyShared(unique: readonly string[]): Promise<number[]> {
    return Promise.all(
      this.byDomain(unique).map(async (indexes) => {
        const group = indexes.map((i) => unique[i] as string);
        const result = await this._run("deleteMany", group[0], async (s) => {
          const [hits] = await Promise.all([
            this.readManyFrom(s, group).catch(() => [] as (Hit | undefined)[]),
            s.deleteMany(group),
          ]);
          return hits.filter((h) => h !== undefined).length;
        });
        if (!result.ok || result.source === "fallback") {
          for (const key of group) this.pending.addDelete(key);
          this.scheduleReconcile();
        } else if (this.pending.size > 0) {
          for (const key of group) this.pending.superseded(key);
        }
        return result.ok ? result.value : 0;
      }),
    );
  }

  /** Sets a new ttl (seconds, lowered to the ceiling) on an existing entry; `false` when there is none. */
  async expire(key: string, ttl: number): Promise<boolean> {
    this.checkKey(key, "expire");
    const ttlMs = this._ttlMs(ttl);
    // A shorter ttl must not be outlived by local copies: expire invalidates them too.
    const result = await this.localWrite([key], () =>
      this._run(
        "expire",
        key,
        async (s) => {
          const [hit, extended] = await Promise.all([this.readFrom(s, key), s.expire(key, ttlMs)]);
          return extended && hit !== undefined;
        },
        READ,
      ),
    );
    return result.ok ? result.value : false;
  }

  /** Remaining seconds; `Infinity` when the entry has no expiry; `undefined` when there is none. */
  async getTtl(key: string): Promise<number | undefined> {
    this.checkKey(key, "getTtl");
    const result = await this._run(
      "getTtl",
      key,
      async (s) => {
        const [hit, ttl] = await Promise.all([this.readFrom(s, key), s.getTtl(key)]);
        return hit === undefined ? undefined : ttl;
      },
      READ,
    );
    if (!result.ok || result.value === undefined) return undefined;
    return result.value === Number.POSITIVE_INFINITY ? result.value : result.value / 1000;
  }

  /**
   * Invalidates every entry of this keyspace at once (O(1), no key is walked: the keyspace gets a new
   * generation, older entries read as misses and expire within the ttl ceiling). Locks, sessions and
   * rate limits are not entries and are kept. `false` when the store could not be reached: then
   * this process treats every entry as invalid and the clear is applied when the store is back.
   */
  async clear(): Promise<boolean> {
    const run = () =>
      this._run("clear", GENERATION_KEY, (s) => this._versionsOf(s).bumpGeneration(undefined), {
        bumps: [GENERATION_KEY],
      });
    const result = await (this.localTier === undefined ? run() : this.localTier.writeAll(run));
    return result.ok && result.source === "primary";
  }

  /**
   * Invalidates every entry written with any of these tags (O(1) per tag: a new tag version). `false`
   * when the store could not be reached (the invalidation is then applied when it is back, and this
   * process treats those entries as misses meanwhile).
   */
  async invalidateTags(tags: readonly string[]): Promise<boolean> {
    const unique = checkTags(tags, "invalidateTags");
    if (unique === undefined) return true;
    const keys = unique.map(tagKey);
    const run = () =>
      Promise.all(
        this.byDomain(keys).map(async (indexes) => {
          const group = indexes.map((i) => unique[i] as string);
          const r = await this._run(
            "invalidateTags",
            tagKey(group[0] as string),
            (s) => this._versionsOf(s).bumpTags(group, this.tagTtlMs),
            { bumps: group.map(tagKey) },
          );
          return r.ok && r.source === "primary";
        }),
      );
    const results = await (this.localTier === undefined ? run() : this.localTier.writeTags(unique, run));
    return results.every(Boolean);
  }

  // ---------------------------------------------------------------- cache-aside

  /**
   * The cached value, or the loader's value (then cached). Concurrent callers in this process share
   * one loader call; across processes a lock lets one loader run (renewed while it runs) while the
   * others poll for the value (bounded), then load themselves. Loader errors are not cached and
   * reach the caller, unless a stale value within `grace` can be served instead. When the store is
   * unavailable the loader is called and its value returned. The loader gets a
   * {@link LoaderContext}: `ctx.setTtl(seconds)`, `ctx.skip()`, `ctx.stale`, `ctx.signal`.
   */
  getOrSet<T>(key: string, loader: Loader<T>, options: GetOrSetOptions = NO_OPTIONS): Promise<T> {
    try {
      this.checkKey(key, "getOrSet");
      const local = this.localTier;
      // forceFresh skips every cached copy, the local one included.
      if (options.forceFresh !== true && local?.usedBy(options.local)) {
        const value = local.get(key);
        if (value !== LOCAL_MISS) {
          this.recordRead("getOrSet", key, true);
          return Promise.resolve(value as T);
        }
      }
    } catch (err) {
      return Promise.reject(err);
    }
    if (options.forceFresh === true) return this.getFresh(key, loader, options);
    const existing = this.inflight[key];
    if (existing !== undefined) return existing as Promise<T>;
    // loadThrough removes the entry when it settles (always after this set: it awaits first).
    const promise = this.loadThrough(key, loader, options);
    this.inflight[key] = promise;
    return promise;
  }

  /**
   * Waits for the background work this client started: stale-while-revalidate refreshes, loads
   * that outlived a soft or hard timeout, outage reconciliation; then publishes metrics to the
   * `metrics` sink. Bounded by `timeoutMs` (default 1000); never throws. Call it before a Lambda
   * handler returns (or wrap the handler with {@link wrapHandler}): the environment is frozen then,
   * and work left running dies or lands minutes later. Returns what was left.
   */
  async flush(options: FlushOptions = {}): Promise<FlushResult> {
    const timeoutMs = options.timeoutMs ?? DEFAULT_FLUSH_TIMEOUT_MS;
    if (!(timeoutMs >= 0)) {
      throw new CacheConfigError("flush timeoutMs must be 0 or more milliseconds", ["timeoutMs"]);
    }
    this.reconcileNow();
    const result = await this.work.settle(timeoutMs);
    try {
      this.metricsOut?.flush();
    } catch (err) {
      this.logger?.warn("cache metrics could not be published", { cache: { error: describeError(err) } });
    }
    if (!result.complete) {
      this.logger?.warn("cache flush left background work running", { cache: { pending: result.pending } });
    }
    return result;
  }

  /**
   * Registers background work of this client's parts (e.g. a publish on a bus) so that
   * {@link flush} waits for it. @internal
   */
  _track(promise: Promise<unknown>, kind: string, key?: string): void {
    this.work.track(promise, kind, key);
  }

  /** Waits, without a bound, for background work to finish (see {@link flush}). */
  async drain(): Promise<void> {
    await this.work.settle(Number.POSITIVE_INFINITY);
  }

  private toReadResult(
    hit: Hit | undefined | typeof UNAVAILABLE,
    key: string,
    operation: string,
  ): ReadResult {
    if (hit === UNAVAILABLE) return { state: "unavailable", gen: undefined };
    const gen = this.versions.known;
    if (hit === undefined) return { state: "miss", gen };
    try {
      const freshUntil = hit.envelope.freshUntil;
      return {
        state: "hit",
        value: this.decodeHit(hit, key),
        age: freshUntil === undefined ? -1 : this.now() - freshUntil,
        gen,
      };
    } catch (err) {
      // A corrupt entry is reported and then replaced by the loader's value.
      this.counters.errors++;
      this.events.emit("error", { operation, key, error: err, storage: this.store.kind });
      return { state: "miss", gen };
    }
  }

  /**
   * Stores a loaded value, stamped with the generation and tag versions read before the loader ran:
   * if the keyspace was cleared (or a tag invalidated) while it loaded, the value reads as a miss.
   * With stale-while-revalidate or grace, the entry carries its logical expiry (`freshUntil`) and
   * lives that much longer in the store (docs/decisions/0019).
   */
  private async writeEntry(
    key: string,
    value: unknown,
    options: GetOrSetOptions,
    stamps: { gen: string | undefined; tags: readonly TagStamp[] | undefined } | undefined,
    policy: CacheAsidePolicy,
    ttl: number | undefined,
  ): Promise<void> {
    const ttlMs = this.ttlMs(ttl ?? options.ttl);
    const tags = checkTags(options.tags, "getOrSet");
    let storeTtl = ttlMs;
    let freshUntil: number | undefined;
    if (policy.windowMs > 0 && ttlMs !== undefined) {
      freshUntil = this.now() + ttlMs;
      const total = ttlMs + policy.windowMs;
      storeTtl = this.maxTtlMs === undefined ? total : Math.min(this.maxTtlMs, total);
    }
    const run = () =>
      this._run("set", key, (s) => this.writeTo(s, key, value, storeTtl, tags, freshUntil, stamps), WRITE);
    const local = this.localTier;
    // The loaded value is kept locally too (when the call uses the tier and it was stored).
    const keep = local?.usedBy(options.local) ? { value, tags, ttlMs, freshUntil } : undefined;
    const result = await (local === undefined ? run() : local.write([key], run, keep));
    if (result.ok) this.counters.sets++;
  }

  /** The generation and tag versions to stamp a value that is about to be loaded with. */
  private async loadStamps(
    first: ReadResult,
    options: GetOrSetOptions,
  ): Promise<{ gen: string | undefined; tags: readonly TagStamp[] | undefined } | undefined> {
    if (first.state === "unavailable") return undefined;
    const tags = checkTags(options.tags, "getOrSet");
    if (tags === undefined) return { gen: first.gen, tags: undefined };
    try {
      const current = await this.versions.ensureTagVersions(tags, this.tagTtlMs);
      return { gen: first.gen, tags: tags.map((tag, i) => [tag, current[i] as string] as const) };
    } catch {
      return undefined;
    }
  }

  /** Calls the loader and stores its value (unless the loader skipped it or the load's lease lapsed). */
  private async callLoader<T>(
    key: string,
    loader: Loader<T>,
    options: GetOrSetOptions,
    stamps: { gen: string | undefined; tags: readonly TagStamp[] | undefined } | undefined,
    load: Load,
    policy: CacheAsidePolicy,
  ): Promise<T> {
    this.counters.loads++;
    const ctx = load.ctx as LoadContext<T>;
    const value = await loader(ctx);
    // A lapsed load was frozen past its lock's ttl: a newer value may be stored; do not overwrite it.
    if (!ctx.skipped && !load.lease.lapsed()) {
      await this.writeEntry(key, value, options, stamps, policy, ctx.ttl);
    }
    return value;
  }

  /** getOrSet's work for one key; removes the key's in-flight entry when it settles. */
  private async loadThrough<T>(key: string, loader: Loader<T>, options: GetOrSetOptions): Promise<T> {
    const local = this.localTier?.usedBy(options.local) ? this.localTier : undefined;
    const ticket = local === undefined ? 0 : local.ticket();
    try {
      const direct = this._direct();
      const hit = await (direct ? this.readDirect("getOrSet", key, false) : this.readSlow("getOrSet", key));
      const first = this.toReadResult(hit, key, "getOrSet");
      if (first.state === "hit" && first.age < 0) {
        this.recordRead("getOrSet", key, true);
        if (direct) local?.keepHit(key, first.value, hit, ticket);
        return first.value as T;
      }
      return await this.loadAfterRead(key, loader, options, first, hit);
    } finally {
      delete this.inflight[key];
    }
  }

  /** getOrSet with `forceFresh`: concurrent forced calls of a key share one load. */
  private getFresh<T>(key: string, loader: Loader<T>, options: GetOrSetOptions): Promise<T> {
    const slot = FRESH_SLOT + key;
    const existing = this.inflight[slot];
    if (existing !== undefined) return existing as Promise<T>;
    const promise = (async () => {
      try {
        const hit = await this.readSlow("getOrSet", key);
        return await this.loadAfterRead(key, loader, options, this.toReadResult(hit, key, "getOrSet"), hit);
      } finally {
        delete this.inflight[slot];
      }
    })();
    this.inflight[slot] = promise;
    return promise;
  }

  /**
   * getOrSet past a fresh hit: serve stale (stale-while-revalidate, backoff), or load (under a lock
   * when shared) with the soft and hard timeouts, serving a stale value within grace when the load
   * fails or takes too long.
   */
  private async loadAfterRead<T>(
    key: string,
    loader: Loader<T>,
    options: GetOrSetOptions,
    first: ReadResult,
    firstHit: Hit | undefined | typeof UNAVAILABLE,
  ): Promise<T> {
    const policy = cacheAsidePolicy(options);
    const forceFresh = options.forceFresh === true;
    // A value past its ttl that may still be served (forceFresh never serves the cached value).
    let stale: Stale<T> | undefined;
    if (first.state === "hit" && !forceFresh && first.age < policy.windowMs) {
      stale = { value: first.value as T, age: first.age };
    }
    if (stale !== undefined && stale.age < policy.swrMs) {
      if (this.liveLoad(key, false) === undefined) {
        if (this.backoff.active(key)) return this.serveStale(key, stale, "backoff");
        this.startLoad(key, loader, options, policy, first, firstHit, stale, true);
      }
      return this.serveStale(key, stale, "revalidate");
    }
    if (stale !== undefined && this.backoff.active(key)) return this.serveStale(key, stale, "backoff");

    const cached = forceFresh && first.state === "hit" ? { value: first.value as T, age: first.age } : stale;
    const load =
      (forceFresh ? undefined : this.liveLoad(key, true)) ??
      this.startLoad(key, loader, options, policy, first, firstHit, cached, false);
    const outcome = await awaitLoad(
      load.promise as Promise<T>,
      stale === undefined ? undefined : policy.softMs,
      policy.hardMs,
    );
    switch (outcome.kind) {
      case "value":
        this.recordRead("getOrSet", key, false);
        return outcome.value;
      case "soft":
        return this.serveStale(key, stale as Stale<T>, "soft-timeout");
      case "hard":
        this.loadTimedOut(key, load, policy);
        if (stale !== undefined) return this.serveStale(key, stale, "timeout");
        this.recordRead("getOrSet", key, false);
        throw new CacheLoaderTimeoutError(key, policy.hardMs as number);
      default:
        if (stale !== undefined) return this.serveStale(key, stale, "error", outcome.error);
        this.recordRead("getOrSet", key, false);
        throw outcome.error;
    }
  }

  /** The load of `key` running in this process, unless its lease lapsed (or, `foreground`, it is a background refresh). */
  private liveLoad(key: string, foreground: boolean): Load | undefined {
    const load = this.loads.get(key);
    if (load === undefined || (foreground && load.background) || load.lease.lapsed()) return undefined;
    return load;
  }

  /** Starts loading `key` (tracked as pending work until it settles). */
  private startLoad<T>(
    key: string,
    loader: Loader<T>,
    options: GetOrSetOptions,
    policy: CacheAsidePolicy,
    first: ReadResult,
    firstHit: Hit | undefined | typeof UNAVAILABLE,
    cached: Stale<T> | undefined,
    background: boolean,
  ): Load {
    const lockTtlMs = this._ttlMs(options.lockTtl ?? 5, "lockTtl");
    const load: Load = {
      promise: undefined as unknown as Promise<unknown>,
      ctx: new LoadContext<T>(key, cached !== undefined, cached?.value) as LoadContext<unknown>,
      // Lapsed: the lock has expired (or is about to); drop it if it is still ours, stop renewing it.
      lease: new LoadLease(this.now, lockTtlMs, () => {
        load.unlocked = load.lock?.release();
      }),
      background,
      lock: undefined,
      timedOut: false,
      unlocked: undefined,
    };
    // A load this one replaces (its lease lapsed) first lets go of the lock it held.
    const previous = this.loads.get(key)?.unlocked;
    const promise = this.runLoad(key, loader, options, policy, first, firstHit, load, lockTtlMs, previous);
    load.promise = promise;
    this.loads.set(key, load);
    const settled = () => {
      load.lease.stop();
      if (this.loads.get(key) === load) this.loads.delete(key);
    };
    promise.then(
      (value) => {
        settled();
        if (value !== ELSEWHERE) this.backoff.succeeded(key);
      },
      (err: unknown) => {
        settled();
        this.counters.loadErrors++;
        this.backoff.failed(key, policy.backoffMs);
        if (background) {
          this.events.emit("error", { operation: "refresh", key, error: err, storage: this.store.kind });
        }
      },
    );
    this.work.track(promise, background ? "refresh" : "load", key, () => load.lease.lapsed());
    return load;
  }

  /** A caller's hard timeout passed: counted, backed off and signalled to the loader once per load. */
  private loadTimedOut(key: string, load: Load, policy: CacheAsidePolicy): void {
    if (load.timedOut) return;
    load.timedOut = true;
    this.counters.loadTimeouts++;
    this.backoff.failed(key, policy.backoffMs);
    load.ctx.abort(new CacheLoaderTimeoutError(key, policy.hardMs as number));
  }

  private serveStale<T>(key: string, stale: Stale<T>, reason: StaleReason, error?: unknown): T {
    const c = this.counters;
    c.hits++;
    c.staleHits++;
    if (reason === "error") c.staleOnError++;
    else if (reason === "timeout") c.staleOnTimeout++;
    else if (reason === "soft-timeout") c.staleOnSoftTimeout++;
    else if (reason === "backoff") c.staleOnBackoff++;
    if (this.events.has("hit")) this.events.emit("hit", { operation: "getOrSet", key, stale: true, reason });
    if (this.events.has("stale")) {
      this.events.emit(
        "stale",
        error === undefined
          ? { operation: "getOrSet", key, reason, staleForMs: stale.age }
          : { operation: "getOrSet", key, reason, staleForMs: stale.age, error },
      );
    }
    return stale.value;
  }

  /** Whether a polled entry is one a forceFresh call may take: not the entry it refused. */
  private static newer(
    hit: Hit | undefined | typeof UNAVAILABLE,
    refused: Hit | undefined | typeof UNAVAILABLE,
  ) {
    if (refused === undefined || refused === UNAVAILABLE || hit === undefined || hit === UNAVAILABLE)
      return true;
    return !hit.raw.equals(refused.raw);
  }

  /** One load: under the key's lock when the store is shared, polling while another process holds it. */
  private async runLoad<T>(
    key: string,
    loader: Loader<T>,
    options: GetOrSetOptions,
    policy: CacheAsidePolicy,
    first: ReadResult,
    firstHit: Hit | undefined | typeof UNAVAILABLE,
    load: Load,
    lockTtlMs: number,
    previous: Promise<void> | undefined,
  ): Promise<T | typeof ELSEWHERE> {
    const forceFresh = options.forceFresh === true;
    const stamps = await this.loadStamps(first, options);
    if (previous !== undefined) await previous;
    if (first.state === "unavailable" || (this.store.local && !this.fallback)) {
      return this.callLoader(key, loader, options, stamps, load, policy);
    }

    const waitMs = Math.round((options.lockWait ?? Math.max(lockTtlMs / 1000, 10)) * 1000);
    const lock = new LoaderLock(this, stampedeLockKey(key), lockTtlMs);
    load.lock = lock;

    let state = await lock.acquire();
    if (state === "acquired") {
      return this.loadUnderLock(key, loader, options, policy, lock, stamps, load, firstHit);
    }
    if (state === "unavailable") return this.callLoader(key, loader, options, stamps, load, policy);
    // A background refresh leaves the key to the process that holds its lock.
    if (load.background) return ELSEWHERE;

    const deadline = Date.now() + waitMs;
    let delay = 15;
    while (Date.now() < deadline) {
      await sleep(Math.min(delay + Math.random() * delay, Math.max(1, deadline - Date.now())));
      delay = Math.min(delay * 1.5, 200);
      const hit = await this.readSlow("getOrSet", key);
      const polled = this.toReadResult(hit, key, "getOrSet");
      if (polled.state === "hit" && polled.age < 0 && (!forceFresh || CacheService.newer(hit, firstHit))) {
        return polled.value as T;
      }
      if (polled.state === "unavailable") break;
      // The holder may have failed (lock released or expired without a value): take over.
      state = await lock.acquire();
      if (state === "acquired") {
        return this.loadUnderLock(
          key,
          loader,
          options,
          policy,
          lock,
          await this.loadStamps(polled, options),
          load,
          firstHit,
        );
      }
      if (state === "unavailable") break;
    }
    return this.callLoader(key, loader, options, stamps, load, policy);
  }

  /** Loads while holding the getOrSet lock, renewing it every `lockTtl / 3` until the value is stored. */
  private async loadUnderLock<T>(
    key: string,
    loader: Loader<T>,
    options: GetOrSetOptions,
    policy: CacheAsidePolicy,
    lock: LoaderLock,
    stamps: { gen: string | undefined; tags: readonly TagStamp[] | undefined } | undefined,
    load: Load,
    firstHit: Hit | undefined | typeof UNAVAILABLE,
  ): Promise<T> {
    lock.keepAlive();
    try {
      // Someone may have stored the value between our read and our lock.
      const hit = await this.readSlow("getOrSet", key);
      const again = this.toReadResult(hit, key, "getOrSet");
      if (
        again.state === "hit" &&
        again.age < 0 &&
        (options.forceFresh !== true || CacheService.newer(hit, firstHit))
      ) {
        return again.value as T;
      }
      return await this.callLoader(
        key,
        loader,
        options,
        stamps ?? (await this.loadStamps(again, options)),
        load,
        policy,
      );
    } finally {
      await lock.release();
    }
  }

  // ---------------------------------------------------------------- patterns
  // Rate limiters, sessions and pub/sub are functions of a cache in their own entry points
  // (`@cacheplane/client/rate-limits`, `/sessions`, `/pubsub`), outside the main bundle.

  /**
   * A lock held until `release()` or `ttl` seconds, with a fencing token (`lock.fence`) greater than
   * that of every earlier holder; `undefined` when it is held elsewhere.
   */
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

  // ---------------------------------------------------------------- moved patterns

  /**
   * @deprecated Moved to its own entry point (decision 0024): `createRateLimiter(cache, options)`
   * from `@cacheplane/client/rate-limits`. Throws a {@link CacheConfigError} saying so.
   */
  rateLimiter(..._args: unknown[]): never {
    throw movedPattern("rateLimiter", "createRateLimiter(cache, options)", "rate-limits");
  }

  /**
   * @deprecated Moved to its own entry point (decision 0024): `createSessionStore(cache, options)`
   * from `@cacheplane/client/sessions`. Throws a {@link CacheConfigError} saying so.
   */
  sessions(..._args: unknown[]): never {
    throw movedPattern("sessions", "createSessionStore(cache, options)", "sessions");
  }

  /**
   * @deprecated Moved to its own entry point (decision 0024): `createPubSub(cache)` from
   * `@cacheplane/client/pubsub`. Throws a {@link CacheConfigError} saying so.
   */
  pubsub(..._args: unknown[]): never {
    throw movedPattern("pubsub", "createPubSub(cache)", "pubsub");
  }

  // ---------------------------------------------------------------- lifecycle

  /** Opens the connection now (e.g. during Lambda init) instead of at the first call. */
  async connect(): Promise<void> {
    await this.store.connect?.();
    // The local tier's bus subscribes now, so an ACL without pub/sub fails here (CacheConfigError).
    await this.localTier?.connect();
  }

  /** Waits for background refreshes, then closes the stores (shared connections are reference-counted). */
  async close(): Promise<void> {
    if (this.closed) return;
    await this.drain();
    this.closed = true;
    this.breakers.stop();
    clearTimeout(this.reconcileTimer);
    this.events.clear();
    this.localTier?.close();
    await Promise.allSettled([this.store.close(), this.fallback?.close()]);
    await this.onClose?.();
  }
}

/**
 * The getOrSet (stampede) lock of one key: acquired through the breaker (a held lock in the fallback
 * store only coordinates this process), renewed while its loader runs, released when done.
 */
class LoaderLock {
  private readonly token = builtin<typeof import("node:crypto")>("node:crypto").randomBytes(12);
  private timer: NodeJS.Timeout | undefined;
  private onFallback = false;

  constructor(
    private readonly service: CacheService,
    private readonly name: string,
    private readonly ttlMs: number,
  ) {}

  async acquire(): Promise<"acquired" | "held" | "unavailable"> {
    // No fencing token: a stampede lock only saves loader calls (and a fence counter per cache key
    // would cost memory).
    const r = await this.service._run("lock", this.name, (s) =>
      s.setIfAbsent(this.name, this.token, this.ttlMs),
    );
    if (!r.ok) return "unavailable";
    this.onFallback = r.source === "fallback";
    return r.value ? "acquired" : "held";
  }

  /** Renews the lock every ttl / 3 until {@link release}. */
  keepAlive(): void {
    const every = Math.max(50, Math.floor(this.ttlMs / 3));
    const renew = () => {
      this.timer = setTimeout(() => {
        const store = this.onFallback ? this.service.fallback : this.service.store;
        if (!store) return;
        store.compareAndExpire(this.name, this.token, this.ttlMs).then(
          (held) => {
            if (held && this.timer !== undefined) renew();
          },
          () => {
            if (this.timer !== undefined) renew();
          },
        );
      }, every);
      this.timer.unref?.();
    };
    renew();
  }

  async release(): Promise<void> {
    clearTimeout(this.timer);
    this.timer = undefined;
    await this.service
      ._run("unlock", this.name, (s) => s.compareAndDelete(this.name, this.token))
      .catch(() => undefined);
  }
}

/** The error of a pattern method that moved to its own entry point (decision 0024). */
function movedPattern(method: string, replacement: string, entry: string): CacheConfigError {
  return new CacheConfigError(
    `cache.${method}() moved out of the main entry point: use ${replacement} from "@cacheplane/client/${entry}"`,
    [method],
  );
}
