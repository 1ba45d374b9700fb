/**
 * An API Gateway (HTTP API, payload v2) Lambda handler using @cacheplane/client:
 * - every request is rate limited per source IP (sliding window, RateLimit-* headers, 429);
 * - POST /sessions, GET /me, DELETE /sessions: sessions cached in Redis in front of a sessions table;
 * - GET /products/{id}: API response caching with getOrSet (stampede-safe, stale-while-revalidate,
 *   a grace period that serves the last good value while the catalog is down or slow);
 * - GET /health: the cache's health report.
 * Metrics and logs go through the service's Powertools `Metrics` and `Logger` (one EMF pipeline), and
 * `wrapHandler` finishes background refreshes and publishes the metrics before the environment is
 * frozen.
 *
 * Configuration is the environment: REDIS_SECRET_ARN (or REDIS_SECRET_FILE / REDIS_SECRET),
 * CACHE_STORAGE_TYPE, plus RATE_LIMIT / RATE_WINDOW for this example (and Powertools' own
 * POWERTOOLS_* variables, e.g. POWERTOOLS_METRICS_DISABLED=true to silence the metrics).
 */
import { Logger } from "@aws-lambda-powertools/logger";
import { Metrics, MetricUnit } from "@aws-lambda-powertools/metrics";
import { createCache, wrapHandler } from "@cacheplane/client";
import { createRateLimiter } from "@cacheplane/client/rate-limits";
import { createSessionStore } from "@cacheplane/client/sessions";
import type { APIGatewayProxyEventV2, APIGatewayProxyStructuredResultV2 } from "aws-lambda";
import { fetchProduct, type Product, type SessionData, sessionsTable } from "./backend.js";

const metrics = new Metrics({ namespace: "CacheplaneExample", serviceName: "orders-api" });
const logger = new Logger({ serviceName: "orders-api" });

// Module level: created once per execution environment, reused by warm invocations. Nothing
// connects until the first call. The cache's metrics and logs join the service's own.
const cache = createCache({ metrics, logger });
const limiter = createRateLimiter(cache, {
  algorithm: "sliding-window",
  limit: Number(process.env.RATE_LIMIT ?? 100),
  window: Number(process.env.RATE_WINDOW ?? 60),
  name: "api",
});
const sessions = createSessionStore<SessionData>(cache, {
  ttl: 30 * 60,
  // On a cache miss (eviction, Redis restart, outage) the table answers and the cache is refilled.
  loader: (id) => sessionsTable.get(id),
});

type Result = APIGatewayProxyStructuredResultV2;

function json(statusCode: number, body: unknown, headers: Record<string, string> = {}): Result {
  return {
    statusCode,
    headers: { "content-type": "application/json", ...headers },
    body: JSON.stringify(body, (_, value) => (typeof value === "bigint" ? value.toString() : value)),
  };
}

function bearer(event: APIGatewayProxyEventV2): string | undefined {
  const header = event.headers.authorization ?? event.headers.Authorization;
  const match = header ? /^Bearer\s+(\S+)$/i.exec(header) : null;
  return match?.[1];
}

async function route(event: APIGatewayProxyEventV2): Promise<Result> {
  const method = event.requestContext.http.method;
  const path = event.rawPath;

  if (method === "GET" && path === "/health") {
    const report = await cache.health();
    return json(report.status === "down" ? 503 : 200, report);
  }

  if (method === "POST" && path === "/sessions") {
    const body = event.body ? (JSON.parse(event.body) as { userId?: unknown }) : {};
    if (typeof body.userId !== "string" || body.userId === "") return json(400, { error: "userId required" });
    const data: SessionData = { userId: body.userId, createdAt: new Date() };
    const session = await sessions.create(data);
    sessionsTable.set(session.id, data); // the durable record
    return json(201, { sessionId: session.id });
  }

  if (method === "GET" && path === "/me") {
    const id = bearer(event);
    const session = id ? await sessions.get(id) : undefined;
    if (!id || !session) return json(401, { error: "not signed in" });
    await sessions.touch(id);
    return json(200, { userId: session.userId, since: session.createdAt.toISOString() });
  }

  if (method === "DELETE" && path === "/sessions") {
    const id = bearer(event);
    if (!id) return json(401, { error: "not signed in" });
    sessionsTable.delete(id);
    await sessions.revoke(id);
    return json(204, {});
  }

  const product = /^\/products\/([^/]+)$/.exec(path);
  if (method === "GET" && product?.[1]) {
    const id = product[1];
    let cacheStatus = "hit";
    const value = await cache.getOrSet<Product | null>(
      `product:${id}`,
      async () => {
        cacheStatus = "miss";
        return (await fetchProduct(id)) ?? null;
      },
      // Fresh for 60 s; then served at once while one refresh runs (5 min); for a day past its ttl
      // the last good value answers when the catalog fails or takes longer than 2 s.
      { ttl: 60, staleWhileRevalidate: 300, grace: 86_400, timeouts: { softMs: 200, hardMs: 2000 } },
    );
    if (!value) return json(404, { error: "no such product" }, { "x-cache": cacheStatus });
    return json(200, value, { "x-cache": cacheStatus, "cache-control": "max-age=60" });
  }

  return json(404, { error: "not found" });
}

async function handle(event: APIGatewayProxyEventV2): Promise<Result> {
  const rate = await limiter.limit(event.requestContext.http.sourceIp);
  const rateHeaders = rate.headers();
  if (!rate.allowed) return json(429, { error: "too many requests" }, rateHeaders);
  const result = await route(event);
  metrics.addMetric("requests", MetricUnit.Count, 1);
  return { ...result, headers: { ...rateHeaders, ...(result.headers as Record<string, string>) } };
}

// After every invocation (also a failed one): background refreshes finished, then one EMF line with
// the service's metrics and the cache's (CacheHits, CacheStaleOnError, ...), within the deadline.
export const handler = wrapHandler(handle, cache, { timeoutMs: 1000 });
