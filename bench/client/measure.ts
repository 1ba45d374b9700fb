/**
 * How the client suite measures: throughput with N callers in flight (each caller awaits its call,
 * then takes the next index), interleaved rounds with a rotating order, and latency at one caller
 * sampled in alternating chunks.
 */
import { median, quantile, rotation, spread } from "../lib/stats.js";

export type Op = (i: number) => Promise<unknown>;

/** Ops per second of `op` with `callers` calls in flight, `ops` calls in all. */
export async function throughput(op: Op, ops: number, callers: number): Promise<number> {
  let next = 0;
  const started = performance.now();
  await Promise.all(
    Array.from({ length: callers }, async () => {
      while (next < ops) await op(next++);
    }),
  );
  return (ops / (performance.now() - started)) * 1000;
}

export interface Contender {
  name: string;
  op: Op;
}

/** Median ops/s of every contender and every round's figures. */
export interface Interleaved {
  medians: Record<string, number>;
  rounds: Record<string, number[]>;
}

/**
 * One unrecorded warm-up of every contender, then `rounds` rounds in which every contender runs
 * once, the order rotating each round (no contender always runs first or after another's garbage).
 */
export async function interleaved(
  contenders: Contender[],
  options: { rounds: number; ops: number; callers: number; label: string },
): Promise<Interleaved> {
  const rounds: Record<string, number[]> = Object.fromEntries(contenders.map((c) => [c.name, []]));
  for (const c of contenders) await throughput(c.op, Math.min(options.ops, 20_000), options.callers);
  for (let round = 0; round < options.rounds; round++) {
    for (const c of rotation(contenders, round)) {
      rounds[c.name]!.push(await throughput(c.op, options.ops, options.callers));
    }
  }
  const medians = Object.fromEntries(contenders.map((c) => [c.name, median(rounds[c.name]!)]));
  console.error(
    `bench client: ${options.label}: ${contenders
      .map((c) => `${c.name} ${Math.round(medians[c.name]!)} ops/s (${spread(rounds[c.name]!, 0)})`)
      .join(", ")}`,
  );
  return { medians, rounds };
}

/** Per-round ratios subject / baseline (same round). */
export function roundRatios(result: Interleaved, subject: string, baseline: string): number[] {
  const a = result.rounds[subject] ?? [];
  const b = result.rounds[baseline] ?? [];
  return a.map((v, i) => v / (b[i] ?? Number.NaN));
}

export interface Latency {
  p50: number;
  p99: number;
  samples: number;
}

/**
 * Latency (ms) of each contender at one caller: `samples` sequential calls each, taken in chunks
 * of `chunk` calls that alternate between the contenders, so slow drifts of the machine hit all.
 */
export async function latencyAtOneCaller(
  contenders: Contender[],
  samples = 5000,
  chunk = 250,
): Promise<Record<string, Latency>> {
  const times: Record<string, Float64Array> = Object.fromEntries(
    contenders.map((c) => [c.name, new Float64Array(samples)]),
  );
  for (const c of contenders) for (let i = 0; i < 200; i++) await c.op(i);
  for (let start = 0, round = 0; start < samples; start += chunk, round++) {
    for (const c of rotation(contenders, round)) {
      const out = times[c.name]!;
      for (let i = start; i < Math.min(samples, start + chunk); i++) {
        const t = performance.now();
        await c.op(i);
        out[i] = performance.now() - t;
      }
    }
  }
  return Object.fromEntries(
    contenders.map((c) => [
      c.name,
      { p50: quantile(times[c.name]!, 0.5), p99: quantile(times[c.name]!, 0.99), samples },
    ]),
  );
}
