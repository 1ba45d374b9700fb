/**
 * Sessions cached under `session:<id>` (in the keyspace) with a sliding ttl and an optional
 * source-of-truth loader (e.g. a DynamoDB sessions table) consulted on a cache miss.
 */
import { randomBytes } from "node:crypto";
import type { CacheService } from "../cache-service.js";
import { CacheConfigError } from "../errors.js";

export interface SessionsOptions<T> {
  /** Seconds a session lives in the cache after create/touch/load. */
  ttl: number;
  /** Source of truth on a miss; return `undefined` when the session does not exist. */
  loader?: (id: string) => Promise<T | undefined> | T | undefined;
  /** Key prefix inside the keyspace. Default `session`. */
  prefix?: string;
}

export interface Session<T> {
  id: string;
  data: T;
}

export interface SessionStore<T> {
  /** The session, from the cache or else from the loader (then cached); `undefined` when unknown. */
  get(id: string): Promise<T | undefined>;
  /** Stores a new session under a random 256-bit id (or `options.id`). */
  create(data: T, options?: { id?: string; ttl?: number }): Promise<Session<T>>;
  /** Replaces the data of a session and restarts its ttl. */
  update(id: string, data: T): Promise<boolean>;
  /** Restarts the ttl; reloads from the loader when the session left the cache. `false` when unknown. */
  touch(id: string): Promise<boolean>;
  /** Removes the session from the cache (revoke it in the source of truth too). */
  revoke(id: string): Promise<boolean>;
}

export function createSessionStore<T>(service: CacheService, options: SessionsOptions<T>): SessionStore<T> {
  if (!(options.ttl > 0))
    throw new CacheConfigError("sessions ttl must be a positive number of seconds", ["ttl"]);
  const prefix = options.prefix ?? "session";
  const keyOf = (id: string) => {
    if (typeof id !== "string" || id.length === 0 || id.length > 256) {
      throw new CacheConfigError("Session id must be a non-empty string of at most 256 characters", ["id"]);
    }
    return `${prefix}:${id}`;
  };
  const load = async (id: string): Promise<T | undefined> => {
    if (!options.loader) return undefined;
    const data = await options.loader(id);
    if (data !== undefined) await service.set(keyOf(id), data, { ttl: options.ttl });
    return data;
  };
  return {
    async get(id) {
      const cached = await service.get<T>(keyOf(id));
      return cached !== undefined ? cached : load(id);
    },
    async create(data, createOptions = {}) {
      const id = createOptions.id ?? randomBytes(32).toString("base64url");
      await service.set(keyOf(id), data, { ttl: createOptions.ttl ?? options.ttl });
      return { id, data };
    },
    update(id, data) {
      return service.set(keyOf(id), data, { ttl: options.ttl });
    },
    async touch(id) {
      if (await service.expire(keyOf(id), options.ttl)) return true;
      return (await load(id)) !== undefined;
    },
    revoke(id) {
      return service.delete(keyOf(id));
    },
  };
}
