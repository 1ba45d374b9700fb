/**
 * The storage contract under {@link CacheService}. Stores hold bytes (already serialized), prefix
 * keys with `<keyspace>:` themselves and express durations in milliseconds. Keys starting with
 * `__cp:` are the client's own (internal-keys.ts); stores treat them like any other key. Every store implements
 * the same semantics; `test/contract.ts` runs one suite over all of them.
 */

export interface StoreEntry {
  key: string;
  value: Buffer;
  /** Milliseconds to live; `undefined` = no expiry. */
  ttlMs?: number;
}

export type StoreKind = "redis" | "dynamodb" | "memory" | (string & {});

export interface CacheStore {
  readonly kind: StoreKind;
  /** The prefix owner: keys are stored as `<keyspace>:<key>`. May be unknown until first use (Redis from an ARN). */
  readonly keyspace: string | undefined;
  /** `true` when only this process sees the store (memory): getOrSet skips the cross-process lock. */
  readonly local?: boolean;

  get(key: string): Promise<Buffer | undefined>;
  /**
   * Optional: two keys in one command when the store can read them together right now (Redis
   * standalone: one MGET), else `undefined` (a cluster, whose keys live in different slots; a client
   * not ready yet) and the caller reads them one by one. CacheService reads the generation with the
   * first value of a turn through it.
   */
  getPair?(first: string, second: string): Promise<[Buffer | undefined, Buffer | undefined]> | undefined;
  /** Aligned with `keys`; `undefined` for misses. */
  getMany(keys: readonly string[]): Promise<(Buffer | undefined)[]>;
  set(key: string, value: Buffer, ttlMs?: number): Promise<void>;
  /**
   * Optional: `set` with the value as text, stored as its UTF-8 bytes (what `get` then returns).
   * CacheService uses it for codec output that is text, so a store that can send a string (Redis)
   * skips a copy; without it, the service calls `set` with `Buffer.from(value, "utf8")`.
   */
  setText?(key: string, value: string, ttlMs?: number): Promise<void>;
  setMany(entries: readonly StoreEntry[]): Promise<void>;
  /** `true` when the key existed. */
  delete(key: string): Promise<boolean>;
  /** How many of the keys existed. */
  deleteMany(keys: readonly string[]): Promise<number>;
  has(key: string): Promise<boolean>;
  /** Sets a new time to live on an existing key; `false` when the key does not exist. */
  expire(key: string, ttlMs: number): Promise<boolean>;
  /** Remaining ms; `Infinity` when the key has no expiry; `undefined` when it does not exist. */
  getTtl(key: string): Promise<number | undefined>;
  /**
   * Optional, local stores only (memory): deletes every key of the keyspace at once. CacheService
   * never walks a shared store: its `clear()` bumps the keyspace's generation instead.
   */
  clear?(): Promise<number>;

  /** Atomic: stores only when the key does not exist (locks, sessions, versions); no ttl = no expiry. */
  setIfAbsent(key: string, value: Buffer, ttlMs?: number): Promise<boolean>;
  /** Atomic: deletes only when the stored value equals `expected`. */
  compareAndDelete(key: string, expected: Buffer): Promise<boolean>;
  /** Atomic: sets a new ttl only when the stored value equals `expected`. */
  compareAndExpire(key: string, expected: Buffer, ttlMs: number): Promise<boolean>;
  /** Atomic: replaces the value (and its ttl) only when the stored value equals `expected`. */
  compareAndSet(key: string, expected: Buffer, value: Buffer, ttlMs: number): Promise<boolean>;

  /**
   * Atomic: takes the lock `name` for `token` when it is free, for `ttlMs`. Returns the fencing
   * token, a number greater than that of every earlier acquisition of `name` (kept for 7 days after
   * the last one, then restarting from the clock in ms), or `undefined` when the lock is held.
   */
  acquireLock(name: string, token: Buffer, ttlMs: number): Promise<number | undefined>;
  /** Atomic: releases the lock when `token` holds it. */
  releaseLock(name: string, token: Buffer): Promise<boolean>;
  /** Atomic: sets a new ttl when `token` still holds the lock. */
  renewLock(name: string, token: Buffer, ttlMs: number): Promise<boolean>;

  /**
   * Optional: the failure domain of a key, for per-domain circuit breakers: in a Redis cluster the
   * master node serving the key's slot (`host:port`). Stores without it are one domain.
   */
  failureDomain?(key: string): string;

  /**
   * Optional: calls `listener` whenever the store (re)connects, so an open breaker probes at once
   * instead of at its next scheduled probe. Returns an unsubscribe function.
   */
  onReconnect?(listener: () => void): () => void;
  /** A cheap round trip; throws when the store is not reachable. */
  ping(): Promise<void>;
  /** Opens connections ahead of the first call (optional warm-up). */
  connect?(): Promise<void>;
  close(): Promise<void>;
}

/** Groups `items` into arrays of at most `size`. */
export function chunk<T>(items: readonly T[], size: number): T[][] {
  const out: T[][] = [];
  for (let i = 0; i < items.length; i += size) out.push(items.slice(i, i + size));
  return out;
}

/** How long a lock's fence counter outlives the lock's last acquisition. */
export const FENCE_TTL_MS = 7 * 24 * 3600 * 1000;
