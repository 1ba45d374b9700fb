/**
 * The multi-limit check in process, for the memory store (and a memory fallback): the same fixed
 * windows and the same answers as `multiLimitScript` (and its refunds, a negative cost), atomic because it
 * runs synchronously. At most 10,000 counters per store are kept (the oldest are dropped first).
 */
import type { MemoryStore } from "../../stores/memory-store.js";

interface Counter {
  count: number;
  /** Epoch ms when the window ends. */
  endsAt: number;
}

const MAX_COUNTERS = 10_000;
const stores = new WeakMap<MemoryStore, Map<string, Counter>>();

function countersOf(store: MemoryStore): Map<string, Counter> {
  let counters = stores.get(store);
  if (counters === undefined) {
    counters = new Map();
    stores.set(store, counters);
  }
  return counters;
}

function live(counters: Map<string, Counter>, key: string, now: number): Counter | undefined {
  const counter = counters.get(key);
  if (counter === undefined) return undefined;
  if (counter.endsAt <= now) {
    counters.delete(key);
    return undefined;
  }
  return counter;
}

/** `[allowed, count1, ttl1, ...]` exactly as `multiLimitScript` answers. */
export function memoryMultiLimit(
  store: MemoryStore,
  keys: readonly string[],
  limits: readonly number[],
  windowsMs: readonly number[],
  cost: number,
  now: number,
): number[] {
  const counters = countersOf(store);
  const out = [1];
  let denied = false;
  keys.forEach((key, i) => {
    // A counter at zero (refunded) starts a new window, as INCRBY reaching `cost` does in the script.
    const found = live(counters, key, now);
    const counter = found !== undefined && found.count > 0 ? found : undefined;
    const count = (counter?.count ?? 0) + cost;
    const ttl = counter === undefined ? (windowsMs[i] as number) : counter.endsAt - now;
    if (count > (limits[i] as number)) denied = true;
    out.push(count, ttl);
  });
  if (denied) {
    out[0] = 0;
    keys.forEach((key, i) => {
      const count = (out[1 + 2 * i] as number) - cost;
      out[1 + 2 * i] = count;
      if (count === 0) counters.delete(key);
    });
    return out;
  }
  keys.forEach((key, i) => {
    const counter = counters.get(key);
    const count = out[1 + 2 * i] as number;
    if (counter !== undefined && counter.endsAt > now && counter.count > 0) counter.count = count;
    else {
      counters.delete(key);
      counters.set(key, { count, endsAt: now + (windowsMs[i] as number) });
    }
  });
  while (counters.size > MAX_COUNTERS) {
    const oldest = counters.keys().next();
    if (oldest.done) break;
    counters.delete(oldest.value);
  }
  return out;
}

/** Counts after giving `points` back, never below zero, as `multiLimitScript` refunds them. */
export function memoryMultiLimitRefund(
  store: MemoryStore,
  keys: readonly string[],
  points: number,
  now: number,
): number[] {
  const counters = countersOf(store);
  return keys.map((key) => {
    const counter = live(counters, key, now);
    if (counter === undefined) return 0;
    counter.count -= Math.min(counter.count, points);
    return counter.count;
  });
}

export function memoryMultiLimitReset(store: MemoryStore, keys: readonly string[]): void {
  const counters = stores.get(store);
  for (const key of keys) counters?.delete(key);
}
