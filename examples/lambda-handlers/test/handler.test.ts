/**
 * Invokes the example handler against a real redis-server, configured through REDIS_SECRET. The
 * service is provisioned as `cacheplane apply` does (user, secret, and the platform's script library,
 * which the rate limiter calls with FCALL: the service needs no EVAL permission).
 */
import assert from "node:assert/strict";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { parseConfig } from "@cacheplane/core";
import { applyPlatform, FileSecretStore, RedisAclTarget } from "@cacheplane/provisioner";
import type { RedisServer } from "@cacheplane/testkit";
import { startRedis } from "@cacheplane/testkit";
import type { APIGatewayProxyEventV2, APIGatewayProxyStructuredResultV2 } from "aws-lambda";
import type { Redis } from "ioredis";

let secretsDir: string;
let server: RedisServer;
let admin: Redis;
let handler: (event: APIGatewayProxyEventV2) => Promise<APIGatewayProxyStructuredResultV2>;
let upstream: { calls: number };
let sessionsTable: Map<string, unknown>;

function event(method: string, path: string, options: { ip?: string; token?: string; body?: unknown } = {}) {
  const headers: Record<string, string> = {};
  if (options.token) headers.authorization = `Bearer ${options.token}`;
  return {
    version: "2.0",
    routeKey: "$default",
    rawPath: path,
    rawQueryString: "",
    headers,
    isBase64Encoded: false,
    body: options.body === undefined ? undefined : JSON.stringify(options.body),
    requestContext: {
      accountId: "123456789012",
      apiId: "api",
      domainName: "example.test",
      domainPrefix: "example",
      requestId: `r-${Math.random()}`,
      routeKey: "$default",
      stage: "$default",
      time: new Date().toISOString(),
      timeEpoch: Date.now(),
      http: { method, path, protocol: "HTTP/1.1", sourceIp: options.ip ?? "198.51.100.1", userAgent: "test" },
    },
  } as APIGatewayProxyEventV2;
}

const body = (result: APIGatewayProxyStructuredResultV2) => JSON.parse(result.body ?? "null");
const header = (result: APIGatewayProxyStructuredResultV2, name: string) =>
  (result.headers as Record<string, string> | undefined)?.[name];

describe("example Lambda handler (API Gateway v2) on a real redis-server", () => {
  before(async () => {
    server = await startRedis({ acl: true, tls: false });
    admin = server.client();
    const config = parseConfig({
      stage: "example",
      region: "local",
      services: [{ name: "orders-api", keyspace: "orders", access: "read-write" }],
    });
    secretsDir = await mkdtemp(join(tmpdir(), "cacheplane-example-"));
    const store = new FileSecretStore(secretsDir);
    const target = await RedisAclTarget.connect({ urls: [server.url] });
    try {
      await applyPlatform(config, target, store);
    } finally {
      await target.close();
    }
    process.env.REDIS_SECRET = JSON.stringify((await store.get(config.services[0]!))!.payload);
    process.env.RATE_LIMIT = "8";
    process.env.RATE_WINDOW = "3600";
    process.env.POWERTOOLS_METRICS_DISABLED = "true";
    process.env.POWERTOOLS_LOG_LEVEL = "ERROR";
    ({ handler } = await import("../src/handler.js"));
    ({ upstream, sessionsTable } = await import("../src/backend.js"));
  });
  after(async () => {
    const { closeAllRedisConnections } = await import("@cacheplane/client");
    await closeAllRedisConnections();
    await server.stop();
    await rm(secretsDir, { recursive: true, force: true });
  });

  it("caches API responses: the upstream is called once, typed values survive", async () => {
    const first = await handler(event("GET", "/products/42", { ip: "10.0.0.1" }));
    assert.equal(first.statusCode, 200);
    assert.equal(header(first, "x-cache"), "miss");
    const second = await handler(event("GET", "/products/42", { ip: "10.0.0.1" }));
    assert.equal(header(second, "x-cache"), "hit");
    assert.deepStrictEqual(body(second), body(first));
    assert.equal(body(second).price, "4200");
    assert.equal(upstream.calls, 1);
    assert.equal(await admin.exists("orders:product:42"), 1);
    const missing = await handler(event("GET", "/products/abc", { ip: "10.0.0.1" }));
    assert.equal(missing.statusCode, 404);
  });

  it("sessions: create, read, fall back to the table after eviction, revoke", async () => {
    const created = await handler(event("POST", "/sessions", { ip: "10.0.0.2", body: { userId: "ann" } }));
    assert.equal(created.statusCode, 201);
    const token = body(created).sessionId as string;
    const me = await handler(event("GET", "/me", { ip: "10.0.0.2", token }));
    assert.equal(me.statusCode, 200);
    assert.equal(body(me).userId, "ann");

    // evicted from Redis: the sessions table answers and the cache is refilled
    await admin.del(`orders:__cp:sess:session:${token}`);
    const again = await handler(event("GET", "/me", { ip: "10.0.0.2", token }));
    assert.equal(again.statusCode, 200);
    assert.equal(await admin.exists(`orders:__cp:sess:session:${token}`), 1);

    assert.equal((await handler(event("DELETE", "/sessions", { ip: "10.0.0.2", token }))).statusCode, 204);
    assert.equal((await handler(event("GET", "/me", { ip: "10.0.0.2", token }))).statusCode, 401);
    assert.equal(sessionsTable.has(token), false);
  });

  it("rate limits per source IP with RateLimit-* and Retry-After headers", async () => {
    const statuses: number[] = [];
    let last: APIGatewayProxyStructuredResultV2 | undefined;
    for (let i = 0; i < 10; i++) {
      last = await handler(event("GET", "/products/7", { ip: "203.0.113.9" }));
      statuses.push(last.statusCode ?? 0);
    }
    assert.deepStrictEqual(statuses, [200, 200, 200, 200, 200, 200, 200, 200, 429, 429]);
    assert.ok(last);
    assert.equal(header(last, "RateLimit-Limit"), "8");
    assert.equal(header(last, "RateLimit-Remaining"), "0");
    assert.ok(Number(header(last, "Retry-After")) >= 1);
    // another client is not affected
    assert.equal((await handler(event("GET", "/products/7", { ip: "203.0.113.10" }))).statusCode, 200);
  });

  it("health: ping plus a write/read/delete probe", async () => {
    const result = await handler(event("GET", "/health", { ip: "10.0.0.3" }));
    assert.equal(result.statusCode, 200);
    assert.equal(body(result).status, "ok");
  });
});
