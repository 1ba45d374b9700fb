/**
 * `@cacheplane/client/rate-limits`: several rate limits checked at once (one atomic round trip per
 * identifier), refunds, per-key dynamic limits, fail-open or fail-closed, and the IETF
 * `RateLimit-Policy` / `RateLimit` / `Retry-After` headers for Lambda and Node responses.
 *
 *   import { createRateLimiter, createRateLimits, setRateLimitHeaders } from "@cacheplane/client/rate-limits";
 *   const limiter = createRateLimiter(cache, { algorithm: "sliding-window", limit: 100, window: 60 });
 *
 * Like every rate limit code, the single limiter (`createRateLimiter`, formerly `cache.rateLimiter()`)
 * lives here, outside the main bundle: its Lua and in-process algorithms are not in a Lambda that
 * only gets and sets.
 */
export {
  createRateLimiter,
  type RateLimitAlgorithm,
  type RateLimiter,
  type RateLimiterOptions,
  type RateLimitResult,
} from "../rate-limiter.js";
export {
  type HeaderSetter,
  type LambdaHttpResult,
  type RateLimitHeaders,
  rateLimitHeaders,
  setRateLimitHeaders,
  withRateLimitHeaders,
} from "./headers.js";
export { createRateLimits } from "./rate-limits.js";
export type {
  Identifiers,
  LimitSpec,
  LimitState,
  RateLimits,
  RateLimitsCallOptions,
  RateLimitsOptions,
  RateLimitsResult,
} from "./types.js";
