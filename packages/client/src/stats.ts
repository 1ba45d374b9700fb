/** Counters and a bounded latency window for {@link CacheService.getStats}. */
import type { LocalTierStats } from "./local-tier/contract.js";

/** Keeps the last `capacity` samples in a fixed ring: memory does not grow with traffic. */
export class LatencyWindow {
  private readonly samples: Float64Array;
  private next = 0;
  private filled = 0;
  /** Samples ever recorded. */
  count = 0;

  constructor(readonly capacity = 1024) {
    this.samples = new Float64Array(capacity);
  }

  record(ms: number): void {
    this.samples[this.next] = ms;
    this.next = (this.next + 1) % this.capacity;
    if (this.filled < this.capacity) this.filled++;
    this.count++;
  }

  /** Nearest-rank percentile over the window, `0` when empty. */
  percentile(p: number): number {
    if (this.filled === 0) return 0;
    const sorted = Array.from(this.samples.subarray(0, this.filled)).sort((a, b) => a - b);
    const rank = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
    return sorted[rank] ?? 0;
  }

  summary(): LatencySummary {
    if (this.filled === 0) return { count: this.count, p50: 0, p99: 0, max: 0 };
    const sorted = Array.from(this.samples.subarray(0, this.filled)).sort((a, b) => a - b);
    const at = (p: number) =>
      sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(p * sorted.length) - 1))] ?? 0;
    return {
      count: this.count,
      p50: round(at(0.5)),
      p99: round(at(0.99)),
      max: round(sorted[sorted.length - 1] ?? 0),
    };
  }

  reset(): void {
    this.next = 0;
    this.filled = 0;
    this.count = 0;
  }
}

function round(ms: number): number {
  return Math.round(ms * 1000) / 1000;
}

export interface LatencySummary {
  /** Calls measured since creation. */
  count: number;
  /** Milliseconds, over the most recent calls. */
  p50: number;
  p99: number;
  max: number;
}

export type BreakerStateName = "closed" | "open" | "half-open" | "isolated" | "disabled";

export interface CacheStats {
  /** Reads answered from the cache (including stale values served by stale-while-revalidate). */
  hits: number;
  misses: number;
  /** Of `hits`, stale values served by getOrSet (any reason, see the `staleOn*` counts). */
  staleHits: number;
  /** Of `staleHits`: served because the loader failed (grace, stale-if-error). */
  staleOnError: number;
  /** Of `staleHits`: served because the loader passed `timeouts.hardMs`. */
  staleOnTimeout: number;
  /** Of `staleHits`: served because the loader passed `timeouts.softMs` (it went on in the background). */
  staleOnSoftTimeout: number;
  /** Of `staleHits`: served without calling the loader, in the `graceBackoff` after a failed load. */
  staleOnBackoff: number;
  /** getOrSet loads that failed (loader errors, also of background refreshes). */
  loadErrors: number;
  /** getOrSet loads that passed their hard timeout. */
  loadTimeouts: number;
  sets: number;
  deletes: number;
  /** getOrSet loader calls. */
  loads: number;
  /** Store failures (timeouts, connection errors); calls refused by an open breaker are not counted. */
  errors: number;
  /** Calls answered without the primary store: by the fallback store or as a miss/no-op. */
  fallbacks: number;
  /** Hits / (hits + misses), 0 when no reads. */
  hitRate: number;
  breaker: BreakerStateName;
  /** Cluster nodes (`host:port`) whose breaker is not closed: only their keys fall back. */
  openNodes: { domain: string; state: BreakerStateName }[];
  /** Keys (and version bumps) the primary missed during an outage, to reconcile when it is back. */
  pendingInvalidations: number;
  storage: string;
  fallbackStorage: string | undefined;
  /** Latency of primary store calls. */
  latency: LatencySummary;
  /** The local tier's figures, when it is on (its hits also count in `hits`). */
  local?: LocalTierStats;
}

export class Counters {
  hits = 0;
  misses = 0;
  staleHits = 0;
  staleOnError = 0;
  staleOnTimeout = 0;
  staleOnSoftTimeout = 0;
  staleOnBackoff = 0;
  loadErrors = 0;
  loadTimeouts = 0;
  sets = 0;
  deletes = 0;
  loads = 0;
  errors = 0;
  fallbacks = 0;
}
