/**
 * The IETF rate limit header fields for a multi-limit result, per
 * draft-ietf-httpapi-ratelimit-headers-11 (May 2026): `RateLimit-Policy` (each limit's quota `q` and
 * window `w` in seconds) and `RateLimit` (each limit's available quota `r` and the seconds `t` until
 * its window ends), both Structured Field lists (RFC 8941) of string items named after the limits;
 * plus `Retry-After` (seconds) on a rejected request. Limit names are restricted to characters that
 * need no escaping in a structured-field string.
 */
import type { RateLimitsResult } from "./types.js";

export type RateLimitHeaders = Record<string, string>;

/** `RateLimit-Policy`, `RateLimit` and, when rejected, `Retry-After`. */
export function rateLimitHeaders(result: RateLimitsResult): RateLimitHeaders {
  let policy = "";
  let current = "";
  for (const state of result.limits) {
    const separator = policy === "" ? "" : ", ";
    policy += `${separator}"${state.name}";q=${state.limit};w=${Math.max(1, Math.ceil(state.window))}`;
    current += `${separator}"${state.name}";r=${state.remaining};t=${state.resetIn}`;
  }
  const headers: RateLimitHeaders = { "RateLimit-Policy": policy, RateLimit: current };
  if (!result.allowed) headers["Retry-After"] = String(result.retryAfter);
  return headers;
}

/** What a Lambda proxy integration / Function URL handler returns (only `headers` is touched). */
export interface LambdaHttpResult {
  statusCode?: number;
  headers?: Record<string, string | number | boolean>;
  [field: string]: unknown;
}

/** A copy of `response` with the rate limit headers added to its `headers` object. */
export function withRateLimitHeaders<T extends LambdaHttpResult>(
  response: T,
  result: RateLimitsResult,
): T & { headers: Record<string, string | number | boolean> } {
  return { ...response, headers: { ...response.headers, ...rateLimitHeaders(result) } };
}

/** Anything with Node's `setHeader` (`http.ServerResponse`, `http2` compat responses, Express). */
export interface HeaderSetter {
  setHeader(name: string, value: string): unknown;
}

/** Sets the rate limit headers on a Node.js response (before it is sent). */
export function setRateLimitHeaders(response: HeaderSetter, result: RateLimitsResult): void {
  for (const [name, value] of Object.entries(rateLimitHeaders(result))) response.setHeader(name, value);
}
