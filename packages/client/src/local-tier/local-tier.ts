/**
 * The local tier: a bounded in-process LRU (lru-cache) of decoded values in front of the shared
 * store, kept coherent across processes by the invalidation bus (bus.ts). See docs/decisions/0018.
 *
 * Serving rule: an entry is served only while (1) it is younger than its local ttl, (2) the bus
 * subscription it was stored under is still the one in use (a reconnect drops everything), and (3)
 * the bus showed a sign of life within `maxSilence`.
 *
 * Filling rule: a value read from (or loaded into) the shared store is kept only when no
 * invalidation of its key (or of everything) happened since the read started (`ticket()`), so a
 * read racing with a write never stores the old value after the invalidation went by.
 */
import { LRUCache } from "lru-cache";
import { CacheConfigError, CacheUnavailableError, describeError, isConfigurationError } from "../errors.js";
import { RedisStore } from "../stores/redis-store.js";
import { InvalidationBus } from "./bus.js";
import {
  type FillInfo,
  LOCAL_MISS,
  type LocalHit,
  type LocalTierHandle,
  type LocalTierHost,
  type LocalTierStats,
} from "./contract.js";

export { LOCAL_MISS };

import { type BusMessage, encodeAll, encodeKeys, encodeTags } from "./messages.js";
import { type LocalTierOptions, type LocalTierSettings, localTierSettings } from "./options.js";

interface LocalEntry {
  value: unknown;
  /** Clock time (ms) after which the entry is not served. */
  expiresAt: number;
  epoch: number;
  tags: readonly string[] | undefined;
}

/** Invalidations remembered per key for racing reads; beyond this many, every racing read is refused. */
const MAX_RECENT = 10_000;

export class LocalTier implements LocalTierHandle {
  readonly settings: LocalTierSettings;
  readonly bus: InvalidationBus;
  private readonly lru: LRUCache<string, LocalEntry>;
  /** Bumped by every invalidation; `ticket()` is its value when a read starts. */
  private seq = 0;
  /** The seq of the last invalidation of everything (clear, tags, a lost bus). */
  private allSeq = 0;
  /** The seq of the last invalidation of each recently invalidated key. */
  private readonly recent = new Map<string, number>();
  private hits = 0;
  private misses = 0;
  private invalidations = 0;

  constructor(
    store: RedisStore,
    settings: LocalTierSettings,
    private readonly host: LocalTierHost,
  ) {
    this.settings = settings;
    this.lru = new LRUCache<string, LocalEntry>(
      settings.maxBytes === undefined
        ? { max: settings.maxEntries }
        : { max: settings.maxEntries, maxSize: settings.maxBytes },
    );
    this.bus = new InvalidationBus(
      store,
      settings.heartbeatMs,
      settings.maxSilenceMs,
      settings.now,
      {
        message: (message) => this.received(message),
        lost: () => this.dropAll(),
      },
      (err) => this.report("local", err),
    );
  }

  /** Whether a call uses the local tier (its `local` option, else `byDefault`). */
  usedBy(call: boolean | undefined): boolean {
    return call ?? this.settings.byDefault;
  }

  /** The value when it may be served from process memory, else {@link LOCAL_MISS}. */
  get(key: string): unknown {
    const bus = this.bus;
    if (bus.failure !== undefined) throw bus.failure;
    const entry = this.lru.get(key);
    if (entry === undefined) {
      this.misses++;
      if (!bus.up) bus.wake();
      return LOCAL_MISS;
    }
    if (entry.epoch !== bus.epoch || !bus.alive()) {
      this.lru.delete(key);
      this.misses++;
      bus.wake();
      return LOCAL_MISS;
    }
    const now = this.settings.now();
    if (now >= entry.expiresAt) {
      this.lru.delete(key);
      this.misses++;
      return LOCAL_MISS;
    }
    if (now - bus.lastHeard >= this.settings.maxSilenceMs) {
      this.misses++;
      bus.wake();
      return LOCAL_MISS;
    }
    this.hits++;
    return entry.value;
  }

  /** Taken when a shared read starts; {@link fill} refuses the value when an invalidation came since. */
  ticket(): number {
    return this.seq;
  }

  /** Keeps a value read from or loaded into the shared store (see the module comment). */
  fill(key: string, value: unknown, ticket: number, info: FillInfo = {}): void {
    const bus = this.bus;
    if (ticket < this.allSeq || !bus.alive()) return;
    const marked = this.recent.get(key);
    if (marked !== undefined && marked > ticket) return;
    const now = this.settings.now();
    let expiresAt = now + this.settings.ttlMs;
    if (info.ttlMs !== undefined && info.ttlMs < this.settings.ttlMs) expiresAt = now + info.ttlMs;
    if (info.freshUntil !== undefined) expiresAt = Math.min(expiresAt, now + (info.freshUntil - Date.now()));
    if (expiresAt <= now) return;
    const entry: LocalEntry = { value, expiresAt, epoch: bus.epoch, tags: info.tags };
    if (this.settings.maxBytes === undefined) {
      this.lru.set(key, entry);
      return;
    }
    let size = info.size;
    if (size === undefined) {
      try {
        size = this.host.serializer.encode(value, key).length;
      } catch {
        return;
      }
    }
    if (size > this.settings.maxBytes) return;
    this.lru.set(key, entry, { size: Math.max(1, size) });
  }

