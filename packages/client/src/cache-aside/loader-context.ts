/**
 * What a getOrSet loader receives: the key, the value the call did not serve (stale, or cached
 * when `forceFresh`), an abort signal for the hard timeout, and two decisions about the loaded
 * value: its ttl (adaptive caching) and whether to cache it at all.
 */
import { CacheConfigError } from "../errors.js";

export interface LoaderContext<T = unknown> {
  /** The cache key being loaded. */
  readonly key: string;
  /**
   * The cached value this call did not serve: a stale value (past its ttl, within
   * `staleWhileRevalidate` or `grace`), or the cached value a `forceFresh` call skipped.
   * `undefined` when there is none (see {@link hasStale}).
   */
  readonly stale: T | undefined;
  /** Whether {@link stale} holds a cached value (it may itself be `undefined`). */
  readonly hasStale: boolean;
  /** Aborted when the call's hard timeout (`timeouts.hardMs`) fires: nobody waits for the value any more. */
  readonly signal: AbortSignal;
  /** Caches the loaded value for this many seconds instead of the call's `ttl` (lowered to `maxTtl`). */
  setTtl(seconds: number): void;
  /** Returns the loaded value to the caller without caching it (e.g. an error page, an empty result). */
  skip(): void;
}

export class LoadContext<T> implements LoaderContext<T> {
  readonly signal: AbortSignal;
  /** Seconds set by {@link setTtl}; `undefined`: the call's ttl. */
  ttl: number | undefined;
  skipped = false;
  private readonly controller = new AbortController();

  constructor(
    readonly key: string,
    readonly hasStale: boolean,
    readonly stale: T | undefined,
  ) {
    this.signal = this.controller.signal;
  }

  setTtl(seconds: number): void {
    if (
      seconds !== Number.POSITIVE_INFINITY &&
      (typeof seconds !== "number" || !Number.isFinite(seconds) || seconds <= 0)
    ) {
      throw new CacheConfigError("ctx.setTtl() needs a positive number of seconds (or Infinity)", ["ttl"], {
        operation: "getOrSet",
        key: this.key,
      });
    }
    this.ttl = seconds;
  }

  skip(): void {
    this.skipped = true;
  }

  abort(reason: unknown): void {
    if (!this.controller.signal.aborted) this.controller.abort(reason);
  }
}
