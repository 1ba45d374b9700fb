/**
 * Per-key backoff after a failed load (loader error or hard timeout): until it ends, getOrSet
 * serves the stale value of the key without calling its loader again. Bounded: beyond `maxKeys`
 * the oldest entries are dropped (a dropped key simply calls its loader again).
 */
export class KeyBackoff {
  /** Key → epoch ms the backoff ends. Insertion order = age (a renewed key moves to the end). */
  private readonly until = new Map<string, number>();

  constructor(
    private readonly now: () => number,
    private readonly maxKeys = 10_000,
  ) {}

  get size(): number {
    return this.until.size;
  }

  /** Starts (or renews) the backoff of `key` for `ms`. */
  failed(key: string, ms: number): void {
    if (!(ms > 0)) return;
    this.until.delete(key);
    this.until.set(key, this.now() + ms);
    if (this.until.size > this.maxKeys) {
      const oldest = this.until.keys().next().value;
      if (oldest !== undefined) this.until.delete(oldest);
    }
  }

  /** Whether `key` is backing off now (an ended backoff is forgotten). */
  active(key: string): boolean {
    if (this.until.size === 0) return false;
    const end = this.until.get(key);
    if (end === undefined) return false;
    if (end > this.now()) return true;
    this.until.delete(key);
    return false;
  }

  succeeded(key: string): void {
    if (this.until.size > 0) this.until.delete(key);
  }
}
