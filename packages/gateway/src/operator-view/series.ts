/**
 * The operator view's history: one point per sample, at most `capacity` points in memory (the oldest
 * is dropped), served to the page as columns (one array per service and metric, as charts take them).
 */

/** One service at one sample. Traffic and denials count what happened since the previous sample. */
export interface ServicePoint {
  /** Keys in the service's own keyspace (extrapolated when a node was not scanned to the end). */
  keys: number;
  keysWithoutTtl: number;
  /** Estimated bytes of the service's own keyspace. */
  memoryBytes: number;
  /** Connections of the service's Redis user, every node. */
  connections: number;
  /** Gateway requests, 403s and 5xx since the previous sample. */
  requests: number;
  forbidden: number;
  errors: number;
  /** Hits and misses of counted reads through this gateway since the previous sample. */
  hits: number;
  misses: number;
  /** NOPERM denials (command, key, channel) of the service's user in the ACL LOG since the previous sample. */
  noperm: number;
  /** Failed logins as the service's user in the ACL LOG since the previous sample. */
  authFailures: number;
}

export type ServiceMetric = keyof ServicePoint;

export const SERVICE_METRICS: readonly ServiceMetric[] = [
  "keys",
  "keysWithoutTtl",
  "memoryBytes",
  "connections",
  "requests",
  "forbidden",
  "errors",
  "hits",
  "misses",
  "noperm",
  "authFailures",
];

/** One sample. */
export interface SeriesPoint {
  /** Epoch ms when the sample started. */
  at: number;
  services: Record<string, ServicePoint>;
}

/** Columns for the page: `t` in epoch seconds, then per service and metric one value per `t`. */
export interface SeriesColumns {
  t: number[];
  services: Record<string, Record<ServiceMetric, number[]>>;
}

/** A bounded time series of samples. */
export class OperatorSeries {
  private readonly points: SeriesPoint[] = [];

  constructor(
    readonly capacity: number,
    private readonly services: readonly string[],
  ) {
    if (!Number.isInteger(capacity) || capacity < 2)
      throw new Error(`operator.historyPoints must be a whole number of at least 2, got ${capacity}`);
  }

  /** Appends a sample; drops the oldest beyond `capacity`. */
  push(point: SeriesPoint): void {
    this.points.push(point);
    if (this.points.length > this.capacity) this.points.splice(0, this.points.length - this.capacity);
  }

  get length(): number {
    return this.points.length;
  }

  /** The newest sample, if any. */
  latest(): SeriesPoint | undefined {
    return this.points[this.points.length - 1];
  }

  /** Every sample as columns (a service missing from a sample counts 0 there). */
  columns(): SeriesColumns {
    const services: SeriesColumns["services"] = {};
    for (const service of this.services) {
      const metrics = {} as Record<ServiceMetric, number[]>;
      for (const metric of SERVICE_METRICS)
        metrics[metric] = this.points.map((p) => p.services[service]?.[metric] ?? 0);
      services[service] = metrics;
    }
    return { t: this.points.map((p) => Math.round(p.at / 1000)), services };
  }
}
