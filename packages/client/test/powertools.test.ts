/**
 * One metric pipeline and one logger for Powertools users: the REAL `Metrics` and `Logger` classes
 * of @aws-lambda-powertools passed to createCache, their stdout captured, on a real redis-server.
 */
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { Logger } from "@aws-lambda-powertools/logger";
import { Metrics, MetricUnit } from "@aws-lambda-powertools/metrics";
import { type RedisServer, startRedis } from "@cacheplane/testkit";
import type { Redis } from "ioredis";
import { type CacheService, closeAllRedisConnections, createCache, emfMetrics } from "../src/index.js";
import { createServiceUser, RELAXED, secretFor } from "./helpers/redis.js";

const PASSWORD = "Powertools-Pw-1122334455";
const KEYSPACE = "pt";

let server: RedisServer;
let admin: Redis;
const caches: CacheService[] = [];

/**
 * Runs `fn` with the JSON lines written to process.stdout/stderr captured (Powertools writes through
 * a Console on them); anything else (the test runner's own reports) passes through.
 */
async function captured(fn: () => Promise<void>): Promise<string[]> {
  const lines: string[] = [];
  const out = process.stdout.write;
  const err = process.stderr.write;
  const capturing = (original: typeof process.stdout.write, stream: NodeJS.WriteStream) =>
    ((chunk: string | Uint8Array, ...rest: unknown[]) => {
      const text = typeof chunk === "string" ? chunk : Buffer.from(chunk).toString("utf8");
      if (text.startsWith("{")) {
        lines.push(...text.split("\n").filter(Boolean));
        return true;
      }
      return (original as (...args: unknown[]) => boolean).call(stream, chunk, ...rest);
    }) as typeof process.stdout.write;
  process.stdout.write = capturing(out, process.stdout);
  process.stderr.write = capturing(err, process.stderr);
  try {
    await fn();
  } finally {
    process.stdout.write = out;
    process.stderr.write = err;
  }
  return lines;
}

function json(lines: string[]): Record<string, unknown>[] {
  return lines.flatMap((line) => {
    try {
      return [JSON.parse(line) as Record<string, unknown>];
    } catch {
      return [];
    }
  });
}

before(async () => {
  server = await startRedis({ acl: true, tls: false });
  admin = server.client();
  await createServiceUser(admin, KEYSPACE, PASSWORD);
});
after(async () => {
  await Promise.allSettled(caches.map((c) => c.close()));
  await closeAllRedisConnections();
  admin.disconnect();
  await server.stop();
});

