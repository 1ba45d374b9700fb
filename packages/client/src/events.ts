/** A tiny typed event hub. Listener errors are swallowed: observability never breaks a cache call. */
import type { BreakerStateName } from "./stats.js";

/**
 * Why getOrSet served a stale value: `revalidate` (within `staleWhileRevalidate`, or while a load
 * of the key runs in the background), `soft-timeout` (the loader took longer than
 * `timeouts.softMs`), `timeout` (longer than `timeouts.hardMs`), `error` (the loader failed),
 * `backoff` (a load of the key failed less than `graceBackoff` ago: the loader was not called).
 */
export type StaleReason = "revalidate" | "soft-timeout" | "timeout" | "error" | "backoff";

export interface CacheEvents {
  hit: { operation: string; key: string; stale?: boolean; reason?: StaleReason };
  /** getOrSet served a stale value instead of a loaded one; `error`: the loader's error, if any. */
  stale: { operation: string; key: string; reason: StaleReason; staleForMs: number; error?: unknown };
  miss: { operation: string; key: string };
  /** A store call failed (the caller got a miss, a fallback or a no-op unless `throwOnError`). */
  error: { operation: string; key: string | undefined; error: unknown; storage: string };
  /** A circuit breaker changed state (`domain`: the cluster node, in cluster mode). */
  breaker: { state: BreakerStateName; previous: BreakerStateName; domain?: string };
  /** A call was answered without the primary store. */
  fallback: { operation: string; key: string | undefined; target: string };
}

export type CacheEventName = keyof CacheEvents;
export type CacheEventListener<E extends CacheEventName> = (event: CacheEvents[E]) => void;

export class EventHub {
  private readonly listeners: { [E in CacheEventName]?: Set<CacheEventListener<E>> } = {};

  on<E extends CacheEventName>(name: E, listener: CacheEventListener<E>): () => void {
    let set = this.listeners[name] as Set<CacheEventListener<E>> | undefined;
    if (!set) {
      set = new Set();
      (this.listeners as Record<string, unknown>)[name] = set;
    }
    set.add(listener);
    return () => {
      set.delete(listener);
    };
  }

  has(name: CacheEventName): boolean {
    return (this.listeners[name]?.size ?? 0) > 0;
  }

  emit<E extends CacheEventName>(name: E, event: CacheEvents[E]): void {
    const set = this.listeners[name] as Set<CacheEventListener<E>> | undefined;
    if (!set) return;
    for (const listener of set) {
      try {
        listener(event);
      } catch {
        // A failing hook must not turn a cache call into an error.
      }
    }
  }

  clear(): void {
    for (const key of Object.keys(this.listeners)) delete (this.listeners as Record<string, unknown>)[key];
  }
}
