/**
 * catalog: caches an expensive product listing. When the cache is down, the circuit breaker opens
 * and `getOrSet` falls back (CACHE_FALLBACK=memory) without changing this code. `wrapHandler`
 * finishes the stale-while-revalidate refresh before the environment is frozen.
 */
import { createCache, wrapHandler } from "@cacheplane/client";
import type { APIGatewayProxyEventV2, APIGatewayProxyResultV2 } from "aws-lambda";

const cache = createCache();

async function listProducts(category: string): Promise<{ category: string; items: string[] }> {
  return { category, items: ["kettle", "teapot", "mug"] };
}

async function handle(event: APIGatewayProxyEventV2): Promise<APIGatewayProxyResultV2> {
  if (event.rawPath === "/health") {
    const report = await cache.health();
    return { statusCode: report.status === "down" ? 503 : 200, body: JSON.stringify(report) };
  }
  const category = event.queryStringParameters?.category ?? "kitchen";
  const products = await cache.getOrSet(`products:${category}`, () => listProducts(category), {
    ttl: 300,
    staleWhileRevalidate: 60,
  });
  return { statusCode: 200, body: JSON.stringify(products) };
}

export const handler = wrapHandler(handle, cache);
