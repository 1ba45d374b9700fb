/** One measured figure. Ratios are always against a baseline measured in the same run. */
export interface BenchRow {
  /** Stable identifier (e.g. "gateway.get.vs-webdis"), for comparing runs (`BENCH_REFERENCE`). */
  id?: string;
  /** What was measured, e.g. "CacheService.get, 50 callers, 1,000 keys". */
  name: string;
  /** The measured figure; NaN when the row was skipped (see `skipped`). */
  value: number;
  unit: string;
  /** The baseline measured in the same run, when the row is a comparison. */
  baseline?: { name: string; value: number };
  /** Always value / baseline.value (the goal says which way is better: ">= 1.00" or "<= 1.10"). */
  ratio?: number;
  /** "higher" when a bigger value is better (throughput), "lower" for latency, CPU and size. */
  direction?: "higher" | "lower";
  /** The goal, e.g. ">= 1.00 (issue 10, item 2)". */
  goal?: string;
  /** Whether the goal is met; undefined when the row has no goal or could not be measured. */
  met?: boolean;
  /** Why the row has no figure (a baseline that could not be installed or started). */
  skipped?: string;
  /** Figures that belong next to this one (CPU per request, latency percentiles, spread). */
  notes?: string;
  /** Raw figures for the JSON file (every round, every process), never shown in the table. */
  details?: Record<string, unknown>;
}

/** What a suite returns: its rows and facts about how they were measured (layout, versions). */
export interface SuiteResult {
  rows: BenchRow[];
  /** Written into the JSON and the Markdown header, e.g. `{ layout: "wrk on CPU 0; ..." }`. */
  meta?: Record<string, string>;
}

export interface BenchSuite {
  run(): Promise<BenchRow[] | SuiteResult>;
}
