/**
 * orders-api: rate limits each caller and caches order lookups (cache-aside). `createCache()` reads
 * REDIS_SECRET_ARN (set by ServiceCacheAccess) and keeps every key under the service's keyspace.
 */
import { createCache } from "@cacheplane/client";
import { createRateLimiter } from "@cacheplane/client/rate-limits";
import type { APIGatewayProxyEventV2, APIGatewayProxyResultV2 } from "aws-lambda";

const cache = createCache();
const limiter = createRateLimiter(cache, {
  name: "api",
  limit: 100,
  window: 60,
  algorithm: "sliding-window",
});

interface Order {
  id: string;
  status: string;
  loadedAt: string;
}

/** Stand-in for the source of truth (a database in a real service). */
async function loadOrder(id: string): Promise<Order> {
  return { id, status: "shipped", loadedAt: new Date().toISOString() };
}

export async function handler(event: APIGatewayProxyEventV2): Promise<APIGatewayProxyResultV2> {
  if (event.rawPath === "/health") {
    const report = await cache.health();
    return { statusCode: report.status === "down" ? 503 : 200, body: JSON.stringify(report) };
  }
  const caller = event.requestContext?.http?.sourceIp ?? "anonymous";
  const limit = await limiter.limit(caller);
  if (!limit.allowed) return { statusCode: 429, headers: limit.headers(), body: "Too many requests" };

  const id = event.pathParameters?.id ?? "42";
  const order = await cache.getOrSet(`order:${id}`, () => loadOrder(id), { ttl: 60 });
  return { statusCode: 200, headers: limit.headers(), body: JSON.stringify(order) };
}
