/**
 * Redis / Valkey store (standalone or cluster) over ioredis. Keys are `<keyspace>:<key>`; batches
 * use MGET / pipelines, grouped by hash slot in cluster mode so no call raises CROSSSLOT. Nothing
 * walks the keyspace (no SCAN, KEYS or DBSIZE: service users are not granted them); CacheService
 * clears with generations. Atomic operations (locks with fencing tokens, compare-and-set) are the
 * platform's server scripts (FCALL), each on keys of one slot.
 */

import {
  compareAndDeleteScript,
  compareAndExpireScript,
  compareAndSetScript,
  lockAcquireScript,
} from "@cacheplane/core/server-scripts/store";
import type { Cluster } from "ioredis";
import { CacheConfigError } from "../errors.js";
import { FENCE_SUFFIX } from "../internal-keys.js";
import { groupBySlot, keySlot } from "../key-slot.js";
import { type RedisClient, type RedisConnection, waitReady } from "../redis-connection.js";
import { runServerScript, type ServerScript } from "../server-scripts.js";
import { type CacheStore, FENCE_TTL_MS, type StoreEntry } from "./cache-store.js";

export interface RedisStoreOptions {
  /** A connection built from a secret (what createCache uses). */
  connection?: RedisConnection;
  /** Or an existing ioredis client / Cluster (not closed by `close()` unless `ownsClient`). */
  client?: RedisClient;
  /** Required with `client`; with `connection` it overrides the secret's keyspace. */
  keyspace?: string;
  /** Close `client` on `close()`. Default false. */
  ownsClient?: boolean;
  /** With `client`: the longest a call waits for the client to become ready. Default 2000 ms. */
  readyTimeoutMs?: number;
}

function isCluster(client: RedisClient): client is Cluster {
  return (client as Cluster).isCluster === true;
}

const nullToUndefined = <T>(value: T | null): T | undefined => value ?? undefined;
const toVoid = (): void => undefined;
const pairOf = (values: (Buffer | null)[]): [Buffer | undefined, Buffer | undefined] => [
  values[0] ?? undefined,
  values[1] ?? undefined,
];

export class RedisStore implements CacheStore {
  readonly kind = "redis";
  readonly connection: RedisConnection | undefined;
  private readonly client: RedisClient | undefined;
  private readonly keyspaceOverride: string | undefined;
  private readonly ownsClient: boolean;
  private readonly readyTimeoutMs: number;
  /** `<keyspace>:` for the keyspace it was built from (the keyspace is known after the first connect). */
  private prefixValue = "";
  private prefixOf: string | undefined;
  /** Reports a failed command to the connection (auth failures re-read the secret), then rethrows. */
  private readonly commandFailed = (err: unknown): never => {
    this.connection?.noteCommandError(err);
    throw err;
  };

  constructor(options: RedisStoreOptions) {
    if (!options.connection && !options.client) {
      throw new CacheConfigError("RedisStore needs a `connection` or a `client`", ["connection", "client"]);
    }
    if (options.client && !options.keyspace) {
      throw new CacheConfigError("RedisStore with a `client` needs a `keyspace`", ["keyspace"]);
    }
    this.connection = options.connection;
    this.client = options.client;
    this.keyspaceOverride = options.keyspace;
    this.ownsClient = options.ownsClient ?? false;
    this.readyTimeoutMs = options.readyTimeoutMs ?? 2000;
  }

  get keyspace(): string | undefined {
    return this.keyspaceOverride ?? this.connection?.keyspace;
  }

  /** A ready client and the key prefix. */
  async acquire(): Promise<{ client: RedisClient; prefix: string }> {
    if (this.client) {
      this.watch(this.client);
      await waitReady(this.client, this.readyTimeoutMs);
      return { client: this.client, prefix: `${this.keyspaceOverride}:` };
    }
    const connection = this.connection as RedisConnection;
    const client = await connection.acquire((c) => this.watch(c));
    return { client, prefix: `${this.keyspace}:` };
  }

  private readonly reconnectListeners = new Set<() => void>();
  private readonly watched = new WeakSet<RedisClient>();

  /**
   * Reports the client's "ready" events to `onReconnect` listeners. Attached on the slow path only
   * (acquire: a client that is not ready), which is where a reconnect is waited for.
   */
  private watch(client: RedisClient): void {
    if (this.reconnectListeners.size === 0 || this.watched.has(client)) return;
    this.watched.add(client);
    client.on("ready", () => {
      for (const listener of this.reconnectListeners) listener();
    });
  }

  onReconnect(listener: () => void): () => void {
    this.reconnectListeners.add(listener);
    return () => this.reconnectListeners.delete(listener);
  }

