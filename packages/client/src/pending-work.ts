/**
 * Background work the client started (stale-while-revalidate refreshes, loads that outlived a
 * soft or hard timeout, outage reconciliation, metric publishing). `settle()` waits for it,
 * bounded, so a Lambda handler can finish it before it returns and the environment is frozen.
 * Work whose lease lapsed (see cache-aside/lease.ts: it was frozen past its lock's ttl) is never
 * waited for: its result would be discarded anyway.
 */
export type PendingKind = "refresh" | "load" | "reconcile" | "metrics" | (string & {});

export interface PendingTask {
  kind: PendingKind;
  /** The cache key, for loads and refreshes. */
  key?: string;
  /** Milliseconds since the work started. */
  ageMs: number;
}

export interface FlushResult {
  /** `true` when nothing that could still matter is left running. */
  complete: boolean;
  /** Work still running when `timeoutMs` passed. */
  pending: PendingTask[];
  /** Work abandoned because its lease lapsed (frozen past its lock's ttl): not waited for. */
  abandoned: PendingTask[];
}

interface Entry {
  promise: Promise<unknown>;
  kind: PendingKind;
  key: string | undefined;
  startedAt: number;
  lapsed: (() => boolean) | undefined;
}

export class PendingWork {
  private readonly entries = new Set<Entry>();

  constructor(private readonly now: () => number) {}

  get size(): number {
    return this.entries.size;
  }

  /** Registers `promise` until it settles (its rejection is handled here: nothing goes unhandled). */
  track(promise: Promise<unknown>, kind: PendingKind, key?: string, lapsed?: () => boolean): void {
    const entry: Entry = { promise, kind, key, startedAt: this.now(), lapsed };
    this.entries.add(entry);
    const remove = () => {
      this.entries.delete(entry);
    };
    promise.then(remove, remove);
  }

  private split(): { active: Entry[]; abandoned: Entry[] } {
    const active: Entry[] = [];
    const abandoned: Entry[] = [];
    for (const entry of this.entries) (entry.lapsed?.() ? abandoned : active).push(entry);
    return { active, abandoned };
  }

  private describe(entries: Entry[]): PendingTask[] {
    const now = this.now();
    return entries.map((e) =>
      e.key === undefined
        ? { kind: e.kind, ageMs: now - e.startedAt }
        : { kind: e.kind, key: e.key, ageMs: now - e.startedAt },
    );
  }

  /**
   * Waits until no live work is left (work started meanwhile included), for at most `timeoutMs`
   * (`Infinity`: no bound).
   */
  async settle(timeoutMs: number): Promise<FlushResult> {
    let timer: NodeJS.Timeout | undefined;
    let timedOut = false;
    const deadline =
      timeoutMs === Number.POSITIVE_INFINITY
        ? undefined
        : new Promise<void>((resolve) => {
            timer = setTimeout(() => {
              timedOut = true;
              resolve();
            }, timeoutMs);
          });
    try {
      for (;;) {
        const { active, abandoned } = this.split();
        if (active.length === 0 || timedOut) {
          return {
            complete: active.length === 0,
            pending: this.describe(active),
            abandoned: this.describe(abandoned),
          };
        }
        const all = Promise.allSettled(active.map((e) => e.promise));
        await (deadline === undefined ? all : Promise.race([all, deadline]));
      }
    } finally {
      clearTimeout(timer);
    }
  }
}
