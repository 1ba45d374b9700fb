/**
 * Rate limiting: fixed window, sliding window (exact log), sliding window counter (approximation)
 * and token bucket. On Redis each check is one atomic server script, one round trip (FCALL of the
 * platform's function library, or EVALSHA); on the memory store the same algorithms run in process.
 * Keys are `<keyspace>:__cp:rl:<name>:<identifier>`, in the reserved part of the keyspace. When the store is unavailable the limiter fails open
 * (configurable) and never throws unless the service has `throwOnError`.
 */
import { randomBytes } from "node:crypto";
import {
  fixedWindowScript,
  type ServerScript,
  slidingWindowCounterScript,
  slidingWindowScript,
  tokenBucketScript,
} from "@cacheplane/core/server-scripts";
import type { CacheService } from "../cache-service.js";
import { CacheConfigError } from "../errors.js";
import { rateLimitKeyPrefix } from "../internal-keys.js";
import type { CacheStore } from "../stores/cache-store.js";
import { MemoryStore } from "../stores/memory-store.js";
import { RedisStore } from "../stores/redis-store.js";

/**
 * - `fixed-window`: a counter per window (cheapest; bursts of up to 2 × limit across a window edge).
 * - `sliding-window`: exact log of the last window's requests (one sorted-set entry per allowed
 *   request, five Redis calls per check).
 * - `sliding-window-counter`: current + weighted previous window count (constant memory, two Redis
 *   calls; an approximation that assumes the previous window's requests were evenly spread).
 * - `token-bucket`: `limit` tokens refilled continuously at `limit / window`.
 */
export type RateLimitAlgorithm =
  | "fixed-window"
  | "sliding-window"
  | "sliding-window-counter"
  | "token-bucket";

export interface RateLimiterOptions {
  /** Default `sliding-window` (exact). */
  algorithm?: RateLimitAlgorithm;
  /** Requests per window (token bucket: capacity, refilled at `limit / window`). */
  limit: number;
  /** Window in seconds. */
  window: number;
  /** Distinguishes limiters in one keyspace. Default `default`. */
  name?: string;
  /** Allow requests when the store is unavailable. Default true. */
  failOpen?: boolean;
}

export interface RateLimitResult {
  allowed: boolean;
  limit: number;
  /** Requests (tokens) left in the current window. */
  remaining: number;
  /** Epoch ms when the window resets (token bucket: when the bucket is full again). */
  resetAt: number;
  /** Seconds until a denied request may be retried; 0 when allowed. */
  retryAfter: number;
  /** `true` when the store could not be asked and the answer comes from `failOpen`. */
  degraded: boolean;
  /** `RateLimit-Limit`, `RateLimit-Remaining`, `RateLimit-Reset` (seconds) and, when denied, `Retry-After` (seconds). */
  headers(): Record<string, string>;
}

export interface RateLimiter {
  readonly options: Readonly<Required<RateLimiterOptions>>;
  /** Counts one request (or `cost`) for `identifier` and says whether it is allowed. */
  limit(identifier: string, options?: { cost?: number }): Promise<RateLimitResult>;
  /** Forgets the state of `identifier`. */
  reset(identifier: string): Promise<void>;
}

/** The server script refuses more (it stores one sorted-set entry per unit of cost). */
const MAX_SLIDING_LOG_COST = 1000;

type Raw = [allowed: number, remaining: number, resetMs: number, retryMs: number];

const scripts: Record<RateLimitAlgorithm, ServerScript> = {
  "fixed-window": fixedWindowScript,
  "sliding-window": slidingWindowScript,
  "sliding-window-counter": slidingWindowCounterScript,
  "token-bucket": tokenBucketScript,
};

/**
 * `headers()` of one result: a closure over the values (works detached, as `{ headers }`), made by a
 * function so no per-call function name is set.
 */
function headersFor(
  limit: number,
  remaining: number,
  resetAt: number,
  allowed: boolean,
  retryAfter: number,
): () => Record<string, string> {
  return () => {
    const headers: Record<string, string> = {
      "RateLimit-Limit": String(limit),
      "RateLimit-Remaining": String(remaining),
      "RateLimit-Reset": String(Math.max(0, Math.ceil((resetAt - Date.now()) / 1000))),
    };
    if (!allowed) headers["Retry-After"] = String(retryAfter);
    return headers;
  };
}

function result(limit: number, raw: Raw, now: number, degraded: boolean): RateLimitResult {
  const allowed = Number(raw[0]) === 1;
  const remaining = Math.max(0, Math.floor(Number(raw[1])));
  const resetAt = now + Math.max(0, Number(raw[2]));
  const retryAfter = allowed ? 0 : Math.max(1, Math.ceil(Number(raw[3]) / 1000));
  return {
    allowed,
    limit,
    remaining,
    resetAt,
    retryAfter,
    degraded,
    headers: headersFor(limit, remaining, resetAt, allowed, retryAfter),
  };
}

