/**
 * Sessions in the reserved part of the keyspace (`__cp:sess:<prefix>:<id>`), with a sliding ttl and
 * an optional source-of-truth loader (e.g. a DynamoDB sessions table) consulted on a cache miss.
 *
 * - Ids come from the generator (256 random bits) unless `allowCustomIds` is set; `create` never
 *   overwrites (set-if-absent), so a known or guessed id cannot be taken over (session fixation).
 * - `update` and `touch` act only on a session that exists (in the cache, or from the loader).
 *   `update(id, fn)` is a read-modify-write with compare-and-set: concurrent updates from many
 *   processes are all applied, none is lost; `update(id, data)` replaces the data (also
 *   conflict-checked, so it never revives a revoked session).
 * - `revoke` writes a tombstone for the session's ttl: an update racing it fails, a loader refill
 *   racing it is refused, and it cannot be re-created under that id. Revocation wins.
 *
 * A stored session is `S` + 8 random bytes + the encoded data (tombstone: `R` + 8 random bytes); the
 * random bytes make every write distinct, so a compare-and-set never mistakes an old value for the
 * current one.
 */
import { randomBytes } from "node:crypto";
import { setTimeout as sleep } from "node:timers/promises";
import type { CacheService } from "../cache-service.js";
import { CacheConfigError, SessionConflictError } from "../errors.js";

export { SessionConflictError } from "../errors.js";

import { sessionKey } from "../internal-keys.js";

export interface SessionsOptions<T> {
  /** Seconds a session lives in the cache after create/update/touch/load (lowered to `maxTtl`). */
  ttl: number;
  /** Source of truth on a miss; return `undefined` when the session does not exist. */
  loader?: (id: string) => Promise<T | undefined> | T | undefined;
  /** Distinguishes session stores in one keyspace. Default `session`. */
  prefix?: string;
  /**
   * Allow `create(data, { id })` with an id chosen by the caller (e.g. when migrating sessions).
   * Default false: ids always come from the generator.
   */
  allowCustomIds?: boolean;
  /** Attempts of an update that keeps meeting concurrent updates before it throws. Default 50. */
  maxUpdateAttempts?: number;
}

export interface Session<T> {
  id: string;
  data: T;
}

export interface SessionStore<T> {
  /** The session, from the cache or else from the loader (then cached); `undefined` when unknown or revoked. */
  get(id: string): Promise<T | undefined>;
  /**
   * Stores a new session under a random 256-bit id (`options.id` only with `allowCustomIds`).
   * Throws {@link SessionConflictError} when the id exists (or was revoked).
   */
  create(data: T, options?: { id?: string; ttl?: number }): Promise<Session<T>>;
  /**
   * Changes an existing session and restarts its ttl: `update(id, (current) => next)` applies the
   * function with compare-and-set (retried on conflict, so concurrent updates are never lost);
   * `update(id, data)` replaces the data. `false` when the session does not exist, was revoked,
   * or the store is unavailable.
   */
  update(id: string, change: T | ((current: T) => T | Promise<T>)): Promise<boolean>;
  /** Restarts the ttl of an existing session (reloading it when it left the cache). `false` when unknown or revoked. */
  touch(id: string): Promise<boolean>;
  /** Revokes the session (a tombstone for its ttl); `true` when it was live. Revoke it in the source of truth too. */
  revoke(id: string): Promise<boolean>;
}

const LIVE = 0x53; // S
const REVOKED = 0x52; // R
const NONCE = 8;
const READ = { read: true } as const;
const WRITE = { write: true } as const;

