/**
 * CloudWatch Embedded Metric Format: `flush()` writes one JSON line (to stdout by default, which
 * Lambda ships to CloudWatch Logs, where the metrics are extracted) with the counters accumulated
 * since the previous flush and the current latency percentiles. No dependencies.
 */
import type { CacheService } from "./cache-service.js";
import type { CacheStats } from "./stats.js";

export interface EmfMetricsOptions {
  /** CloudWatch namespace. Default `Cacheplane`. */
  namespace?: string;
  /** Dimensions. Default `{ Service: AWS_LAMBDA_FUNCTION_NAME, Storage: <kind> }`. */
  dimensions?: Record<string, string>;
  /** Where the line goes. Default `process.stdout.write`. */
  write?: (line: string) => void;
  /** Clock for tests (epoch ms). */
  now?: () => number;
}

export interface EmfMetrics {
  /** Writes one EMF line and returns it (nothing is written when nothing happened since the last flush). */
  flush(): string | undefined;
}

const COUNTERS = [
  ["hits", "CacheHits"],
  ["misses", "CacheMisses"],
  ["staleHits", "CacheStaleHits"],
  ["sets", "CacheSets"],
  ["deletes", "CacheDeletes"],
  ["loads", "CacheLoads"],
  ["errors", "CacheErrors"],
  ["fallbacks", "CacheFallbacks"],
] as const satisfies readonly (readonly [keyof CacheStats, string])[];

export function emfMetrics(cache: CacheService, options: EmfMetricsOptions = {}): EmfMetrics {
  const namespace = options.namespace ?? "Cacheplane";
  const write = options.write ?? ((line: string) => void process.stdout.write(line));
  const now = options.now ?? Date.now;
  let last: CacheStats | undefined;
  let lastLatencyCount = 0;
  return {
    flush() {
      const stats = cache.getStats();
      const dimensions = options.dimensions ?? {
        Service: process.env.AWS_LAMBDA_FUNCTION_NAME ?? "unknown",
        Storage: stats.storage,
      };
      const values: Record<string, number> = {};
      let activity = false;
      for (const [field, metric] of COUNTERS) {
        const delta = stats[field] - (last ? last[field] : 0);
        values[metric] = delta;
        if (delta !== 0) activity = true;
      }
      const newLatency = stats.latency.count - lastLatencyCount;
      if (newLatency > 0) activity = true;
      const breakerChanged = last !== undefined && last.breaker !== stats.breaker;
      last = stats;
      lastLatencyCount = stats.latency.count;
      if (!activity && !breakerChanged) return undefined;
      const metrics: { Name: string; Unit: string }[] = COUNTERS.map(([, name]) => ({
        Name: name,
        Unit: "Count",
      }));
      if (newLatency > 0) {
        values.CacheLatencyP50 = stats.latency.p50;
        values.CacheLatencyP99 = stats.latency.p99;
        metrics.push(
          { Name: "CacheLatencyP50", Unit: "Milliseconds" },
          { Name: "CacheLatencyP99", Unit: "Milliseconds" },
        );
      }
      values.CacheBreakerOpen = stats.breaker === "open" ? 1 : 0;
      metrics.push({ Name: "CacheBreakerOpen", Unit: "None" });
      const line = `${JSON.stringify({
        _aws: {
          Timestamp: now(),
          CloudWatchMetrics: [
            { Namespace: namespace, Dimensions: [Object.keys(dimensions)], Metrics: metrics },
          ],
        },
        ...dimensions,
        ...values,
        BreakerState: stats.breaker,
      })}\n`;
      write(line);
      return line;
    },
  };
}
