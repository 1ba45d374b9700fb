/**
 * The lease of one load in this process: alive while the process runs. It ticks every `ttlMs / 3`;
 * a tick that finds the previous one more than `ttlMs` ago means the process was frozen (a Lambda
 * between invocations) or its event loop blocked for longer than the stampede lock lives, so the
 * lock has expired and another process may have loaded and stored a newer value. The lease then
 * lapses for good: later callers stop waiting for the load, and its value is not stored when it
 * finally arrives (it would land minutes late, over a newer one).
 */
export class LoadLease {
  private aliveAt: number;
  private timer: NodeJS.Timeout | undefined;
  private lapsedForGood = false;
  readonly startedAt: number;

  constructor(
    private readonly now: () => number,
    private readonly ttlMs: number,
    private readonly onLapse?: () => void,
  ) {
    this.startedAt = now();
    this.aliveAt = this.startedAt;
    this.schedule();
  }

  private schedule(): void {
    this.timer = setTimeout(
      () => {
        if (this.lapsed()) return;
        this.aliveAt = this.now();
        this.schedule();
      },
      Math.max(20, Math.floor(this.ttlMs / 3)),
    );
    this.timer.unref?.();
  }

  /** True once the process missed its renewal window (see the module comment). */
  lapsed(): boolean {
    if (this.lapsedForGood) return true;
    if (this.now() - this.aliveAt <= this.ttlMs) return false;
    this.lapsedForGood = true;
    this.stop();
    this.onLapse?.();
    return true;
  }

  stop(): void {
    clearTimeout(this.timer);
    this.timer = undefined;
  }
}
