/**
 * `cacheplane gateway`: serves the Upstash-REST-compatible HTTP gateway (and its console) for the
 * services of a config, on 127.0.0.1 by default, until Ctrl-C. Each service's commands run as that
 * service's own Redis user (from its secret file), so the Redis ACL is the final guard. With
 * `--workers N` (default: the CPUs available) N processes share the port (gateway-workers.ts).
 */
import { readFile } from "node:fs/promises";
import { availableParallelism } from "node:os";
import { resolve } from "node:path";
import { issueGatewayTokens, startGatewayServer } from "@cacheplane/gateway";
import type { Command } from "commander";
import { loadConfig } from "../config-loader.js";
import { EXIT, UsageError } from "../errors.js";
import type { CommandContext } from "../io.js";
import { stopRequested } from "../stop-requested.js";
import { TARGET_ENV } from "../target-options.js";
import { type ActionFactory, DEFAULT_CONFIG_FILE } from "./action.js";
import { parsePort } from "./dev.js";
import { parseWorkers, startGatewayWorkers } from "./gateway-workers.js";

/** The line printed on stdout once the gateway listens (scripts and tests wait for it). */
export const GATEWAY_READY_LINE = "cacheplane gateway: ready";

/** Flags of `cacheplane gateway`. */
export interface GatewayFlags {
  config: string;
  target?: string;
  secretsDir: string;
  port: string;
  host: string;
  service?: string[];
  operatorTargetFile?: string;
  operatorTlsCa?: string;
  operatorInterval?: string;
  workers?: string;
}

/**
 * The operator view's admin (or observer) URLs from `--operator-target-file`: one or more
 * `redis[s]://user:password@host:port`, separated by whitespace or commas. A file, not a flag value:
 * a URL with a password on the command line would be visible to every user of the machine (`ps`).
 */
async function operatorOptions(flags: GatewayFlags, ctx: CommandContext) {
  if (flags.operatorTargetFile === undefined) {
    if (flags.operatorTlsCa !== undefined || flags.operatorInterval !== undefined)
      throw new UsageError("--operator-tls-ca and --operator-interval need --operator-target-file");
    return undefined;
  }
  const file = resolve(ctx.io.cwd, flags.operatorTargetFile);
  let text: string;
  try {
    text = await readFile(file, "utf8");
  } catch {
    throw new UsageError(`--operator-target-file ${flags.operatorTargetFile}: cannot read ${file}`);
  }
  const urls = text.split(/[\s,]+/).filter((s) => s.length > 0);
  for (const url of urls) {
    const password = /^rediss?:\/\/[^:/@]*:([^@]*)@/.exec(url)?.[1];
    if (password) ctx.redactor.add(decodeURIComponent(password));
  }
  if (urls.length === 0 || urls.some((url) => !/^rediss?:\/\/./.test(url))) {
    throw new UsageError(
      `--operator-target-file ${flags.operatorTargetFile} must hold redis://user:password@host:port URL(s) (rediss:// for TLS)`,
    );
  }
  let ca: string | undefined;
  if (flags.operatorTlsCa !== undefined) {
    const caFile = resolve(ctx.io.cwd, flags.operatorTlsCa);
    try {
      ca = await readFile(caFile, "utf8");
    } catch {
      throw new UsageError(`--operator-tls-ca ${flags.operatorTlsCa}: cannot read ${caFile}`);
    }
  }
  let intervalMs: number | undefined;
  if (flags.operatorInterval !== undefined) {
    const seconds = Number(flags.operatorInterval);
    if (!Number.isFinite(seconds) || seconds < 1)
      throw new UsageError(
        `--operator-interval ${flags.operatorInterval} must be a number of seconds, at least 1`,
      );
    intervalMs = seconds * 1000;
  }
  return {
    admin: { urls, ...(ca !== undefined ? { tls: { ca } } : {}) },
    ...(intervalMs !== undefined ? { intervalMs } : {}),
  };
}

function collect(value: string, previous: string[] = []): string[] {
  return [...previous, value];
}

