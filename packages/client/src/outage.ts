/**
 * What the primary store missed while it failed, so that no old value comes back after recovery.
 *
 * A write or delete that did not reach the primary (it failed, timed out with an unknown outcome, or
 * was refused by an open breaker and went to the fallback) leaves the primary with an older value
 * than the one the caller saw. The key is recorded here; while it is recorded, reads of it do not
 * trust the primary (they go to the fallback, or miss); a later successful write of the key to the
 * primary supersedes it. When the key's failure domain is healthy again, the key is deleted on the
 * primary (its breaker stays half-open until that succeeded), and only then read from there again.
 * A `clear()` or `invalidateTags()` that failed is recorded as a version key to bump on recovery.
 *
 * Memory is bounded: beyond `maxKeys` recorded keys, the keys are dropped and the whole keyspace's
 * generation is bumped on recovery instead (everything is invalidated, still O(1)).
 */
import { GENERATION_KEY } from "./internal-keys.js";

export class PendingInvalidations {
  /** Store keys to delete on the primary. */
  readonly deletes = new Set<string>();
  /** Version keys (generation, tags) to bump on the primary. */
  readonly bumps = new Set<string>();
  /** Deletes dropped because of the bound (the generation bump covers them). */
  overflowed = 0;

  constructor(readonly maxKeys = 10_000) {}

  get size(): number {
    return this.deletes.size + this.bumps.size;
  }

  /** True while every entry of the primary is suspect (a clear() is pending). */
  get everything(): boolean {
    return this.bumps.has(GENERATION_KEY);
  }

  /** A write/delete of `key` did not reach the primary. */
  addDelete(key: string): void {
    if (this.bumps.has(GENERATION_KEY)) return;
    this.deletes.add(key);
    if (this.deletes.size > this.maxKeys) {
      this.overflowed += this.deletes.size;
      this.deletes.clear();
      this.bumps.add(GENERATION_KEY);
    }
  }

  /** A clear()/invalidateTags() did not reach the primary. */
  addBump(versionKey: string): void {
    this.bumps.add(versionKey);
    if (versionKey === GENERATION_KEY) {
      // Bumping the generation invalidates every entry: the recorded keys need no delete.
      this.deletes.clear();
    }
  }

  /** Whether a read of `key` may trust the primary. */
  trusts(key: string): boolean {
    return !this.bumps.has(GENERATION_KEY) && !this.deletes.has(key);
  }

  /** A later write of `key` reached the primary: nothing to reconcile for it any more. */
  superseded(key: string): void {
    this.deletes.delete(key);
  }
}
