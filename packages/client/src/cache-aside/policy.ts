/** getOrSet's grace, backoff and timeout options, validated once per call into milliseconds. */
import { CacheConfigError } from "../errors.js";

export interface LoaderTimeouts {
  /**
   * Milliseconds after which a call that has a stale value (within `staleWhileRevalidate` or
   * `grace`) returns it while the load goes on in the background and stores its value.
   */
  softMs?: number;
  /**
   * Milliseconds after which the call stops waiting for the load: it returns the stale value when
   * one is within `grace`, else rejects with `CacheLoaderTimeoutError`. The loader's `ctx.signal`
   * is aborted; a loader that ignores it finishes in the background and its value is stored.
   */
  hardMs?: number;
}

export interface CacheAsidePolicy {
  swrMs: number;
  graceMs: number;
  /** max(swrMs, graceMs): how long an entry outlives its ttl in the store. */
  windowMs: number;
  backoffMs: number;
  softMs: number | undefined;
  hardMs: number | undefined;
}

export const DEFAULT_GRACE_BACKOFF = 10;

function seconds(value: number | undefined, field: string, fallback: number): number {
  if (value === undefined) return fallback;
  if (typeof value !== "number" || !Number.isFinite(value) || value < 0) {
    throw new CacheConfigError(`${field} must be a finite number of seconds, 0 or more`, [field], {
      operation: "getOrSet",
    });
  }
  return Math.round(value * 1000);
}

function millis(value: number | undefined, field: string): number | undefined {
  if (value === undefined) return undefined;
  if (typeof value !== "number" || !Number.isFinite(value) || value <= 0) {
    throw new CacheConfigError(`${field} must be a positive number of milliseconds`, [field], {
      operation: "getOrSet",
    });
  }
  return value;
}

export function cacheAsidePolicy(options: {
  staleWhileRevalidate?: number;
  grace?: number;
  graceBackoff?: number;
  timeouts?: LoaderTimeouts;
}): CacheAsidePolicy {
  const swrMs = seconds(options.staleWhileRevalidate, "staleWhileRevalidate", 0);
  const graceMs = seconds(options.grace, "grace", 0);
  const timeouts = options.timeouts;
  if (timeouts !== undefined && (timeouts === null || typeof timeouts !== "object")) {
    throw new CacheConfigError("timeouts must be an object { softMs?, hardMs? }", ["timeouts"], {
      operation: "getOrSet",
    });
  }
  return {
    swrMs,
    graceMs,
    windowMs: Math.max(swrMs, graceMs),
    backoffMs: seconds(options.graceBackoff, "graceBackoff", DEFAULT_GRACE_BACKOFF * 1000),
    softMs: millis(timeouts?.softMs, "timeouts.softMs"),
    hardMs: millis(timeouts?.hardMs, "timeouts.hardMs"),
  };
}