/** Unique members for the exact log: a random per-process prefix and a counter (no crypto call per check). */
const uniquePrefix = `${randomBytes(9).toString("base64url")}.`;
let uniqueCounter = 0;
function uniqueId(): string {
  uniqueCounter = (uniqueCounter + 1) % Number.MAX_SAFE_INTEGER;
  return uniquePrefix + uniqueCounter.toString(36);
}

// ------------------------------------------------------------------ in-process implementation

interface MemoryState {
  /** fixed window: count; sliding window counter: current window's count. */
  count: number;
  /** fixed window: reset time; token bucket: last refill time; sliding window counter: window start (0 = none). */
  at: number;
  tokens: number;
  log: number[];
  /** sliding window counter: previous window's count. */
  prev: number;
}

const memoryStates = new WeakMap<MemoryStore, Map<string, MemoryState>>();
const MAX_MEMORY_IDENTIFIERS = 10_000;

function memoryState(
  store: MemoryStore,
  key: string,
): { states: Map<string, MemoryState>; state?: MemoryState } {
  let states = memoryStates.get(store);
  if (!states) {
    states = new Map();
    memoryStates.set(store, states);
  }
  const state = states.get(key);
  if (state) {
    states.delete(key);
    states.set(key, state);
  }
  return { states, state };
}

/** @internal The in-process algorithms (exported for tests that compare them with the Lua scripts). */
export function memoryLimit(
  store: MemoryStore,
  key: string,
  algorithm: RateLimitAlgorithm,
  limit: number,
  windowMs: number,
  cost: number,
  now: number,
): Raw {
  const { states, state: found } = memoryState(store, key);
  const state = found ?? { count: 0, at: 0, tokens: limit, log: [], prev: 0 };
  if (!found) {
    states.set(key, state);
    while (states.size > MAX_MEMORY_IDENTIFIERS) {
      const oldest = states.keys().next();
      if (oldest.done) break;
      states.delete(oldest.value);
    }
    if (algorithm === "token-bucket") state.at = now;
  }
  switch (algorithm) {
    case "fixed-window": {
      if (state.at <= now) {
        state.count = 0;
        state.at = 0;
      }
      const ttl = state.at === 0 ? windowMs : state.at - now;
      if (state.count + cost > limit) return [0, limit - state.count, ttl, ttl];
      state.count += cost;
      if (state.at === 0) state.at = now + windowMs;
      return [1, limit - state.count, ttl, 0];
    }
    case "sliding-window": {
      const log = state.log.filter((t) => t > now - windowMs);
      state.log = log;
      if (log.length + cost > limit) {
        const need = log.length + cost - limit;
        const entry = cost <= limit ? log[need - 1] : undefined;
        const retry = entry === undefined ? windowMs : entry + windowMs - now;
        const first = log[0];
        return [
          0,
          limit - log.length,
          first === undefined ? windowMs : first + windowMs - now,
          Math.max(1, retry),
        ];
      }
      for (let i = 0; i < cost; i++) log.push(now);
      return [1, limit - log.length, (log[0] ?? now) + windowMs - now, 0];
    }
    case "sliding-window-counter": {
      // Same steps and arithmetic as slidingWindowCounterScript.
      let start = now - (now % windowMs);
      const w = state.at > 0 ? state.at : undefined;
      let cur = 0;
      let prev = 0;
      if (w !== undefined && w >= start) {
        start = w;
        cur = state.count;
        prev = state.prev;
      } else if (w !== undefined && w === start - windowMs) {
        prev = state.count;
      }
      const elapsed = Math.max(0, now - start);
      const used = (prev * (windowMs - elapsed)) / windowMs + cur;
      if (used + cost > limit) {
        let retry = windowMs;
        if (cost > limit) retry = windowMs;
        else if (cur + cost <= limit)
          retry = start + windowMs - ((limit - cur - cost) * windowMs) / prev - now;
        else retry = start + 2 * windowMs - ((limit - cost) * windowMs) / cur - now;
        let reset = 0;
        if (cur > 0) reset = start + 2 * windowMs - now;
        else if (prev > 0) reset = start + windowMs - now;
        return [0, Math.max(0, Math.floor(limit - used)), reset, Math.max(1, Math.ceil(retry))];
      }
      state.at = start;
      state.count = cur + cost;
      state.prev = prev;
      return [1, Math.floor(limit - used - cost), start + 2 * windowMs - now, 0];
    }
    case "token-bucket": {
      const rate = limit / windowMs;
      if (now > state.at) {
        state.tokens = Math.min(limit, state.tokens + (now - state.at) * rate);
        state.at = now;
      }
      let allowed = 0;
      let retry = 0;
      if (state.tokens >= cost) {
        state.tokens -= cost;
        allowed = 1;
      } else {
        retry = Math.ceil((cost - state.tokens) / rate);
      }
      return [allowed, Math.floor(state.tokens), Math.ceil((limit - state.tokens) / rate), retry];
    }
  }
}

