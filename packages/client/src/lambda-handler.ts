/**
 * `wrapHandler()`: a Lambda handler that finishes the cache's background work (refreshes, loads
 * past a soft timeout, reconciliation, metric publishing) before it returns, whether it returned
 * or threw, bounded so the flush never eats the function's timeout.
 */
import type { FlushOptions } from "./cache-service.js";
import { CacheConfigError } from "./errors.js";
import type { FlushResult } from "./pending-work.js";

/** What `wrapHandler` flushes: a CacheService (or anything with the same `flush`). */
export interface Flushable {
  flush(options?: FlushOptions): Promise<FlushResult>;
}

export interface WrapHandlerOptions {
  /** The longest the flush after each invocation takes, in ms. Default 1000. */
  timeoutMs?: number;
  /**
   * Milliseconds kept free before the invocation's deadline (`context.getRemainingTimeInMillis()`):
   * the flush is cut shorter when needed. Default 100.
   */
  reserveMs?: number;
  /** Called with each flush's result (e.g. to log what was left). */
  onFlush?: (result: FlushResult[]) => void;
}

/** The one thing read from the Lambda context: when the invocation times out. */
interface DeadlineContext {
  getRemainingTimeInMillis?: () => number;
}

/**
 * Wraps a Lambda handler so that `cache.flush()` (of every cache given) runs after it, before the
 * result (or the error) goes back to the runtime.
 *
 * ```ts
 * export const handler = wrapHandler(async (event) => ({ statusCode: 200 }), cache);
 * ```
 */
export function wrapHandler<E, C, R>(
  handler: (event: E, context: C) => Promise<R> | R,
  caches: Flushable | readonly Flushable[],
  options: WrapHandlerOptions = {},
): (event: E, context?: C) => Promise<R> {
  const list: readonly Flushable[] = Array.isArray(caches) ? caches : [caches as Flushable];
  if (list.length === 0 || list.some((c) => typeof c?.flush !== "function")) {
    throw new CacheConfigError("wrapHandler needs a cache (or an array of caches) with flush()", ["caches"]);
  }
  const timeoutMs = options.timeoutMs ?? 1000;
  const reserveMs = options.reserveMs ?? 100;
  const flushAll = async (context: C | undefined) => {
    const remaining = (context as DeadlineContext | undefined)?.getRemainingTimeInMillis?.();
    const bound =
      typeof remaining === "number" ? Math.max(0, Math.min(timeoutMs, remaining - reserveMs)) : timeoutMs;
    const results = await Promise.all(list.map((cache) => cache.flush({ timeoutMs: bound })));
    options.onFlush?.(results);
  };
  return async (event: E, context?: C): Promise<R> => {
    let result: R;
    try {
      result = await handler(event, context as C);
    } catch (err) {
      await flushAll(context).catch(() => undefined);
      throw err;
    }
    await flushAll(context);
    return result;
  };
}
