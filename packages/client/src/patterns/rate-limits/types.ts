/** Options and results of multi-limit checks (`createRateLimits`). */

/** One limit: at most `limit` units per fixed window of `window` seconds, per identifier of `by`. */
export interface LimitSpec {
  /** Names the limit in results, headers (`"perSec";q=10;w=1`) and keys: letters, digits, `.`, `_`, `-`. */
  name: string;
  /** Units per window, or a function of the identifier (per-key dynamic limits), asked per check. */
  limit: number | ((identifier: string) => number);
  /** Window in seconds (fractions allowed; headers round up to whole seconds). */
  window: number;
  /**
   * Which identifier the limit counts (e.g. `"user"`, `"ip"`): `limit({ user, ip })` passes one per
   * dimension. Default `"id"`, so limits without `by` take a plain string.
   */
  by?: string;
}

export interface RateLimitsOptions {
  /** The limits checked together (1 to 16). */
  limits: readonly LimitSpec[];
  /** Distinguishes limiters in one keyspace. Default `default`. */
  name?: string;
  /**
   * When the store cannot be asked: `true` (default) admits the request, `false` rejects it. Either
   * way the result says `degraded: true`.
   */
  failOpen?: boolean;
  /** Clock (epoch ms) for the memory store and the results' `resetAt`. Default `Date.now`. */
  now?: () => number;
}

export interface RateLimitsCallOptions {
  /** Units this request counts. Default 1. */
  cost?: number;
  /** Per-call limits by limit name, overriding `limit` for this check. */
  limits?: Readonly<Record<string, number>>;
}

/** One limit in a result. */
export interface LimitState {
  name: string;
  by: string;
  identifier: string;
  /** The limit applied in this check. */
  limit: number;
  /** Window in seconds. */
  window: number;
  /** Units counted in the current window (including this request when it was allowed). */
  count: number;
  /** `limit - count`, at least 0. */
  remaining: number;
  /** Epoch ms when the current window ends. */
  resetAt: number;
  /** Whole seconds until the window ends (rounded up): the `t` of the `RateLimit` header. */
  resetIn: number;
  /** Whether this limit alone would have admitted the request. */
  admits: boolean;
}

export interface RateLimitsResult {
  /** Every limit admitted the request: it was counted in all of them. Otherwise in none. */
  allowed: boolean;
  /** Seconds until a rejected request may be retried (the longest wait of the rejecting limits); 0 when allowed. */
  retryAfter: number;
  /** Every limit, in the order they were configured. */
  limits: LimitState[];
  /** Rejected: the rejecting limit with the longest wait. Allowed: the limit with the least remaining. */
  limiting: LimitState;
  /** Part or all of the answer comes from `failOpen` because the store could not be asked. */
  degraded: boolean;
}

/** Identifiers by dimension (`{ user: "42", ip: "198.51.100.7" }`), or one string for limits without `by`. */
export type Identifiers = string | Readonly<Record<string, string>>;

export interface RateLimits {
  readonly name: string;
  readonly limits: readonly Readonly<LimitSpec>[];
  /** Checks every limit; counts the request in all of them only when all admit it. */
  limit(identifiers: Identifiers, options?: RateLimitsCallOptions): Promise<RateLimitsResult>;
  /**
   * Gives `points` (default 1) back to every limit of the identifiers' current windows, never below
   * zero. Resolves to the remaining units per limit name, or `undefined` when the store could not be
   * asked.
   */
  refund(identifiers: Identifiers, points?: number): Promise<Record<string, number> | undefined>;
  /** Forgets the counters of the identifiers. */
  reset(identifiers: Identifiers): Promise<void>;
}
