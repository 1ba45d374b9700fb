/** One measured figure. Ratios are always against a baseline measured in the same run. */
export interface BenchRow {
  /** What was measured, e.g. "CacheService.get vs raw ioredis get". */
  name: string;
  value: number;
  unit: string;
  /** The baseline measured in the same run, when the row is a comparison. */
  baseline?: { name: string; value: number };
  /** value / baseline.value (or the inverse where lower is better: say so in `direction`). */
  ratio?: number;
  /** "higher" when a bigger value is better (throughput), "lower" for latency and size. */
  direction?: "higher" | "lower";
  /** The goal from the issue, e.g. ">= 0.90". */
  goal?: string;
  met?: boolean;
}

export interface BenchSuite {
  suite: string;
  run(): Promise<BenchRow[]>;
}
