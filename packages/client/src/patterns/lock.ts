/**
 * Distributed lock over any store: SET NX PX to acquire, compare-and-delete (Lua on Redis,
 * conditional delete on DynamoDB) to release, compare-and-expire to extend. Only the holder of the
 * random token can release or extend.
 */
import { randomBytes } from "node:crypto";
import { setTimeout as sleep } from "node:timers/promises";
import type { CacheService } from "../cache-service.js";
import { CacheConfigError } from "../errors.js";

export interface LockOptions {
  /** Seconds to keep retrying while the lock is held elsewhere. Default 0 (one attempt). */
  wait?: number;
  /** Milliseconds between attempts while waiting. Default 50 (with jitter). */
  retryDelayMs?: number;
}

export interface Lock {
  readonly key: string;
  /** Random token that identifies this holder. */
  readonly token: string;
  /** Releases the lock if this holder still owns it; `false` if it expired or was taken over. */
  release(): Promise<boolean>;
  /** Sets a new ttl (seconds) if this holder still owns the lock. */
  extend(ttl: number): Promise<boolean>;
}

export const LOCK_KEY_PREFIX = "lock:";

function toMs(ttl: number, field: string): number {
  if (typeof ttl !== "number" || !Number.isFinite(ttl) || ttl <= 0) {
    throw new CacheConfigError(`${field} must be a positive number of seconds`, [field]);
  }
  return Math.max(1, Math.round(ttl * 1000));
}

/**
 * Tries to take the lock; `undefined` when it is held elsewhere after `wait` seconds, or when the
 * store is unavailable (a lock is never granted without the store's agreement; the fallback store
 * is not used for locks).
 */
export async function acquireLock(
  service: CacheService,
  key: string,
  ttl: number,
  options: LockOptions = {},
): Promise<Lock | undefined> {
  const ttlMs = toMs(ttl, "ttl");
  const storeKey = LOCK_KEY_PREFIX + key;
  const tokenText = randomBytes(16).toString("base64url");
  const token = Buffer.from(tokenText);
  const deadline = Date.now() + (options.wait ?? 0) * 1000;
  const retryDelay = options.retryDelayMs ?? 50;
  for (;;) {
    const r = await service._run("lock", storeKey, (s) => s.setIfAbsent(storeKey, token, ttlMs), {
      fallback: false,
    });
    if (!r.ok) return undefined;
    if (r.value) break;
    if (Date.now() >= deadline) return undefined;
    await sleep(retryDelay / 2 + Math.random() * retryDelay);
  }
  return {
    key,
    token: tokenText,
    async release() {
      const r = await service._run("unlock", storeKey, (s) => s.compareAndDelete(storeKey, token), {
        fallback: false,
      });
      return r.ok ? r.value : false;
    },
    async extend(newTtl: number) {
      const ms = toMs(newTtl, "ttl");
      const r = await service._run("extendLock", storeKey, (s) => s.compareAndExpire(storeKey, token, ms), {
        fallback: false,
      });
      return r.ok ? r.value : false;
    },
  };
}