  /** A dedicated subscriber connection (pub/sub). */
  async subscriber(): Promise<{ client: RedisClient; prefix: string }> {
    if (this.connection) {
      const client = await this.connection.subscriber();
      return { client, prefix: `${this.keyspace}:` };
    }
    const own = this.client as RedisClient;
    const duplicate = own.duplicate();
    duplicate.on("error", () => undefined);
    await waitReady(duplicate, this.readyTimeoutMs);
    return { client: duplicate, prefix: `${this.keyspaceOverride}:` };
  }

  /** The client when it is ready right now (no awaits: the hot path), else undefined. */
  private readyNow(): RedisClient | undefined {
    const own = this.client;
    if (own !== undefined) return own.status === "ready" ? own : undefined;
    return this.connection?.readyClient();
  }

  /** `<keyspace>:`, rebuilt only when the keyspace changes. */
  private prefix(): string {
    const keyspace = this.keyspace;
    if (keyspace !== this.prefixOf) {
      this.prefixOf = keyspace;
      this.prefixValue = `${keyspace}:`;
    }
    return this.prefixValue;
  }

  /**
   * Runs `fn` with a ready client; auth failures trigger a secret re-read. With a ready client (the
   * normal case) `fn` runs at once, without an extra async layer; otherwise after (re)connecting.
   */
  with<R>(fn: (client: RedisClient, prefix: string) => Promise<R>): Promise<R> {
    const client = this.readyNow();
    if (client === undefined) return this.withAcquired(fn);
    try {
      return fn(client, this.prefix()).catch(this.commandFailed);
    } catch (err) {
      this.connection?.noteCommandError(err);
      return Promise.reject(err);
    }
  }

  private async withAcquired<R>(fn: (client: RedisClient, prefix: string) => Promise<R>): Promise<R> {
    const { client, prefix } = await this.acquire();
    try {
      return await fn(client, prefix);
    } catch (err) {
      this.connection?.noteCommandError(err);
      throw err;
    }
  }

  /**
   * Runs a server script (FCALL of the platform library, or EVALSHA) on `key` (unprefixed) and
   * `extraKeys` (unprefixed; in cluster mode they must share `key`'s slot).
   */
  runScript(
    script: ServerScript,
    key: string,
    args: (string | number | Buffer)[],
    extraKeys?: readonly string[],
  ): Promise<unknown> {
    const keysOf = (prefix: string) =>
      extraKeys === undefined ? [prefix + key] : [prefix + key, ...extraKeys.map((k) => prefix + k)];
    const client = this.readyNow();
    if (client === undefined) {
      return this.withAcquired((c, prefix) => runServerScript(c, script, keysOf(prefix), args));
    }
    return runServerScript(client, script, keysOf(this.prefix()), args).catch(this.commandFailed);
  }

  /**
   * In cluster mode: the master node (`host:port`) serving the key's slot, as the cluster client
   * currently knows it (MOVED and failovers update it). `""` on standalone Redis.
   */
  failureDomain(key: string): string {
    const client = this.client ?? this.connection?.readyClient();
    if (client === undefined || !isCluster(client)) return "";
    return client.slots[keySlot(this.prefix() + key)]?.[0] ?? "";
  }

  async connect(): Promise<void> {
    await this.acquire();
  }

  get(key: string): Promise<Buffer | undefined> {
    const client = this.readyNow();
    if (client === undefined) {
      return this.withAcquired(async (c, prefix) => (await c.getBuffer(prefix + key)) ?? undefined);
    }
    return client.getBuffer(this.prefix() + key).then(nullToUndefined, this.commandFailed);
  }

  getPair(first: string, second: string): Promise<[Buffer | undefined, Buffer | undefined]> | undefined {
    const client = this.readyNow();
    if (client === undefined || isCluster(client)) return undefined;
    const prefix = this.prefix();
    return client.mgetBuffer(prefix + first, prefix + second).then(pairOf, this.commandFailed);
  }

  getMany(keys: readonly string[]): Promise<(Buffer | undefined)[]> {
    return this.with(async (client, prefix) => {
      const full = keys.map((k) => prefix + k);
      if (!isCluster(client)) return (await client.mgetBuffer(...full)).map((v) => v ?? undefined);
      const out: (Buffer | undefined)[] = new Array(keys.length).fill(undefined);
      await Promise.all(
        [...groupBySlot(full).values()].map(async (indexes) => {
          const values = await client.mgetBuffer(...indexes.map((i) => full[i] as string));
          indexes.forEach((index, j) => {
            out[index] = values[j] ?? undefined;
          });
        }),
      );
      return out;
    });
  }

