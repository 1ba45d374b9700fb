/**
 * The reserved part of a keyspace. Everything the client stores for itself (generation and tag
 * versions, locks and their fence counters, getOrSet stampede locks, sessions, rate limit state,
 * health probes) lives under `<keyspace>:__cp:`, and the public key API (get, set, delete, ...)
 * refuses keys that start with `__cp:`. So no cache key can collide with, delete or forge an
 * internal key, and clearing the cache never touches locks or sessions.
 *
 * Key names (store keys; every store adds `<keyspace>:` in front):
 * - `__cp:gen`                      the generation of the keyspace (bumped by `clear()`)
 * - `__cp:tag:<tag>`                the version of a tag (bumped by `invalidateTags`)
 * - `__cp:lock:{<key>}`             a lock; `__cp:lock:{<key>}:fence` its fence counter (same slot)
 * - `__cp:sl:<key>`                 the getOrSet (stampede) lock of a cache key
 * - `__cp:sess:<prefix>:<id>`       a session
 * - `__cp:rl:<name>:<identifier>`   rate limit state
 * - `__cp:rls:<name>:<dimension>:{<identifier>}:<limit>`  a counter of a multi-limit check
 *                                   (every limit of one identifier in one cluster slot)
 * - `__cp:health:<random>`          a health probe (deleted at once)
 *
 * Channel: `__cp:bus`, the local tier's invalidation bus (key and tag names, never values).
 */
import { CacheKeyError } from "./errors.js";

export const RESERVED_PREFIX = "__cp:";

/** True for keys in the reserved part of the keyspace. */
export function isReservedKey(key: string): boolean {
  // The first char test keeps the common case (any other first character) to one comparison.
  return key.charCodeAt(0) === 95 && key.startsWith(RESERVED_PREFIX);
}

export function reservedKeyError(key: string, operation: string): CacheKeyError {
  return new CacheKeyError(
    `Cache keys starting with "${RESERVED_PREFIX}" are reserved for the client's own data (locks, ` +
      `sessions, generations, tags); use another key (${operation})`,
    { operation, key: key.slice(0, 64) },
  );
}

export const GENERATION_KEY = `${RESERVED_PREFIX}gen`;

export function tagKey(tag: string): string {
  return `${RESERVED_PREFIX}tag:${tag}`;
}

/**
 * `{`, `}` and `%` percent-encoded, so the lock name's `{hash tag}` is exactly the user's key and the
 * lock and its fence counter (which differ only after the closing brace) share one cluster slot.
 */
function hashTagSafe(key: string): string {
  if (!/[{}%]/.test(key)) return key;
  return key.replace(/[{}%]/g, (c) => (c === "{" ? "%7B" : c === "}" ? "%7D" : "%25"));
}

/** The store key of a lock; its fence counter is `<this>:fence` (same slot). */
export function lockKey(key: string): string {
  return `${RESERVED_PREFIX}lock:{${hashTagSafe(key)}}`;
}

export const FENCE_SUFFIX = ":fence";

/** The getOrSet (stampede) lock of a cache key. */
export function stampedeLockKey(key: string): string {
  return `${RESERVED_PREFIX}sl:${key}`;
}

export function sessionKey(prefix: string, id: string): string {
  return `${RESERVED_PREFIX}sess:${prefix}:${id}`;
}

export function rateLimitKeyPrefix(name: string): string {
  return `${RESERVED_PREFIX}rl:${name}:`;
}

/**
 * The counter of one limit of a multi-limit check (`rateLimits`). The identifier is the hash tag,
 * so every limit of one identifier lives in one slot and one server call checks them together;
 * `name`, `dimension` and `limit` are plain names (no braces), so the first `{` is the tag's.
 */
export function multiLimitKey(name: string, dimension: string, identifier: string, limit: string): string {
  return `${RESERVED_PREFIX}rls:${name}:${dimension}:{${hashTagSafe(identifier)}}:${limit}`;
}

export function healthKey(random: string): string {
  return `${RESERVED_PREFIX}health:${random}`;
}

/** The local tier's invalidation channel (every store adds `<keyspace>:` in front). */
export const BUS_CHANNEL = `${RESERVED_PREFIX}bus`;
