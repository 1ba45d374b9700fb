// A gateway with the operator view, next to a test fixture: an observer Redis user with the rules of
// docs/operations.md (no values, no writes, no CONFIG), and a real gateway server sampling with it.
import { readFile } from "node:fs/promises";
import { randomPassword } from "@cacheplane/testkit";
import type { GatewayLogEntry } from "../../src/gateway-options.js";
import { type GatewayServer, startGatewayServer } from "../../src/node-server.js";
import { OBSERVER_RULES } from "../../src/operator-view/sampler.js";
import type { OperatorOptions } from "../../src/operator-view/view.js";
import type { Fixture } from "./fixture.js";

export interface OperatorGateway {
  server: GatewayServer;
  url: string;
  adminToken: string;
  observer: { username: string; password: string; url: string };
  logs: GatewayLogEntry[];
  close(): Promise<void>;
}

/** Creates the observer user on the fixture's server and starts a gateway with the operator view. */
export async function startOperatorGateway(
  fx: Fixture,
  operator: Partial<OperatorOptions> = {},
): Promise<OperatorGateway> {
  const username = "cacheplane-observer";
  const password = randomPassword();
  const admin = fx.redis.client();
  try {
    await admin.call("ACL", "SETUSER", username, "reset", "on", `>${password}`, ...OBSERVER_RULES);
  } finally {
    admin.disconnect();
  }
  const url = `redis://${username}:${encodeURIComponent(password)}@${fx.redis.host}:${fx.redis.port}`;
  const logs: GatewayLogEntry[] = [];
  const server = await startGatewayServer({
    config: fx.config,
    secretsDir: fx.secretsDir,
    port: 0,
    tokenRefreshIntervalMs: 0,
    logger: (entry) => logs.push(entry),
    operator: { admin: { urls: [url] }, intervalMs: 150, stepPauseMs: 0, scanCount: 20, ...operator },
  });
  const { admin: adminToken } = JSON.parse(await readFile(server.adminTokenFile!, "utf8")) as {
    admin: string;
  };
  return {
    server,
    url: server.url,
    adminToken,
    observer: { username, password, url },
    logs,
    close: () => server.close(),
  };
}

/** The operator view's JSON with `token`. */
export async function operatorState(
  url: string,
  token: string | undefined,
): Promise<{ status: number; json: Record<string, unknown> | undefined; text: string; headers: Headers }> {
  const response = await fetch(`${url}/operator/api/state`, {
    headers: token === undefined ? {} : { authorization: `Bearer ${token}` },
  });
  const text = await response.text();
  let json: Record<string, unknown> | undefined;
  try {
    json = JSON.parse(text) as Record<string, unknown>;
  } catch {
    json = undefined;
  }
  return { status: response.status, json, text, headers: response.headers };
}