  set(key: string, value: Buffer | string, ttlMs?: number): Promise<void> {
    const client = this.readyNow();
    if (client === undefined) {
      return this.withAcquired(async (c, prefix) => {
        if (ttlMs === undefined) await c.set(prefix + key, value);
        else await c.set(prefix + key, value, "PX", ttlMs);
      });
    }
    const fullKey = this.prefix() + key;
    const reply = ttlMs === undefined ? client.set(fullKey, value) : client.set(fullKey, value, "PX", ttlMs);
    return reply.then(toVoid, this.commandFailed);
  }

  /** A string value is sent as is (ioredis writes strings without its slower buffer mode). */
  setText(key: string, value: string, ttlMs?: number): Promise<void> {
    return this.set(key, value, ttlMs);
  }

  setMany(entries: readonly StoreEntry[]): Promise<void> {
    return this.with(async (client, prefix) => {
      const full = entries.map((e) => prefix + e.key);
      const groups = isCluster(client) ? [...groupBySlot(full).values()] : [entries.map((_, i) => i)];
      await Promise.all(
        groups.map(async (indexes) => {
          const pipeline = client.pipeline();
          for (const i of indexes) {
            const entry = entries[i] as StoreEntry;
            const key = full[i] as string;
            if (entry.ttlMs === undefined) pipeline.set(key, entry.value);
            else pipeline.set(key, entry.value, "PX", entry.ttlMs);
          }
          const results = (await pipeline.exec()) ?? [];
          for (const [err] of results) if (err) throw err;
        }),
      );
    });
  }

  delete(key: string): Promise<boolean> {
    return this.with(async (client, prefix) => (await client.unlink(prefix + key)) > 0);
  }

  deleteMany(keys: readonly string[]): Promise<number> {
    return this.with(async (client, prefix) => {
      const full = [...new Set(keys)].map((k) => prefix + k);
      if (!isCluster(client)) return client.unlink(...full);
      const counts = await Promise.all(
        [...groupBySlot(full).values()].map((indexes) =>
          client.unlink(...indexes.map((i) => full[i] as string)),
        ),
      );
      return counts.reduce((a, b) => a + b, 0);
    });
  }

  has(key: string): Promise<boolean> {
    return this.with(async (client, prefix) => (await client.exists(prefix + key)) > 0);
  }

  expire(key: string, ttlMs: number): Promise<boolean> {
    return this.with(async (client, prefix) => (await client.pexpire(prefix + key, ttlMs)) === 1);
  }

  getTtl(key: string): Promise<number | undefined> {
    return this.with(async (client, prefix) => {
      const ms = await client.pttl(prefix + key);
      if (ms === -2) return undefined;
      if (ms === -1) return Number.POSITIVE_INFINITY;
      return ms;
    });
  }

  setIfAbsent(key: string, value: Buffer, ttlMs?: number): Promise<boolean> {
    return this.with(
      async (client, prefix) =>
        (ttlMs === undefined
          ? await client.set(prefix + key, value, "NX")
          : await client.set(prefix + key, value, "PX", ttlMs, "NX")) === "OK",
    );
  }

  async compareAndDelete(key: string, expected: Buffer): Promise<boolean> {
    return Number(await this.runScript(compareAndDeleteScript, key, [expected])) === 1;
  }

  async compareAndExpire(key: string, expected: Buffer, ttlMs: number): Promise<boolean> {
    return Number(await this.runScript(compareAndExpireScript, key, [expected, ttlMs])) === 1;
  }

  async compareAndSet(key: string, expected: Buffer, value: Buffer, ttlMs: number): Promise<boolean> {
    return Number(await this.runScript(compareAndSetScript, key, [expected, value, ttlMs])) === 1;
  }

  /** `name` ends with its `{hash tag}`, so `<name>:fence` is in the same slot. */
  async acquireLock(name: string, token: Buffer, ttlMs: number): Promise<number | undefined> {
    const fence = Number(
      await this.runScript(
        lockAcquireScript,
        name,
        [token, ttlMs, Date.now(), FENCE_TTL_MS],
        [name + FENCE_SUFFIX],
      ),
    );
    return fence > 0 ? fence : undefined;
  }

  releaseLock(name: string, token: Buffer): Promise<boolean> {
    return this.compareAndDelete(name, token);
  }

  renewLock(name: string, token: Buffer, ttlMs: number): Promise<boolean> {
    return this.compareAndExpire(name, token, ttlMs);
  }

  ping(): Promise<void> {
    return this.with(async (client) => {
      if (isCluster(client)) await Promise.all(client.nodes("master").map((node) => node.ping()));
      else await client.ping();
    });
  }

  async close(): Promise<void> {
    if (this.client && this.ownsClient) {
      try {
        if (this.client.status === "ready") await this.client.quit();
      } finally {
        this.client.disconnect();
      }
    }
  }
}
