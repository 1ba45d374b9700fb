/**
 * What the gateway itself observes per service, for the operator view: requests, answers by class,
 * and cache hits and misses of the read commands it relays. Only traffic through this gateway process
 * is counted: services that reach Redis directly (Lambdas with `@cacheplane/client`) are not seen here,
 * and Redis's own `keyspace_hits`/`keyspace_misses` are server-wide, not per service.
 */
import type { RedisReply } from "../reply-encoding.js";

/** How a read command's reply tells hits from misses. */
type ReadShape = "value" | "values" | "hash";

/**
 * The reads counted, by lower-case name: `value` (nil is a miss, anything else a hit), `values` (one
 * hit or miss per element: MGET, HMGET) and `hash` (an empty HGETALL is a miss).
 */
export const COUNTED_READS: Readonly<Record<string, ReadShape>> = Object.freeze({
  get: "value",
  getex: "value",
  getdel: "value",
  hget: "value",
  mget: "values",
  hmget: "values",
  hgetall: "hash",
});

/** Counters of one service since the gateway started. */
export interface TrafficCounts {
  /** Requests answered for the service's tokens. */
  requests: number;
  /** Of those, answered 403 (the gateway's policy or the service's ACL refused a command). */
  forbidden: number;
  /** Of those, answered 5xx (mostly 503: Redis unavailable). */
  errors: number;
  /** Replies of counted reads that found a value (per key for MGET/HMGET). */
  hits: number;
  /** Replies of counted reads that found nothing (nil, or an empty hash). */
  misses: number;
}

function zero(): TrafficCounts {
  return { requests: 0, forbidden: 0, errors: 0, hits: 0, misses: 0 };
}

/** Per-service traffic counters (bounded: one entry per service the gateway serves). */
export class ServiceTraffic {
  private readonly counts = new Map<string, TrafficCounts>();

  constructor(services: readonly string[]) {
    for (const service of services) this.counts.set(service, zero());
  }

  /** One answered request of `service`. */
  request(service: string, status: number): void {
    const counts = this.counts.get(service);
    if (!counts) return;
    counts.requests++;
    if (status === 403) counts.forbidden++;
    else if (status >= 500) counts.errors++;
  }

  /** One reply of `command` (lower case) relayed for `service`. */
  reply(service: string, command: string, reply: RedisReply): void {
    const shape = COUNTED_READS[command];
    if (shape === undefined) return;
    const counts = this.counts.get(service);
    if (!counts) return;
    if (shape === "values") {
      if (!Array.isArray(reply)) return;
      for (const item of reply) {
        if (item === null || item === undefined) counts.misses++;
        else counts.hits++;
      }
      return;
    }
    if (reply instanceof Error) return;
    const found =
      shape === "hash" ? Array.isArray(reply) && reply.length > 0 : reply !== null && reply !== undefined;
    if (found) counts.hits++;
    else counts.misses++;
  }

  /** A copy of every service's counters. */
  snapshot(): Record<string, TrafficCounts> {
    return Object.fromEntries([...this.counts].map(([service, counts]) => [service, { ...counts }]));
  }
}
