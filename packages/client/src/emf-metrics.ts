/**
 * CloudWatch Embedded Metric Format: `flush()` writes one JSON line (to stdout by default, which
 * Lambda ships to CloudWatch Logs, where the metrics are extracted) with the counters accumulated
 * since the previous flush and the current latency percentiles. No dependencies. With a `metrics`
 * sink (a Powertools `Metrics` instance) the same figures are added to it and published with the
 * service's own metrics instead: one metric pipeline.
 */
import type { CacheService } from "./cache-service.js";
import type { CacheStats } from "./stats.js";

export type MetricUnitName = "Count" | "Milliseconds" | "None";

/**
 * What the client needs of a metrics library: Powertools' `Metrics` (`@aws-lambda-powertools/metrics`)
 * fits, typed structurally so Powertools stays optional.
 */
export interface MetricsSink {
  addMetric(name: string, unit: MetricUnitName, value: number): unknown;
  /** Optional: dimensions of the next published blob (only called for `dimensions` you pass). */
  addDimension?(name: string, value: string): unknown;
  /** Writes what was added (one EMF line per blob). */
  publishStoredMetrics(): unknown;
}

export interface EmfMetricsOptions {
  /** CloudWatch namespace. Default `Cacheplane`. Ignored with `metrics` (the sink has its own). */
  namespace?: string;
  /**
   * Dimensions. Default `{ Service: AWS_LAMBDA_FUNCTION_NAME, Storage: <kind> }`; with `metrics`,
   * default none (the sink's own default dimensions apply).
   */
  dimensions?: Record<string, string>;
  /** Where the line goes. Default `process.stdout.write`. */
  write?: (line: string) => void;
  /** Clock for tests (epoch ms). */
  now?: () => number;
  /** Emit through this sink (e.g. a Powertools `Metrics`) instead of writing EMF lines. */
  metrics?: MetricsSink;
}

export interface EmfMetrics {
  /**
   * Writes one EMF line and returns it (nothing is written when nothing happened since the last
   * flush). With a `metrics` sink: adds the metrics to it, publishes them, and returns `undefined`.
   */
  flush(): string | undefined;
}

const COUNTERS = [
  ["hits", "CacheHits"],
  ["misses", "CacheMisses"],
  ["staleHits", "CacheStaleHits"],
  ["staleOnError", "CacheStaleOnError"],
  ["staleOnTimeout", "CacheStaleOnTimeout"],
  ["staleOnSoftTimeout", "CacheStaleOnSoftTimeout"],
  ["staleOnBackoff", "CacheStaleOnBackoff"],
  ["sets", "CacheSets"],
  ["deletes", "CacheDeletes"],
  ["loads", "CacheLoads"],
  ["loadErrors", "CacheLoadErrors"],
  ["loadTimeouts", "CacheLoadTimeouts"],
  ["errors", "CacheErrors"],
  ["fallbacks", "CacheFallbacks"],
] as const satisfies readonly (readonly [keyof CacheStats, string])[];

export function emfMetrics(cache: CacheService, options: EmfMetricsOptions = {}): EmfMetrics {
  const namespace = options.namespace ?? "Cacheplane";
  const write = options.write ?? ((line: string) => void process.stdout.write(line));
  const now = options.now ?? Date.now;
  const sink = options.metrics;
  let last: CacheStats | undefined;
  let lastLatencyCount = 0;
  return {
    flush() {
      const stats = cache.getStats();
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
      if (sink !== undefined) {
        for (const [name, value] of Object.entries(options.dimensions ?? {}))
          sink.addDimension?.(name, value);
        // Only what happened: a sink's blob also carries the service's own metrics.
        for (const [, metric] of COUNTERS) {
          const value = values[metric] as number;
          if (value !== 0) sink.addMetric(metric, "Count", value);
        }
        if (newLatency > 0) {
          sink.addMetric("CacheLatencyP50", "Milliseconds", stats.latency.p50);
          sink.addMetric("CacheLatencyP99", "Milliseconds", stats.latency.p99);
        }
        sink.addMetric("CacheBreakerOpen", "None", stats.breaker === "open" ? 1 : 0);
        sink.publishStoredMetrics();
        return undefined;
      }
      const dimensions = options.dimensions ?? {
        Service: process.env.AWS_LAMBDA_FUNCTION_NAME ?? "unknown",
        Storage: stats.storage,
      };
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
