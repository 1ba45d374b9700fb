/**
 * The two servers the gateway bench compares, in front of one redis-server (started by
 * @cacheplane/testkit on a free port, with an ACL service user):
 *
 * - the gateway (`startGatewayServer`, as `cacheplane gateway` runs it);
 * - the baseline: a bare node:http + ioredis server doing the work any such HTTP front of Redis must
 *   do per request, and nothing more: read the body, authenticate the bearer token (SHA-256, then
 *   `timingSafeEqual` against the stored hash), parse the command (JSON body or `/cmd/arg/...` path,
 *   percent-decoded), run it on ioredis, JSON-encode `{"result": ...}`. No policy, no logging, no
 *   binary-safe encoding. Its ioredis client is built with the gateway's own options
 *   (`redisOptionsFromSecret`), so socket settings, timeouts and auto-pipelining (off) are identical.
 *
 * Also used by `profile.ts` (CPU profiles of either server under load).
 */
import { hash, timingSafeEqual } from "node:crypto";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseConfig } from "@cacheplane/core";
import type { SecretPayload } from "@cacheplane/core/secret";
import { scriptLibrary } from "@cacheplane/core/server-scripts";
import { ensureServiceTokens, type GatewayServer, startGatewayServer } from "@cacheplane/gateway";
import { startRedis } from "@cacheplane/testkit";
import { Redis } from "ioredis";
import { redisOptionsFromSecret } from "../../packages/gateway/src/redis-connection.js";

const PASSWORD = "Bench-Gateway-Pw-1357924680";
const TIMEOUT_MS = 5000;

export interface BenchServers {
  gatewayUrl: string;
  baselineUrl: string;
  /** The read-write token of the bench service (the baseline accepts only this one too). */
  token: string;
  /** A direct client as the service user, for setting up data. */
  redis: Redis;
  gateway: GatewayServer;
  /** Requests each server has received so far (counted on its `request` event). */
  served: { gateway: number; baseline: number };
  close(): Promise<void>;
}

function listen(server: Server): Promise<string> {
  return new Promise((resolve) =>
    server.listen(0, "127.0.0.1", () =>
      resolve(`http://127.0.0.1:${(server.address() as AddressInfo).port}`),
    ),
  );
}

function send(res: ServerResponse, status: number, body: string): void {
  res.writeHead(status, { "content-type": "application/json", "content-length": Buffer.byteLength(body) });
  res.end(body);
}

/**
 * SHA-256 of a token: the cheapest way Node offers (one-shot `crypto.hash` with a text output,
 * decoded; a Buffer output is several times slower), as the gateway hashes tokens too.
 */
const sha256 = (text: string) => Buffer.from(hash("sha256", text, "base64"), "base64");

/** The baseline server (see the module comment). */
export function baselineServer(redis: Redis, tokenHash: Buffer): Server {
  const handle = async (req: IncomingMessage, res: ServerResponse, body: Buffer) => {
    const match = /^\s*bearer\s+(\S+)\s*$/i.exec(req.headers.authorization ?? "");
    const presented = match?.[1] !== undefined ? sha256(match[1]) : undefined;
    if (!presented || !timingSafeEqual(presented, tokenHash)) {
      send(res, 401, JSON.stringify({ error: "Unauthorized" }));
      return;
    }
    try {
      const path = req.url ?? "/";
      if (path === "/pipeline") {
        const commands = JSON.parse(body.toString("utf8")) as string[][];
        const batch = redis.pipeline();
        for (const [name, ...args] of commands) batch.call(name!, ...args);
        const results = (await batch.exec()) ?? [];
        send(
          res,
          200,
          JSON.stringify(results.map(([error, result]) => (error ? { error: error.message } : { result }))),
        );
        return;
      }
      const [name, ...args] =
        path === "/"
          ? (JSON.parse(body.toString("utf8")) as string[])
          : path.slice(1).split("/").map(decodeURIComponent);
      send(res, 200, JSON.stringify({ result: await redis.call(name!, ...args) }));
    } catch (error) {
      send(res, 400, JSON.stringify({ error: (error as Error).message }));
    }
  };
  return createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (chunk: Buffer) => chunks.push(chunk));
    req.on("end", () => void handle(req, res, Buffer.concat(chunks)));
  });
}

/** Starts redis-server, the gateway and the baseline. */
export async function startBenchServers(): Promise<BenchServers> {
  const server = await startRedis({ acl: true });
  const dir = mkdtempSync(join(tmpdir(), "cacheplane-bench-gateway-"));
  const config = parseConfig({
    stage: "bench",
    region: "local",
    services: [{ name: "bench", access: "read-write" }],
  });
  const service = config.services[0]!;
  const admin = server.client();
  await admin.call(
    "ACL",
    "SETUSER",
    service.userId,
    "reset",
    ...service.accessString.split(" "),
    `>${PASSWORD}`,
  );
  // As `cacheplane apply` does: the platform's script library on the server.
  await admin.call("FUNCTION", "LOAD", "REPLACE", scriptLibrary().code);
  admin.disconnect();
  const secret: SecretPayload = {
    host: server.host,
    port: server.port,
    username: service.userName,
    password: PASSWORD,
    keyspace: "bench",
    tls: false,
  };
  writeFileSync(join(dir, "bench.json"), JSON.stringify(secret), { mode: 0o600 });
  // As `cacheplane gateway` runs it: the default logger (5xx errors to stderr; the bench has none).
  const gateway = await startGatewayServer({ config, secretsDir: dir, port: 0, timeoutMs: TIMEOUT_MS });
  const { readWrite } = await ensureServiceTokens(dir, "bench");
  // The same ioredis options as the gateway's own connection to this service.
  const redis = new Redis(redisOptionsFromSecret(secret, { timeoutMs: TIMEOUT_MS }));
  await redis.connect();
  const baseline = baselineServer(redis, sha256(readWrite));
  const baselineUrl = await listen(baseline);
  const served = { gateway: 0, baseline: 0 };
  gateway.server.on("request", () => {
    served.gateway++;
  });
  baseline.on("request", () => {
    served.baseline++;
  });
  return {
    gatewayUrl: gateway.url,
    baselineUrl,
    token: readWrite,
    redis,
    gateway,
    served,
    async close() {
      await new Promise<void>((resolve) => {
        baseline.close(() => resolve());
        baseline.closeAllConnections();
      });
      redis.disconnect();
      await gateway.close();
      await server.stop();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
