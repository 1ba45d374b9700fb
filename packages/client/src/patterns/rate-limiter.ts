/**
 * Rate limiting: fixed window, sliding window (exact log) and token bucket. On Redis each check is
 * one atomic Lua script (EVALSHA with NOSCRIPT fallback); on the memory store the same algorithms
 * run in process. Keys are `<keyspace>:rl:<name>:<identifier>`. When the store is unavailable the
 * limiter fails open (configurable) and never throws unless the service has `throwOnError`.
 */
import { randomBytes } from "node:crypto";
import type { CacheService } from "../cache-service.js";
import { CacheConfigError } from "../errors.js";
import type { LuaScript } from "../lua-scripts.js";
import type { CacheStore } from "../stores/cache-store.js";
import { MemoryStore } from "../stores/memory-store.js";
import { RedisStore } from "../stores/redis-store.js";
import { fixedWindowScript, slidingWindowScript, tokenBucketScript } from "./rate-limit-scripts.js";

export type RateLimitAlgorithm = "fixed-window" | "sliding-window" | "token-bucket";

export interface RateLimiterOptions {
  /** Default `sliding-window`. */
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

type Raw = [allowed: number, remaining: number, resetMs: number, retryMs: number];

const scripts: Record<RateLimitAlgorithm, LuaScript> = {
  "fixed-window": fixedWindowScript,
  "sliding-window": slidingWindowScript,
  "token-bucket": tokenBucketScript,
};

function result(limit: number, raw: Raw, now: number, degraded: boolean): RateLimitResult {
  const [allowed, remaining, resetMs, retryMs] = raw;
  const r = {
    allowed: allowed === 1,
    limit,
    remaining: Math.max(0, Math.floor(remaining)),
    resetAt: now + Math.max(0, resetMs),
    retryAfter: allowed === 1 ? 0 : Math.max(1, Math.ceil(retryMs / 1000)),
    degraded,
  };
  return {
    ...r,
    headers() {
      const headers: Record<string, string> = {
        "RateLimit-Limit": String(r.limit),
        "RateLimit-Remaining": String(r.remaining),
        "RateLimit-Reset": String(Math.max(0, Math.ceil((r.resetAt - Date.now()) / 1000))),
      };
      if (!r.allowed) headers["Retry-After"] = String(r.retryAfter);
      return headers;
    },
  };
}

// ------------------------------------------------------------------ in-process implementation

interface MemoryState {
  count: number;
  /** fixed window: reset time; token bucket: last refill time. */
  at: number;
  tokens: number;
  log: number[];
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

function memoryLimit(
  store: MemoryStore,
  key: string,
  algorithm: RateLimitAlgorithm,
  limit: number,
  windowMs: number,
  cost: number,
  now: number,
): Raw {
  const { states, state: found } = memoryState(store, key);
  const state = found ?? { count: 0, at: 0, tokens: limit, log: [] };
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
  const keyOf = (identifier: string) => {
    if (typeof identifier !== "string" || identifier.length === 0) {
      throw new CacheConfigError("Rate limit identifier must be a non-empty string", ["identifier"]);
    }
    return `rl:${options.name}:${identifier}`;
  };

  return {
    options,
    async limit(identifier, limitOptions = {}) {
      const key = keyOf(identifier);
      const cost = limitOptions.cost ?? 1;
      if (!Number.isInteger(cost) || cost < 1)
        throw new CacheConfigError("cost must be a positive integer", ["cost"]);
      const r = await service._run("rateLimit", key, async (store) => {
        if (store instanceof RedisStore) {
          const args: (string | number)[] = [options.limit, windowMs, cost, Date.now()];
          if (options.algorithm === "sliding-window") args.push(randomBytes(8).toString("base64url"));
          const raw = (await store.runScript(script, key, args)) as number[];
          return raw.map(Number) as Raw;
        }
        if (store instanceof MemoryStore) {
          return memoryLimit(store, key, options.algorithm, options.limit, windowMs, cost, Date.now());
        }
        throw new Error(`rate limiting is not supported on ${store.kind}`);
      });
      const now = Date.now();
      if (r.ok) return result(options.limit, r.value, now, false);
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
