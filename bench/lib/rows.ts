/** Building table rows: comparisons against a same-run baseline, ratio goals, skipped rows. */
import type { BenchRow } from "../types.js";

/** A ratio goal: `min` for throughput (value / baseline >= min), `max` for times (<= max). */
export interface RatioGoal {
  min?: number;
  max?: number;
  /** Where the goal comes from, e.g. "issue 10, item 2". */
  source: string;
}

export interface ComparisonInput {
  id: string;
  name: string;
  unit: string;
  value: number;
  baseline: { name: string; value: number };
  direction: "higher" | "lower";
  goal?: RatioGoal;
  notes?: string;
  details?: Record<string, unknown>;
}

/** The goal as the table shows it, e.g. ">= 1.00 (issue 10, item 2)". */
export function goalText(goal: RatioGoal): string {
  const parts: string[] = [];
  if (goal.min !== undefined) parts.push(`>= ${goal.min.toFixed(2)}`);
  if (goal.max !== undefined) parts.push(`<= ${goal.max.toFixed(2)}`);
  return `ratio ${parts.join(" and ")} (${goal.source})`;
}

/** Whether `ratio` meets `goal`; a ratio that is not a finite number never does. */
export function meetsGoal(ratio: number, goal: RatioGoal): boolean {
  if (!Number.isFinite(ratio)) return false;
  if (goal.min !== undefined && !(ratio >= goal.min)) return false;
  if (goal.max !== undefined && !(ratio <= goal.max)) return false;
  return true;
}

/** A row comparing `value` with a baseline measured in the same run; ratio = value / baseline. */
export function comparison(input: ComparisonInput): BenchRow {
  const ratio = input.value / input.baseline.value;
  const row: BenchRow = {
    id: input.id,
    name: input.name,
    value: input.value,
    unit: input.unit,
    baseline: input.baseline,
    ratio,
    direction: input.direction,
  };
  if (input.goal) {
    row.goal = goalText(input.goal);
    row.met = meetsGoal(ratio, input.goal);
  }
  if (input.notes) row.notes = input.notes;
  if (input.details) row.details = input.details;
  return row;
}

/**
 * A row that could not be measured (e.g. Webdis not installable). Its goal, if any, is shown with
 * `met` left undefined: the table says "not measured", never "yes".
 */
export function skipped(input: {
  id: string;
  name: string;
  unit: string;
  baselineName?: string;
  reason: string;
  goal?: RatioGoal;
}): BenchRow {
  return {
    id: input.id,
    name: input.name,
    value: Number.NaN,
    unit: input.unit,
    ...(input.baselineName ? { baseline: { name: input.baselineName, value: Number.NaN } } : {}),
    ...(input.goal ? { goal: goalText(input.goal) } : {}),
    skipped: input.reason,
  };
}