export function createSessionStore<T>(service: CacheService, options: SessionsOptions<T>): SessionStore<T> {
  if (!(typeof options.ttl === "number" && options.ttl > 0))
    throw new CacheConfigError("sessions ttl must be a positive number of seconds", ["ttl"]);
  const ttlMs = service._ttlMs(options.ttl, "ttl");
  const prefix = options.prefix ?? "session";
  const maxAttempts = Math.max(1, options.maxUpdateAttempts ?? 50);
  const serializer = service.serializer;
  const keyOf = (id: string) => {
    if (typeof id !== "string" || id.length === 0 || id.length > 256) {
      throw new CacheConfigError("Session id must be a non-empty string of at most 256 characters", ["id"]);
    }
    return sessionKey(prefix, id);
  };
  const record = (data: T, key: string): Buffer =>
    Buffer.concat([Buffer.from([LIVE]), randomBytes(NONCE), serializer.encode(data, key)]);
  const tombstone = (): Buffer => Buffer.concat([Buffer.from([REVOKED]), randomBytes(NONCE)]);
  const decode = (raw: Buffer, key: string): T => serializer.decode(raw.subarray(1 + NONCE), key) as T;

  /** The stored record: a Buffer, `undefined` when missing, `null` when the store is unavailable. */
  const read = async (key: string): Promise<Buffer | undefined | null> => {
    const r = await service._run("session", key, (s) => s.get(key), READ);
    return r.ok ? r.value : null;
  };

  /** Loads from the loader and fills the cache unless a session or a tombstone appeared meanwhile. */
  const load = async (id: string, key: string): Promise<T | undefined> => {
    if (!options.loader) return undefined;
    const data = await options.loader(id);
    if (data === undefined) return undefined;
    const filled = await service._run(
      "session",
      key,
      (s) => s.setIfAbsent(key, record(data, key), ttlMs),
      WRITE,
    );
    if (!filled.ok || filled.value) return data;
    // Someone stored it first, or revoked it: what is stored wins.
    const now = await read(key);
    if (!now || now[0] !== LIVE) return undefined;
    return decode(now, key);
  };

  return {
    async get(id) {
      const key = keyOf(id);
      const raw = await read(key);
      if (raw === null) return options.loader ? options.loader(id) : undefined;
      if (raw === undefined) return load(id, key);
      return raw[0] === LIVE ? decode(raw, key) : undefined;
    },

    async create(data, createOptions = {}) {
      if (createOptions.id !== undefined && !options.allowCustomIds) {
        throw new CacheConfigError(
          "create() with an `id` needs `allowCustomIds: true` in the sessions options (ids come from the generator otherwise)",
          ["allowCustomIds"],
        );
      }
      const id = createOptions.id ?? randomBytes(32).toString("base64url");
      const key = keyOf(id);
      const ms = createOptions.ttl === undefined ? ttlMs : service._ttlMs(createOptions.ttl, "ttl");
      const r = await service._run("session", key, (s) => s.setIfAbsent(key, record(data, key), ms), WRITE);
      if (r.ok && !r.value) {
        throw new SessionConflictError("A session with this id exists already (or was revoked)", {
          operation: "createSession",
        });
      }
      return { id, data };
    },

    async update(id, change) {
      const key = keyOf(id);
      for (let attempt = 0; attempt < maxAttempts; attempt++) {
        let raw = await read(key);
        if (raw === null) return false;
        if (raw === undefined) {
          if ((await load(id, key)) === undefined) return false;
          raw = await read(key);
          if (!raw) return false;
        }
        if (raw[0] !== LIVE) return false;
        const next =
          typeof change === "function"
            ? await (change as (current: T) => T | Promise<T>)(decode(raw, key))
            : change;
        const current = raw;
        const r = await service._run(
          "session",
          key,
          (s) => s.compareAndSet(key, current, record(next, key), ttlMs),
          WRITE,
        );
        if (!r.ok) return false;
        if (r.value) return true;
        // A concurrent update (or a revocation) came first: read again.
        await sleep(Math.random() * Math.min(50, 2 * (attempt + 1)));
      }
      throw new SessionConflictError(`Session update met concurrent updates ${maxAttempts} times`, {
        operation: "updateSession",
      });
    },

    async touch(id) {
      const key = keyOf(id);
      for (let attempt = 0; attempt < maxAttempts; attempt++) {
        const raw = await read(key);
        if (raw === null) return false;
        if (raw === undefined) return (await load(id, key)) !== undefined;
        if (raw[0] !== LIVE) return false;
        // Only the ttl changes: not a write that could leave an old value behind after an outage.
        const r = await service._run("session", key, (s) => s.compareAndExpire(key, raw, ttlMs), READ);
        if (!r.ok) return false;
        if (r.value) return true;
      }
      return false;
    },

    async revoke(id) {
      const key = keyOf(id);
      const before = await read(key);
      await service._run("session", key, (s) => s.set(key, tombstone(), ttlMs), WRITE);
      return before !== null && before !== undefined && before[0] === LIVE;
    },
  };
}