describe("Powertools Metrics and Logger", () => {
  it("cache.flush() publishes the cache's metrics through the service's Metrics, in the same EMF blob as its own", async () => {
    const metrics = new Metrics({ namespace: "Orders", serviceName: "orders-api" });
    let t = Date.UTC(2026, 0, 1);
    const cache = createCache({
      secret: secretFor(server, KEYSPACE, PASSWORD),
      ...RELAXED,
      metrics,
      now: () => t,
    });
    caches.push(cache);
    const lines = await captured(async () => {
      await cache.getOrSet("order:1", () => ({ id: 1 }), { ttl: 60, grace: 600 });
      await cache.getOrSet("order:1", () => ({ id: 2 }), { ttl: 60, grace: 600 });
      t += 61_000;
      await cache.getOrSet(
        "order:1",
        () => {
          throw new Error("db down");
        },
        { ttl: 60, grace: 600 },
      );
      metrics.addMetric("ordersServed", MetricUnit.Count, 3);
      await cache.flush();
    });
    const blobs = json(lines).filter((l) => "_aws" in l);
    assert.equal(blobs.length, 1, `one EMF line (got ${lines.join("\n")})`);
    const blob = blobs[0] as Record<string, unknown> & {
      _aws: { CloudWatchMetrics: { Namespace: string; Metrics: { Name: string; Unit: string }[] }[] };
    };
    const directive = blob._aws.CloudWatchMetrics[0];
    assert.equal(directive?.Namespace, "Orders");
    const names = directive?.Metrics.map((m) => m.Name) ?? [];
    for (const name of ["CacheHits", "CacheMisses", "CacheStaleOnError", "CacheLoadErrors", "ordersServed"]) {
      assert.ok(names.includes(name), `${name} in ${names.join(",")}`);
    }
    assert.equal(blob.CacheHits, 2); // a fresh hit and the stale one
    assert.equal(blob.CacheMisses, 1);
    assert.equal(blob.CacheStaleHits, 1);
    assert.equal(blob.CacheStaleOnError, 1);
    assert.equal(blob.CacheLoadErrors, 1);
    assert.equal(blob.ordersServed, 3);
    assert.equal(blob.service, "orders-api");
    assert.equal(directive?.Metrics.find((m) => m.Name === "CacheLatencyP50")?.Unit, "Milliseconds");
    // Deltas: a second flush with nothing new publishes nothing.
    const quiet = await captured(async () => {
      await cache.flush();
    });
    assert.equal(json(quiet).filter((l) => "_aws" in l).length, 0);
  });

  it("emfMetrics(cache, { metrics }) emits through Powertools instead of its own line", async () => {
    const metrics = new Metrics({ namespace: "Orders", serviceName: "orders-api" });
    const cache = createCache({ secret: secretFor(server, KEYSPACE, PASSWORD), ...RELAXED });
    caches.push(cache);
    const writes: string[] = [];
    const emf = emfMetrics(cache, {
      metrics,
      write: (line) => writes.push(line),
      dimensions: { Tier: "redis" },
    });
    const lines = await captured(async () => {
      await cache.get("absent");
      emf.flush();
    });
    assert.deepStrictEqual(writes, [], "the built-in writer is not used");
    const blob = json(lines).find((l) => "_aws" in l);
    assert.equal(blob?.CacheMisses, 1);
    assert.equal(blob?.Tier, "redis");
  });

  it("the Logger gets stale values with their reason and store errors; never the secret", async () => {
    const logger = new Logger({ serviceName: "orders-api", logLevel: "DEBUG" });
    let t = Date.UTC(2026, 0, 1);
    const secret = secretFor(server, KEYSPACE, PASSWORD);
    const cache = createCache({ secret, ...RELAXED, logger, now: () => t });
    caches.push(cache);
    const lines = await captured(async () => {
      await cache.getOrSet("order:9", () => "v1", { ttl: 60, grace: 600 });
      t += 61_000;
      await cache.getOrSet(
        "order:9",
        () => {
          throw new Error("db down");
        },
        { ttl: 60, grace: 600, graceBackoff: 30 },
      );
      await cache.getOrSet("order:9", () => "unused", { ttl: 60, grace: 600 });
    });
    const logs = json(lines);
    const stale = logs.filter((l) => String(l.message).startsWith("cache served a stale value"));
    assert.deepStrictEqual(
      stale.map((l) => [
        l.level,
        (l.cache as { reason: string }).reason,
        (l.cache as { error?: string }).error,
      ]),
      [
        ["WARN", "error", "Error: db down"],
        ["WARN", "backoff", undefined],
      ],
    );
    assert.equal(stale[0]?.service, "orders-api");
    assert.ok(!lines.join("\n").includes(PASSWORD));

    // A store that refuses the password: store errors are logged, the password never is.
    const denied = createCache({
      secret: { ...secret, password: "Wrong-Pw-000111222" },
      ...RELAXED,
      logger,
    });
    caches.push(denied);
    const errorLines = await captured(async () => {
      await denied.get("x");
    });
    const errors = json(errorLines).filter((l) => l.message === "cache store call failed");
    assert.ok(errors.length >= 1, errorLines.join("\n"));
    assert.equal(errors[0]?.level, "WARN");
    assert.ok(!errorLines.join("\n").includes("Wrong-Pw-000111222"));
  });
});
