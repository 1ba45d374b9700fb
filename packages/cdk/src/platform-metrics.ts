/**
 * CloudWatch metrics of a platform's ElastiCache Serverless cache (namespace `AWS/ElastiCache`), the
 * same metrics and defaults as `@aws-cdk/aws-elasticache-alpha`'s `ServerlessCache.metric*()`, for
 * platforms defined here and imported ones alike (only the cache name is needed).
 */
import { Duration } from "aws-cdk-lib";
import * as cloudwatch from "aws-cdk-lib/aws-cloudwatch";

/** Any metric of the serverless cache `cacheName` (5-minute average unless `props` say otherwise). */
export function serverlessCacheMetric(
  cacheName: string,
  metricName: string,
  props: cloudwatch.MetricOptions = {},
): cloudwatch.Metric {
  return new cloudwatch.Metric({
    namespace: "AWS/ElastiCache",
    metricName,
    dimensionsMap: { ServerlessCacheName: cacheName },
    period: Duration.minutes(5),
    statistic: "Average",
    ...props,
  });
}

/** The metric helpers every platform has (like the alpha module's `ServerlessCache`). */
export interface IPlatformMetrics {
  /** Any `AWS/ElastiCache` metric of the cache. */
  metric(metricName: string, props?: cloudwatch.MetricOptions): cloudwatch.Metric;
  /** `CacheHits` (sum). */
  metricCacheHitCount(props?: cloudwatch.MetricOptions): cloudwatch.Metric;
  /** `CacheMisses` (sum). */
  metricCacheMissCount(props?: cloudwatch.MetricOptions): cloudwatch.Metric;
  /** `CacheHitRate` (average, percent). */
  metricCacheHitRate(props?: cloudwatch.MetricOptions): cloudwatch.Metric;
  /** `BytesUsedForCache` (maximum). */
  metricDataStored(props?: cloudwatch.MetricOptions): cloudwatch.Metric;
  /** `ElastiCacheProcessingUnits` (average). */
  metricProcessingUnitsConsumed(props?: cloudwatch.MetricOptions): cloudwatch.Metric;
  /** `NetworkBytesIn` (sum). */
  metricNetworkBytesIn(props?: cloudwatch.MetricOptions): cloudwatch.Metric;
  /** `NetworkBytesOut` (sum). */
  metricNetworkBytesOut(props?: cloudwatch.MetricOptions): cloudwatch.Metric;
  /** `CurrConnections` (maximum). */
  metricActiveConnections(props?: cloudwatch.MetricOptions): cloudwatch.Metric;
  /** `SuccessfulWriteRequestLatency` (average). */
  metricWriteRequestLatency(props?: cloudwatch.MetricOptions): cloudwatch.Metric;
  /** `SuccessfulReadRequestLatency` (average). */
  metricReadRequestLatency(props?: cloudwatch.MetricOptions): cloudwatch.Metric;
}

/** The named helpers, built on one `metric` function. */
export function platformMetrics(
  metric: (metricName: string, props?: cloudwatch.MetricOptions) => cloudwatch.Metric,
): IPlatformMetrics {
  const sum = (name: string) => (props?: cloudwatch.MetricOptions) =>
    metric(name, { statistic: "Sum", ...props });
  const max = (name: string) => (props?: cloudwatch.MetricOptions) =>
    metric(name, { statistic: "Maximum", ...props });
  const avg = (name: string) => (props?: cloudwatch.MetricOptions) => metric(name, props);
  return {
    metric,
    metricCacheHitCount: sum("CacheHits"),
    metricCacheMissCount: sum("CacheMisses"),
    metricCacheHitRate: avg("CacheHitRate"),
    metricDataStored: max("BytesUsedForCache"),
    metricProcessingUnitsConsumed: avg("ElastiCacheProcessingUnits"),
    metricNetworkBytesIn: sum("NetworkBytesIn"),
    metricNetworkBytesOut: sum("NetworkBytesOut"),
    metricActiveConnections: max("CurrConnections"),
    metricWriteRequestLatency: avg("SuccessfulWriteRequestLatency"),
    metricReadRequestLatency: avg("SuccessfulReadRequestLatency"),
  };
}
