/**
 * Starts the HTTP gateway (Upstash REST, console at /console, operator view at /operator) next to the
 * dev platform's redis-server. Tokens are issued into the secrets directory (`<service>.token.json`,
 * `.gateway-admin-token.json`); the instructions name the files and how to read them, never the
 * tokens themselves. The operator view samples with the dev server's admin user (local only).
 */
import { join, relative } from "node:path";
import type { PlatformConfig, ResolvedService } from "@cacheplane/core";
import { startGatewayServer } from "@cacheplane/gateway";
import { fieldFromFile, shellWord } from "./shell-quote.js";

/** Time between two operator-view samples under `cacheplane dev`. */
export const DEV_OPERATOR_INTERVAL_MS = 5000;

/** What the gateway needs to serve the dev platform. */
export interface DevGatewayContext {
  config: PlatformConfig;
  /** The local server. */
  redis: { host: string; port: number };
  /** Admin URL of the local server (`redis://admin:...@127.0.0.1:port`), for the operator view's sampling. */
  adminUrl?: string;
  /** Service name -> secret file path. */
  secrets: Record<string, string>;
  /** The dev directory (secrets live in `<dir>/secrets`). */
  dir: string;
  /** Gateway port; 0 picks a free one. */
  port?: number;
  /** Working directory, to print short paths. */
  cwd?: string;
  /** Writes a progress line to stderr. */
  log(line: string): void;
}

/** A running gateway. */
export interface DevGateway {
  /** Base URL, e.g. `http://127.0.0.1:8080`; the console is at `<url>/console`. */
  url: string;
  /** Lines to print with the dev instructions (tokens as file paths, never their values). */
  instructions: string[];
  stop(): Promise<void>;
}

/**
 * A `curl` command that works when pasted: a SET with the read-write token of the first service whose
 * access is `read-write`, else a GET with the read-only token of the first `read-only` one (a
 * read-only service's user may not write). Undefined when no service has a preset access level.
 */
export function curlExample(
  config: PlatformConfig,
  url: string,
  tokenFiles: Record<string, string>,
): string | undefined {
  const served = config.services
    .filter((s) => tokenFiles[s.name] !== undefined)
    .sort((a, b) => a.name.localeCompare(b.name));
  const pick = (access: string): ResolvedService | undefined => served.find((s) => s.access === access);
  const writer = pick("read-write");
  const reader = writer ? undefined : pick("read-only");
  const service = writer ?? reader;
  if (!service) return undefined;
  const path = writer ? `/set/${service.keyspace}:hello/world` : `/get/${service.keyspace}:hello`;
  const token = fieldFromFile(tokenFiles[service.name]!, writer ? "readWrite" : "readOnly");
  return `curl -s ${shellWord(`${url}${path}`)} -H "Authorization: Bearer "${token}`;
}

/** Starts the gateway for the dev platform on 127.0.0.1. */
export async function startGatewayIfAvailable(context: DevGatewayContext): Promise<DevGateway | undefined> {
  const secretsDir = join(context.dir, "secrets");
  const server = await startGatewayServer({
    config: context.config,
    secretsDir,
    host: "127.0.0.1",
    port: context.port ?? 0,
    target: { host: context.redis.host, port: context.redis.port, tls: false },
    // A small local server: sampling every 5 s keeps the view lively at no noticeable cost.
    ...(context.adminUrl !== undefined
      ? { operator: { admin: { urls: [context.adminUrl] }, intervalMs: DEV_OPERATOR_INTERVAL_MS } }
      : {}),
  });
  context.log(`cacheplane dev: gateway on ${server.url}`);
  const show = (path: string) => (context.cwd ? relative(context.cwd, path) || path : path);
  const instructions: string[] = [];
  const first = Object.keys(server.tokenFiles).sort()[0];
  for (const [service, file] of Object.entries(server.tokenFiles).sort(([a], [b]) => a.localeCompare(b))) {
    instructions.push(
      `${service} tokens  ${show(file)}  (readWrite, readOnly; namespacedReadWrite, namespacedReadOnly: keys without the keyspace prefix)`,
    );
  }
  if (server.adminTokenFile !== undefined) {
    instructions.push(
      `operator view  ${server.url}/operator/  (paste the "admin" token of ${show(server.adminTokenFile)})`,
    );
  }
  const example = curlExample(context.config, server.url, server.tokenFiles);
  if (example !== undefined) instructions.push(`try  ${example}`);
  if (first !== undefined) {
    const file = server.tokenFiles[first]!;
    instructions.push(
      `@upstash/redis  UPSTASH_REDIS_REST_URL=${server.url} UPSTASH_REDIS_REST_TOKEN=${fieldFromFile(file, "readWrite")}`,
    );
  }
  return { url: server.url, instructions, stop: () => server.close() };
}
