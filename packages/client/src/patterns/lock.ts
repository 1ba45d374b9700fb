/**
 * Distributed lock over any store, in the reserved part of the keyspace (`__cp:lock:{<key>}`), so no
 * cache key can delete or block it. Acquiring is atomic and returns a fencing token: a number
 * greater than the token of every earlier holder of the same lock (Redis: the platform's
 * `lockAcquire` function on the lock and its fence counter, one slot; DynamoDB: one conditional
 * update; memory: in process). Pass it to the systems you write to under the lock, and have them
 * refuse a token lower than the highest they have seen: a holder that paused past its ttl (GC,
 * frozen Lambda) is then fenced off. Only the holder of the random token can release or extend.
 */
import type { CacheService } from "../cache-service.js";
import { CacheConfigError } from "../errors.js";
import { lockKey } from "../internal-keys.js";
import { builtin, sleep } from "../node-builtins.js";

const crypto = () => builtin<typeof import("node:crypto")>("node:crypto");

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
  /**
   * Fencing token: greater than that of every earlier acquisition of this lock (it starts from the
   * clock in ms and counts up, so it keeps increasing across idle periods and store restarts).
   */
  readonly fence: number;
  /** Releases the lock if this holder still owns it; `false` if it expired or was taken over. */
  release(): Promise<boolean>;
  /** Sets a new ttl (seconds) if this holder still owns the lock. */
  extend(ttl: number): Promise<boolean>;
}

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
  const name = lockKey(key);
  const tokenText = crypto().randomBytes(16).toString("base64url");
  const token = Buffer.from(tokenText);
  const deadline = Date.now() + (options.wait ?? 0) * 1000;
  const retryDelay = options.retryDelayMs ?? 50;
  let fence: number;
  for (;;) {
    const r = await service._run("lock", name, (s) => s.acquireLock(name, token, ttlMs), { fallback: false });
    if (!r.ok) return undefined;
    if (r.value !== undefined) {
      fence = r.value;
      break;
    }
    if (Date.now() >= deadline) return undefined;
    await sleep(retryDelay / 2 + Math.random() * retryDelay);
  }
  return {
    key,
    token: tokenText,
    fence,
    async release() {
      const r = await service._run("unlock", name, (s) => s.releaseLock(name, token), { fallback: false });
      return r.ok ? r.value : false;
    },
    async extend(newTtl: number) {
      const ms = toMs(newTtl, "ttl");
      const r = await service._run("extendLock", name, (s) => s.renewLock(name, token, ms), {
        fallback: false,
      });
      return r.ok ? r.value : false;
    },
  };
}
