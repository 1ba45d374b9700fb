/**
 * What CacheService knows of the local tier: the factory that `localTier()` from
 * `@cacheplane/client/local` returns, and the handle it creates. Types only (plus the miss marker),
 * so a bundle of a cache without the local tier carries neither the LRU nor the bus.
 */
import type { Serializer } from "../codec.js";
import type { CacheStore } from "../stores/cache-store.js";

/** What the local tier's `get` returns when it cannot serve the key. */
export const LOCAL_MISS: unique symbol = Symbol.for("cacheplane.localMiss") as never;

/** What is known about a value being stored locally. */
export interface FillInfo {
  /** Encoded size in bytes (for `maxBytes`). */
  size?: number;
  /** Tag names of the entry (a tag invalidation drops it). */
  tags?: readonly string[];
  /** Epoch ms after which the shared entry is stale (stale-while-revalidate). */
  freshUntil?: number;
  /** The entry's ttl in the shared store (ms), when known: the local ttl is lowered to it. */
  ttlMs?: number;
}

export interface LocalTierStats {
  /** Calls served from process memory. */
  hits: number;
  /** Calls that asked the local tier and went on to the shared store. */
  misses: number;
  /** Entries held now. */
  entries: number;
  /** Invalidation messages received from other processes. */
  invalidations: number;
  /** Whether the bus subscription is confirmed and its connection open. */
  connected: boolean;
}

/** What the tier needs of its CacheService. */
export interface LocalTierHost {
  readonly store: CacheStore;
  readonly serializer: Serializer;
  /** Seconds. */
  readonly defaultTtl: number;
  /** Seconds (`Infinity`: none). */
  readonly maxTtl: number;
  readonly throwOnError: boolean;
  /** Counts and reports an error event of the local tier. */
  _localError(operation: string, error: unknown): void;
}

/** A validated shared-store hit, as the tier keeps it. */
export interface LocalHit {
  raw: Buffer;
  envelope: { tags: readonly (readonly [string, string])[] | undefined; freshUntil: number | undefined };
  error?: unknown;
}

/** The local tier as CacheService uses it (implemented by local-tier.ts). */
export interface LocalTierHandle {
  usedBy(call: boolean | undefined): boolean;
  get(key: string): unknown;
  ticket(): number;
  fill(key: string, value: unknown, ticket: number, info?: FillInfo): void;
  /**
   * Keeps a value read from the shared store (`hit`: the read's result; only a valid hit is kept),
   * unless its read raced with an invalidation.
   */
  keepHit(key: string, value: unknown, hit: LocalHit | undefined | symbol, ticket: number): void;
  /** `keep`: the value the write stores (one key), kept when the write succeeded (`ok` not false). */
  write<R>(keys: readonly string[], run: () => Promise<R>, keep?: { value: unknown } & FillInfo): Promise<R>;
  writeTags<R>(tags: readonly string[], run: () => Promise<R>): Promise<R>;
  writeAll<R>(run: () => Promise<R>): Promise<R>;
  stats(): LocalTierStats;
  connect(): Promise<void>;
  close(): void;
}

/** What `localTier(options)` returns and `local` takes. */
export interface LocalTierFactory {
  /** The tier for `store` (`undefined` over a store that is in process already). */
  create(host: LocalTierHost): LocalTierHandle | undefined;
}
