/**
 * Goals of the form "must not get worse" compare with an earlier run: `BENCH_REFERENCE` names a
 * results directory (or one suite's JSON file) from before a change, e.g. a copy of bench/results
 * taken on the same machine. Without it those goals are reported as "not measured".
 */
import { existsSync, readFileSync, statSync } from "node:fs";
import { join } from "node:path";
import type { BenchRow } from "../types.js";

export interface Reference {
  /** Where the reference came from, for the goal text. */
  source: string;
  rows: Map<string, BenchRow>;
}

/** The reference rows of `suite`, or undefined when `BENCH_REFERENCE` is not set or has no file for it. */
export function loadReference(suite: string): Reference | undefined {
  const path = process.env.BENCH_REFERENCE;
  if (!path) return undefined;
  const file = existsSync(path) && statSync(path).isDirectory() ? join(path, `${suite}.json`) : path;
  if (!existsSync(file)) {
    console.error(`bench ${suite}: BENCH_REFERENCE has no ${file}; "not worse" goals are not measured`);
    return undefined;
  }
  const parsed = JSON.parse(readFileSync(file, "utf8")) as {
    suite?: string;
    date?: string;
    rows?: BenchRow[];
  };
  if (parsed.suite !== undefined && parsed.suite !== suite) {
    console.error(`bench ${suite}: ${file} holds suite ${parsed.suite}; ignored`);
    return undefined;
  }
  const rows = new Map<string, BenchRow>();
  for (const row of parsed.rows ?? []) if (row.id) rows.set(row.id, row);
  return { source: `${file}${parsed.date ? ` of ${parsed.date}` : ""}`, rows };
}
