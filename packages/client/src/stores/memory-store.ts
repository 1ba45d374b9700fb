/**
 * In-process store: a Map in LRU order with per-entry expiry and a maximum number of entries.
 * Volatile (a cold start empties it); used for tests, local development and per-instance caching.
 */

import { builtin } from "../node-builtins.js";
import { type CacheStore, FENCE_TTL_MS, type StoreEntry } from "./cache-store.js";

interface Entry {
  value: Buffer;
  /** Epoch ms; `Infinity` = no expiry. */
  expiresAt: number;
}

export interface MemoryStoreOptions {
  keyspace?: string;
  /** Least recently used entries are evicted beyond this. Default 10,000. */
  maxEntries?: number;
  /** Clock for tests. */
  now?: () => number;
}

export class MemoryStore implements CacheStore {
  readonly kind = "memory";
  readonly local = true;
  readonly keyspace: string;
  readonly maxEntries: number;
  /** In-process message bus used by the memory pub/sub. */
  readonly bus: import("node:events").EventEmitter = new (builtin<typeof import("node:events")>(
    "node:events",
  ).EventEmitter)();
  private readonly entries = new Map<string, Entry>();
  private readonly now: () => number;
  /** Number of LRU evictions since creation. */
  evictions = 0;

  constructor(options: MemoryStoreOptions = {}) {
    this.keyspace = options.keyspace ?? "cache";
    this.maxEntries = Math.max(1, options.maxEntries ?? 10_000);
    this.now = options.now ?? Date.now;
    this.bus.setMaxListeners(0);
  }

  /** Live entries (expired ones may still count until touched). */
  get size(): number {
    return this.entries.size;
  }

  private k(key: string): string {
    return `${this.keyspace}:${key}`;
  }

  /** The live entry, refreshed in LRU order, or undefined (expired entries are dropped). */
  private live(fullKey: string, touch = true): Entry | undefined {
    const entry = this.entries.get(fullKey);
    if (!entry) return undefined;
    if (entry.expiresAt <= this.now()) {
      this.entries.delete(fullKey);
      return undefined;
    }
    if (touch) {
      this.entries.delete(fullKey);
      this.entries.set(fullKey, entry);
    }
    return entry;
  }

  private put(fullKey: string, value: Buffer, ttlMs: number | undefined): void {
    this.entries.delete(fullKey);
    this.entries.set(fullKey, {
      value: Buffer.from(value),
      expiresAt: ttlMs === undefined ? Number.POSITIVE_INFINITY : this.now() + ttlMs,
    });
    while (this.entries.size > this.maxEntries) {
      const oldest = this.entries.keys().next();
      if (oldest.done) break;
      this.entries.delete(oldest.value);
      this.evictions++;
    }
  }

  async get(key: string): Promise<Buffer | undefined> {
    const entry = this.live(this.k(key));
    return entry ? Buffer.from(entry.value) : undefined;
  }

  async getMany(keys: readonly string[]): Promise<(Buffer | undefined)[]> {
    return keys.map((key) => {
      const entry = this.live(this.k(key));
      return entry ? Buffer.from(entry.value) : undefined;
    });
  }

  async set(key: string, value: Buffer, ttlMs?: number): Promise<void> {
    this.put(this.k(key), value, ttlMs);
  }

  async setMany(entries: readonly StoreEntry[]): Promise<void> {
    for (const entry of entries) this.put(this.k(entry.key), entry.value, entry.ttlMs);
  }

  async delete(key: string): Promise<boolean> {
    const fullKey = this.k(key);
    const existed = this.live(fullKey, false) !== undefined;
    this.entries.delete(fullKey);
    return existed;
  }

  async deleteMany(keys: readonly string[]): Promise<number> {
    let count = 0;
    for (const key of new Set(keys)) if (await this.delete(key)) count++;
    return count;
  }

  async has(key: string): Promise<boolean> {
    return this.live(this.k(key), false) !== undefined;
  }

  async expire(key: string, ttlMs: number): Promise<boolean> {
    const entry = this.live(this.k(key), false);
    if (!entry) return false;
    entry.expiresAt = this.now() + ttlMs;
    return true;
  }

  async getTtl(key: string): Promise<number | undefined> {
    const entry = this.live(this.k(key), false);
    if (!entry) return undefined;
    return entry.expiresAt === Number.POSITIVE_INFINITY
      ? entry.expiresAt
      : Math.max(0, entry.expiresAt - this.now());
  }

  /** Deletes every key of this keyspace (in process; CacheService.clear() uses generations). */
  async clear(): Promise<number> {
    const prefix = `${this.keyspace}:`;
    let count = 0;
    for (const fullKey of [...this.entries.keys()]) {
      if (fullKey.startsWith(prefix) && this.live(fullKey, false)) count++;
      if (fullKey.startsWith(prefix)) this.entries.delete(fullKey);
    }
    return count;
  }

  async setIfAbsent(key: string, value: Buffer, ttlMs?: number): Promise<boolean> {
    const fullKey = this.k(key);
    if (this.live(fullKey, false)) return false;
    this.put(fullKey, value, ttlMs);
    return true;
  }

  async compareAndDelete(key: string, expected: Buffer): Promise<boolean> {
    const fullKey = this.k(key);
    const entry = this.live(fullKey, false);
    if (!entry?.value.equals(expected)) return false;
    this.entries.delete(fullKey);
    return true;
  }

  async compareAndExpire(key: string, expected: Buffer, ttlMs: number): Promise<boolean> {
    const entry = this.live(this.k(key), false);
    if (!entry?.value.equals(expected)) return false;
    entry.expiresAt = this.now() + ttlMs;
    return true;
  }

  async compareAndSet(key: string, expected: Buffer, value: Buffer, ttlMs: number): Promise<boolean> {
    const fullKey = this.k(key);
    const entry = this.live(fullKey, false);
    if (!entry?.value.equals(expected)) return false;
    this.put(fullKey, value, ttlMs);
    return true;
  }

  /** Same rules as the Redis function (see `@cacheplane/core/server-scripts` lockAcquire). */
  async acquireLock(name: string, token: Buffer, ttlMs: number): Promise<number | undefined> {
    const fullKey = this.k(name);
    if (this.live(fullKey, false)) return undefined;
    const fenceKey = `${fullKey}:fence`;
    const previous = Number(this.live(fenceKey, false)?.value.toString("latin1"));
    let fence = Math.floor(this.now());
    if (Number.isFinite(previous) && previous + 1 > fence) fence = previous + 1;
    this.put(fenceKey, Buffer.from(String(fence), "latin1"), FENCE_TTL_MS);
    this.put(fullKey, token, ttlMs);
    return fence;
  }

  releaseLock(name: string, token: Buffer): Promise<boolean> {
    return this.compareAndDelete(name, token);
  }

  renewLock(name: string, token: Buffer, ttlMs: number): Promise<boolean> {
    return this.compareAndExpire(name, token, ttlMs);
  }

  async ping(): Promise<void> {}

  async close(): Promise<void> {
    this.bus.removeAllListeners();
  }
}