// ------------------------------------------------------------------ factory

function supportsRateLimiting(store: CacheStore): boolean {
  return store instanceof RedisStore || store instanceof MemoryStore;
}

export function createRateLimiter(service: CacheService, input: RateLimiterOptions): RateLimiter {
  const options: Required<RateLimiterOptions> = {
    algorithm: input.algorithm ?? "sliding-window",
    limit: input.limit,
    window: input.window,
    name: input.name ?? "default",
    failOpen: input.failOpen ?? true,
  };
  if (!(options.algorithm in scripts)) {
    throw new CacheConfigError(`Unknown rate limit algorithm "${options.algorithm}"`, ["algorithm"]);
  }
  if (!Number.isInteger(options.limit) || options.limit < 1) {
    throw new CacheConfigError("Rate limit `limit` must be a positive integer", ["limit"]);
  }
  if (!(options.window > 0) || !Number.isFinite(options.window)) {
    throw new CacheConfigError("Rate limit `window` must be a positive number of seconds", ["window"]);
  }
  if (!supportsRateLimiting(service.store)) {
    throw new CacheConfigError(
      `Rate limiting needs redis or memory storage (this cache uses ${service.store.kind})`,
      ["CACHE_STORAGE_TYPE"],
    );
  }
  const windowMs = Math.max(1, Math.round(options.window * 1000));
  const script = scripts[options.algorithm];
  const exactLog = options.algorithm === "sliding-window";
  const keyPrefix = rateLimitKeyPrefix(options.name);
  const keyOf = (identifier: string) => {
    if (typeof identifier !== "string" || identifier.length === 0) {
      throw new CacheConfigError("Rate limit identifier must be a non-empty string", ["identifier"]);
    }
    return keyPrefix + identifier;
  };
  // Script arguments as strings, made once (ioredis would stringify numbers on every call); the
  // fixed window needs no clock (its window is the key's TTL).
  const limitArg = String(options.limit);
  const windowArg = String(windowMs);
  const usesClock = options.algorithm !== "fixed-window";
  /** One check: one EVALSHA on Redis, in process on memory. */
  const check = (store: CacheStore, key: string, cost: number): Promise<Raw> => {
    if (store instanceof RedisStore) {
      const costArg = cost === 1 ? "1" : String(cost);
      const args = !usesClock
        ? [limitArg, windowArg, costArg]
        : exactLog
          ? [limitArg, windowArg, costArg, String(Date.now()), uniqueId()]
          : [limitArg, windowArg, costArg, String(Date.now())];
      return store.runScript(script, key, args) as Promise<Raw>;
    }
    if (store instanceof MemoryStore) {
      return Promise.resolve(
        memoryLimit(store, key, options.algorithm, options.limit, windowMs, cost, Date.now()),
      );
    }
    return Promise.reject(new Error(`rate limiting is not supported on ${store.kind}`));
  };

  return {
    options,
    async limit(identifier, limitOptions) {
      const key = keyOf(identifier);
      const cost = limitOptions?.cost ?? 1;
      if (cost !== 1 && (!Number.isInteger(cost) || cost < 1))
        throw new CacheConfigError("cost must be a positive integer", ["cost"]);
      if (exactLog && cost > MAX_SLIDING_LOG_COST)
        throw new CacheConfigError(
          `sliding-window cost must be at most ${MAX_SLIDING_LOG_COST} (one log entry per unit)`,
          ["cost"],
        );
      let raw: Raw | undefined;
      if (service._direct()) {
        // CacheService._run's hot path, inlined: one async layer less per check.
        const started = performance.now();
        let failed = false;
        try {
          raw = await check(service.store, key, cost);
        } catch (err) {
          failed = true;
          const r = await service._failed(
            "rateLimit",
            key,
            (store) => check(store, key, cost),
            undefined,
            err,
            started,
            true,
          );
          if (r.ok) raw = r.value;
        }
        if (!failed) service._succeeded(started, true);
      } else {
        const r = await service._run("rateLimit", key, (store) => check(store, key, cost));
        if (r.ok) raw = r.value;
      }
      const now = Date.now();
      if (raw !== undefined) return result(options.limit, raw, now, false);
      return result(
        options.limit,
        options.failOpen ? [1, options.limit, windowMs, 0] : [0, 0, windowMs, windowMs],
        now,
        true,
      );
    },
    async reset(identifier) {
      const key = keyOf(identifier);
      await service._run("rateLimitReset", key, async (store) => {
        if (store instanceof MemoryStore) memoryStates.get(store)?.delete(key);
        else await store.delete(key);
      });
    },
  };
}
