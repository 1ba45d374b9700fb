/** Small statistics helpers shared by the suites. */

/** The median (the upper middle value for an even count); NaN for no values. */
export function median(values: readonly number[]): number {
  if (values.length === 0) return Number.NaN;
  const sorted = Float64Array.from(values).sort();
  return sorted[Math.floor(sorted.length / 2)] ?? Number.NaN;
}

/**
 * The nearest-rank quantile `q` (0..1) of `values`: the smallest value with at least q of the
 * values at or below it. NaN for no values.
 */
export function quantile(values: readonly number[] | Float64Array, q: number): number {
  if (values.length === 0) return Number.NaN;
  const sorted = Float64Array.from(values).sort();
  const rank = Math.min(sorted.length, Math.max(1, Math.ceil(q * sorted.length)));
  return sorted[rank - 1] ?? Number.NaN;
}

/** "min..max" of the values, formatted. */
export function spread(values: readonly number[], digits = 2): string {
  if (values.length === 0) return "n/a";
  return `${fmt(Math.min(...values), digits)}..${fmt(Math.max(...values), digits)}`;
}

/** A figure for people: no decimals above 100, else `digits` decimals. */
export function fmt(n: number, digits = 2): string {
  if (!Number.isFinite(n)) return String(n);
  if (Math.abs(n) >= 100) return n.toFixed(0);
  return n.toFixed(digits);
}

/**
 * The order in which `items` run in round `round`: rotated by one per round, so over the rounds
 * every item runs first, in the middle and last (none always runs after another's garbage).
 */
export function rotation<T>(items: readonly T[], round: number): T[] {
  const shift = items.length === 0 ? 0 : round % items.length;
  return [...items.slice(shift), ...items.slice(0, shift)];
}
