/**
 * `@cacheplane/client/rate-limits`: several rate limits checked at once (one atomic round trip per
 * identifier), refunds, per-key dynamic limits, fail-open or fail-closed, and the IETF
 * `RateLimit-Policy` / `RateLimit` / `Retry-After` headers for Lambda and Node responses.
 *
 *   import { createRateLimits, setRateLimitHeaders } from "@cacheplane/client/rate-limits";
 */
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