  keepHit(key: string, value: unknown, hit: LocalHit | undefined | symbol, ticket: number): void {
    // A miss, an unavailable store, or a corrupt entry is not kept; a stale one expires at once (fill).
    if (typeof hit !== "object" || hit.error !== undefined) return;
    const { freshUntil, tags } = hit.envelope;
    this.fill(key, value, ticket, {
      size: hit.raw.length,
      ...(tags === undefined ? {} : { tags: tags.map((t) => t[0]) }),
      ...(freshUntil === undefined ? {} : { freshUntil }),
    });
  }

  /**
   * Runs a write of `keys` in the shared store, dropping the keys here before and after it, then
   * publishes their invalidation (awaited: part of the write, so a Lambda freeze cannot lose it).
   * `keep` (one key): the value that write stored, kept here when the write succeeded and no other
   * invalidation of the key came while it ran (getOrSet's loaded value).
   */
  write<R>(keys: readonly string[], run: () => Promise<R>, keep?: { value: unknown } & FillInfo): Promise<R> {
    let before = 0;
    return this.around(
      () => {
        this.dropKeys(keys);
        before = this.seq;
      },
      () => encodeKeys(this.bus.sender, keys),
      run,
      keep === undefined
        ? undefined
        : (result) => {
            const key = keys[0] as string;
            // Only this write's own marks since: nobody else wrote the key meanwhile.
            const untouched = this.allSeq < before && this.recent.get(key) === before;
            const stored = (result as { ok?: unknown } | undefined)?.ok !== false;
            this.dropKeys(keys);
            if (untouched && stored) this.fill(key, keep.value, this.seq, keep);
          },
    );
  }

  /** `write` for a tag invalidation: entries with any of `tags` are dropped here and everywhere. */
  writeTags<R>(tags: readonly string[], run: () => Promise<R>): Promise<R> {
    return this.around(
      () => this.dropTags(tags),
      () => encodeTags(this.bus.sender, tags),
      run,
    );
  }

  /** `write` for `clear()`: every local entry is dropped here and everywhere. */
  writeAll<R>(run: () => Promise<R>): Promise<R> {
    return this.around(
      () => this.dropAll(),
      () => encodeAll(this.bus.sender),
      run,
    );
  }

  stats(): LocalTierStats {
    return {
      hits: this.hits,
      misses: this.misses,
      entries: this.lru.size,
      invalidations: this.invalidations,
      connected: this.bus.alive(),
    };
  }

  /** Subscribes now (Lambda init); rejects with CacheConfigError when the ACL refuses the bus. */
  connect(): Promise<void> {
    return this.bus.connect();
  }

  close(): void {
    this.bus.close();
    this.dropAll();
  }

  private async around<R>(
    drop: () => void,
    message: () => string,
    run: () => Promise<R>,
    written?: (result: R) => void,
  ): Promise<R> {
    drop();
    let result: R;
    try {
      result = await run();
    } catch (err) {
      // Invalid input never reached the store; anything else may have.
      if (isConfigurationError(err)) throw err;
      drop();
      await this.announce(message());
      throw err;
    }
    if (written === undefined) drop();
    else written(result);
    await this.announce(message());
    return result;
  }

  private async announce(text: string): Promise<void> {
    try {
      await this.bus.publish(text);
    } catch (err) {
      if (err instanceof CacheConfigError) {
        this.bus.failure ??= err;
        throw err;
      }
      this.report("invalidate", err);
    }
  }

  /** Counts a failed bus call; a failed invalidation throws with `throwOnError`. */
  private report(operation: string, err: unknown): void {
    this.host._localError(operation, err);
    if (this.host.throwOnError && operation === "invalidate") {
      throw new CacheUnavailableError(
        `The local tier's invalidation could not be published: ${describeError(err)}`,
        { operation, cause: err },
      );
    }
  }

  private received(message: BusMessage): void {
    this.invalidations++;
    if (message.type === "keys") this.dropKeys(message.keys);
    else if (message.type === "tags") this.dropTags(message.tags);
    else this.dropAll();
  }

  private dropKeys(keys: readonly string[]): void {
    const seq = ++this.seq;
    for (const key of keys) {
      this.lru.delete(key);
      this.recent.set(key, seq);
    }
    if (this.recent.size > MAX_RECENT) {
      this.recent.clear();
      this.allSeq = seq;
    }
  }

  private dropTags(tags: readonly string[]): void {
    this.allSeq = ++this.seq;
    const wanted = new Set(tags);
    const doomed: string[] = [];
    for (const [key, entry] of this.lru.entries()) {
      if (entry.tags?.some((tag) => wanted.has(tag))) doomed.push(key);
    }
    for (const key of doomed) this.lru.delete(key);
  }

  private dropAll(): void {
    this.allSeq = ++this.seq;
    this.recent.clear();
    this.lru.clear();
  }
}

/**
 * The local tier for `options` over `store`: undefined over a store that is already in process
 * (memory). Any other store than Redis cannot carry the bus: CacheConfigError.
 */
export function createLocalTier(host: LocalTierHost, options: LocalTierOptions): LocalTier | undefined {
  const store = host.store;
  const capMs = Math.min(host.defaultTtl, host.maxTtl) * 1000;
  const settings = localTierSettings(options, Number.isFinite(capMs) ? capMs : undefined);
  if (store.local === true) return undefined;
  if (!(store instanceof RedisStore)) {
    throw new CacheConfigError(
      `The local tier needs redis storage (this cache uses ${store.kind}): its copies are kept coherent ` +
        "through Redis pub/sub. Remove the `local` option or use redis storage.",
      ["local"],
    );
  }
  return new LocalTier(store, settings, host);
}