/** Starts the gateway, prints its URL and token files (never the tokens), runs until stopped. */
export async function runGateway(flags: GatewayFlags, ctx: CommandContext): Promise<number> {
  const port = parsePort(flags.port) ?? 8080;
  const workers = parseWorkers(flags.workers);
  const config = await loadConfig(flags.config, ctx.io.cwd);
  const target = flags.target ?? ctx.io.env[TARGET_ENV]?.split(/[\s,]+/).find((s) => s.length > 0);
  if (target !== undefined && !/^rediss?:\/\//.test(target)) {
    throw new UsageError("--target must be a redis:// or rediss:// URL (its credentials are not used)");
  }
  if (target !== undefined) {
    const password = /^rediss?:\/\/[^:/@]*:([^@]*)@/.exec(target)?.[1];
    if (password) ctx.redactor.add(decodeURIComponent(password));
  }
  const operator = await operatorOptions(flags, ctx);
  if (workers > 1) return runWorkers(workers, flags, ctx, { port, target, operator });
  const stop = stopRequested(ctx);
  try {
    const server = await startGatewayServer({
      config,
      secretsDir: resolve(ctx.io.cwd, flags.secretsDir),
      host: flags.host,
      port,
      ...(target !== undefined ? { target } : {}),
      ...(flags.service && flags.service.length > 0 ? { only: flags.service } : {}),
      ...(operator ? { operator } : {}),
    });
    printServing(ctx, server.url, server.tokenFiles, server.adminTokenFile);
    ctx.out(GATEWAY_READY_LINE);
    const reason = await stop.promise;
    ctx.log(`cacheplane gateway: ${reason}, stopping`);
    await server.close();
    return EXIT.ok;
  } finally {
    stop.dispose();
  }
}

/** Prints the URL and the token files (never the tokens), as both modes do. */
function printServing(
  ctx: CommandContext,
  url: string,
  tokenFiles: Record<string, string>,
  adminTokenFile: string | undefined,
): void {
  ctx.out(`Gateway (Upstash REST) on ${url}   console: ${url}/console`);
  for (const [service, file] of Object.entries(tokenFiles).sort(([a], [b]) => a.localeCompare(b))) {
    ctx.out(`  ${service}  tokens in ${file} (readWrite, readOnly, namespacedReadWrite, namespacedReadOnly)`);
  }
  if (adminTokenFile !== undefined) {
    ctx.out(`Operator view: ${url}/operator/   admin token in ${adminTokenFile}`);
  }
}

/** `--workers N` (N > 1): tokens issued here once, N worker processes serve (gateway-workers.ts). */
async function runWorkers(
  count: number,
  flags: GatewayFlags,
  ctx: CommandContext,
  resolved: {
    port: number;
    target: string | undefined;
    operator: Awaited<ReturnType<typeof operatorOptions>>;
  },
): Promise<number> {
  const { port, target, operator } = resolved;
  const secretsDir = resolve(ctx.io.cwd, flags.secretsDir);
  const only = flags.service && flags.service.length > 0 ? flags.service : undefined;
  const config = await loadConfig(flags.config, ctx.io.cwd);
  const issued = await issueGatewayTokens({
    config,
    secretsDir,
    ...(target !== undefined ? { target } : {}),
    ...(only !== undefined ? { only } : {}),
    operator: operator !== undefined,
  });
  const stop = stopRequested(ctx);
  try {
    const workers = await startGatewayWorkers(
      count,
      {
        configPath: resolve(ctx.io.cwd, flags.config),
        cwd: ctx.io.cwd,
        secretsDir,
        host: flags.host,
        port,
        ...(target !== undefined ? { target } : {}),
        ...(only !== undefined ? { only } : {}),
        ...(operator !== undefined ? { operator } : {}),
      },
      ctx,
    );
    printServing(ctx, workers.url, issued.tokenFiles, issued.adminTokenFile);
    ctx.out(
      `Workers: ${count} processes (node:cluster; each counts its own operator-view traffic and /subscribe streams)`,
    );
    ctx.out(GATEWAY_READY_LINE);
    const reason = await stop.promise;
    ctx.log(`cacheplane gateway: ${reason}, draining ${count} workers`);
    await workers.stop();
    return EXIT.ok;
  } finally {
    stop.dispose();
  }
}

/** Registers `gateway` on the program. */
export function registerGateway(program: Command, action: ActionFactory): void {
  program
    .command("gateway")
    .description("serve Redis over HTTP (Upstash REST protocol) with per-service tokens, plus /console")
    .option("--config <file>", "platform config file", DEFAULT_CONFIG_FILE)
    .requiredOption("--secrets-dir <dir>", "directory of the service secret files (tokens are issued here)")
    .option(
      "--target <redis-url>",
      `Redis to connect to instead of the secrets' host/port (credentials ignored; default: $${TARGET_ENV})`,
    )
    .option("--port <port>", "port to listen on", "8080")
    .option("--host <host>", "interface to listen on", "127.0.0.1")
    .option("--service <name>", "serve only this service (repeatable)", collect)
    .option(
      "--operator-target-file <file>",
      "serve the operator view at /operator/, sampling Redis with the admin or observer URL(s) in this file",
    )
    .option("--operator-tls-ca <file>", "PEM CA for a rediss:// operator target")
    .option("--operator-interval <seconds>", "seconds between two operator-view samples (default 30)")
    .option(
      "--workers <n>",
      "gateway processes sharing the port (node:cluster; 1: a single process)",
      String(availableParallelism()),
    )
    .action(action(runGateway));
}
