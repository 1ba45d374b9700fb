// Test fixture: a real redis-server with ACL, service users, secret files and the platform's script
// library provisioned by the real provisioner (`applyPlatform`, as `cacheplane apply` does), and a
// gateway server in front. No mocks.
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { type PlatformConfig, parseConfig, type ServiceInput } from "@cacheplane/core";
import type { SecretPayload } from "@cacheplane/core/secret";
import { applyPlatform, FileSecretStore, RedisAclTarget } from "@cacheplane/provisioner";
import { type RedisServer, type StartRedisOptions, startRedis } from "@cacheplane/testkit";
import { Redis } from "ioredis";
import type { GatewayLogEntry } from "../../src/gateway-options.js";
import { type GatewayServer, type GatewayServerOptions, startGatewayServer } from "../../src/node-server.js";
import { ensureServiceTokens, type ServiceTokens } from "../../src/tokens.js";

/**
 * Services most tests use: two read-write services that may run their own Lua (`scripting: true`:
 * @upstash/redis and @upstash/ratelimit use EVAL), a read-only one, and a read-write one with the
 * default (no scripting).
 */
export const DEFAULT_SERVICES: ServiceInput[] = [
  { name: "a", access: "read-write", scripting: true },
  { name: "b", access: "read-write", scripting: true },
  { name: "ro", access: "read-only" },
  { name: "noscript", access: "read-write" },
];

export interface Fixture {
  redis: RedisServer;
  config: PlatformConfig;
  secretsDir: string;
  /** Service name -> its secret payload (holds the password; tests check it never leaks). */
  secrets: Record<string, SecretPayload>;
  tokens: Record<string, ServiceTokens>;
  server: GatewayServer;
  url: string;
  logs: GatewayLogEntry[];
  /** A direct ioredis connection as the service's own user (the "direct Redis" baseline). */
  direct(service: string): Redis;
  /** Every token and password of the fixture. */
  secretStrings(): string[];
  close(): Promise<void>;
}

export interface FixtureOptions {
  services?: ServiceInput[];
  /** Provision the platform's scanner identity (namespaced tokens' KEYS/SCAN/DBSIZE/FLUSHDB). */
  scanner?: boolean;
  redis?: StartRedisOptions;
  gateway?: Partial<Omit<GatewayServerOptions, "config" | "secretsDir">>;
}

/**
 * Provisions `config` on `redis` with the provisioner (users verified and created on the server,
 * script library loaded, secret files `<service>.json` in `secretsDir`) and returns the secrets.
 */
export async function provisionServices(
  redis: RedisServer,
  config: PlatformConfig,
  secretsDir: string,
): Promise<Record<string, SecretPayload>> {
  const store = new FileSecretStore(secretsDir);
  const target = await RedisAclTarget.connect({
    urls: [redis.url],
    ...(redis.tls ? { tls: { ca: redis.tls.ca, servername: "localhost" } } : {}),
  });
  try {
    await applyPlatform(config, target, store);
  } finally {
    await target.close();
  }
  const secrets: Record<string, SecretPayload> = {};
  for (const svc of config.services) {
    const stored = await store.get(svc);
    if (!stored) throw new Error(`no secret for ${svc.name} after apply`);
    secrets[svc.name] = stored.payload;
  }
  return secrets;
}

export async function startFixture(options: FixtureOptions = {}): Promise<Fixture> {
  const redis = await startRedis({ acl: true, ...options.redis });
  const secretsDir = await mkdtemp(join(tmpdir(), "cacheplane-gateway-"));
  const config = parseConfig({
    stage: "test",
    region: "local",
    ...(options.scanner ? { scanner: true } : {}),
    services: options.services ?? DEFAULT_SERVICES,
  });
  const secrets = await provisionServices(redis, config, secretsDir);
  const logs: GatewayLogEntry[] = [];
  const server = await startGatewayServer({
    config,
    secretsDir,
    port: 0,
    tokenRefreshIntervalMs: 0,
    logger: (entry) => logs.push(entry),
    ...options.gateway,
  });
  const tokens: Record<string, ServiceTokens> = {};
  for (const svc of config.services) tokens[svc.name] = await ensureServiceTokens(secretsDir, svc.name);
  const directs: Redis[] = [];
  return {
    redis,
    config,
    secretsDir,
    secrets,
    tokens,
    server,
    url: server.url,
    logs,
    direct(service) {
      const secret = secrets[service];
      if (!secret) throw new Error(`no service ${service}`);
      const client = new Redis({
        host: secret.host,
        port: secret.port,
        username: secret.username,
        password: secret.password,
        enableReadyCheck: false,
        maxRetriesPerRequest: 1,
      });
      directs.push(client);
      return client;
    },
    secretStrings() {
      return [
        ...Object.values(tokens).flatMap((t) => [
          t.readWrite,
          t.readOnly,
          t.namespacedReadWrite,
          t.namespacedReadOnly,
        ]),
        ...Object.values(secrets).map((s) => s.password),
        redis.admin.password,
      ];
    },
    async close() {
      for (const client of directs) client.disconnect();
      await server.close();
      await redis.stop();
      await rm(secretsDir, { recursive: true, force: true });
    },
  };
}

/** POSTs a JSON body to the gateway with a bearer token; returns status and parsed JSON. */
export async function post(
  url: string,
  path: string,
  body: unknown,
  token: string | undefined,
  headers: Record<string, string> = {},
): Promise<{ status: number; json: unknown; text: string; headers: Headers }> {
  const response = await fetch(`${url}${path}`, {
    method: "POST",
    headers: {
      "content-type": "application/json",
      ...(token !== undefined ? { authorization: `Bearer ${token}` } : {}),
      ...headers,
    },
    body: typeof body === "string" ? body : JSON.stringify(body),
  });
  const text = await response.text();
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    json = undefined;
  }
  return { status: response.status, json, text, headers: response.headers };
}
