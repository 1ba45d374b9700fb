/**
 * Logs the client's events through a logger the service already has, e.g. a Powertools `Logger`
 * (typed structurally: Powertools stays optional). Without a logger the client logs nothing.
 * Entries name operations, keys and error kinds/messages (describeError), never secret values.
 */
import { describeError } from "./errors.js";
import type { EventHub } from "./events.js";

/** What the client needs of a logger: Powertools' `Logger`, or `console`, fits. */
export interface CacheLogger {
  debug(message: string, ...extra: Record<string, unknown>[]): void;
  info(message: string, ...extra: Record<string, unknown>[]): void;
  warn(message: string, ...extra: Record<string, unknown>[]): void;
  error(message: string, ...extra: Record<string, unknown>[]): void;
}

/** Subscribes `logger` to the hub's error, breaker, fallback and stale events. */
export function logEvents(events: EventHub, logger: CacheLogger): void {
  events.on("error", (e) =>
    logger.warn("cache store call failed", {
      cache: { operation: e.operation, key: e.key, storage: e.storage, error: describeError(e.error) },
    }),
  );
  events.on("breaker", (e) => {
    const entry = { cache: { breaker: e.state, previous: e.previous, domain: e.domain } };
    if (e.state === "open" || e.state === "isolated") logger.warn("cache circuit breaker opened", entry);
    else logger.info(`cache circuit breaker ${e.state}`, entry);
  });
  events.on("fallback", (e) =>
    logger.debug("cache call answered without the primary store", {
      cache: { operation: e.operation, key: e.key, target: e.target },
    }),
  );
  events.on("stale", (e) =>
    // Within staleWhileRevalidate serving stale is the plan; any other reason is worth a warning.
    logger[e.reason === "revalidate" ? "debug" : "warn"](`cache served a stale value (${e.reason})`, {
      cache: {
        operation: e.operation,
        key: e.key,
        reason: e.reason,
        staleForMs: e.staleForMs,
        ...(e.error === undefined ? {} : { error: describeError(e.error) }),
      },
    }),
  );
}
