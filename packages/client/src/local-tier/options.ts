/** Options of the local (in-process) tier and their validation. Durations are seconds, as elsewhere. */
import { CacheConfigError } from "../errors.js";

export interface LocalTierOptions {
  /** Most entries kept in process (least recently used evicted first). Default 1,000. */
  maxEntries?: number;
  /**
   * Optional byte bound: the sum of the entries' encoded sizes (what the shared store holds for them)
   * stays under it. Default: none (bounded by `maxEntries` only).
   */
  maxBytes?: number;
  /**
   * Seconds a value is served from process memory after it was read or loaded. Default 5. Never
   * longer than the entry's own ttl (the call's `ttl`, else `defaultTtl`): it is lowered to it.
   */
  ttl?: number;
  /**
   * `true` (default): `get` and `getOrSet` use the local tier unless a call passes `local: false`.
   * `false`: only calls that pass `local: true` use it (writes always invalidate it everywhere).
   */
  byDefault?: boolean;
  /** Seconds between two PINGs on the invalidation bus's connection. Default 1. */
  heartbeat?: number;
  /**
   * Seconds without a sign of life from the bus (a PING reply or a message) after which no local
   * entry is served until the bus answers again (a frozen Lambda hears nothing). Default 3; at least
   * `heartbeat`.
   */
  maxSilence?: number;
  /** The clock (ms), for tests. Default `Date.now`. */
  now?: () => number;
}

export interface LocalTierSettings {
  maxEntries: number;
  maxBytes: number | undefined;
  ttlMs: number;
  byDefault: boolean;
  heartbeatMs: number;
  maxSilenceMs: number;
  now: () => number;
}

function positive(value: number | undefined, fallback: number, field: string, integer = false): number {
  if (value === undefined) return fallback;
  if (
    typeof value !== "number" ||
    !Number.isFinite(value) ||
    value <= 0 ||
    (integer && !Number.isInteger(value))
  ) {
    throw new CacheConfigError(
      `local.${field} must be a positive ${integer ? "integer" : "number"}${integer ? "" : " of seconds"}`,
      [`local.${field}`],
    );
  }
  return value;
}

/**
 * Validated settings. `defaultTtlMs` is the service's default ttl (ms, `undefined`: none): the local
 * ttl is lowered to it.
 */
export function localTierSettings(
  options: LocalTierOptions,
  defaultTtlMs: number | undefined,
): LocalTierSettings {
  if (typeof options !== "object" || options === null) {
    throw new CacheConfigError("local must be an object of local tier options (or false)", ["local"]);
  }
  const maxEntries = positive(options.maxEntries, 1000, "maxEntries", true);
  const maxBytes =
    options.maxBytes === undefined ? undefined : positive(options.maxBytes, 0, "maxBytes", true);
  const ttlMs = Math.max(1, Math.round(positive(options.ttl, 5, "ttl") * 1000));
  const heartbeatMs = Math.max(1, Math.round(positive(options.heartbeat, 1, "heartbeat") * 1000));
  const maxSilenceMs = Math.max(
    heartbeatMs,
    Math.round(positive(options.maxSilence, Math.max(3, (3 * heartbeatMs) / 1000), "maxSilence") * 1000),
  );
  if (options.byDefault !== undefined && typeof options.byDefault !== "boolean") {
    throw new CacheConfigError("local.byDefault must be true or false", ["local.byDefault"]);
  }
  if (options.now !== undefined && typeof options.now !== "function") {
    throw new CacheConfigError("local.now must be a function returning milliseconds", ["local.now"]);
  }
  return {
    maxEntries,
    maxBytes,
    ttlMs: defaultTtlMs === undefined ? ttlMs : Math.min(ttlMs, defaultTtlMs),
    byDefault: options.byDefault ?? true,
    heartbeatMs,
    maxSilenceMs,
    now: options.now ?? Date.now,
  };
}
