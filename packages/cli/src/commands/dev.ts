/** `cacheplane dev`: a whole local platform (redis-server with ACLs, services provisioned) until Ctrl-C. */
import type { Command } from "commander";
import { loadConfig } from "../config-loader.js";
import { formatDevInstructions } from "../dev/instructions.js";
import { startDevPlatform } from "../dev/platform.js";
import { CliError, EXIT, UsageError } from "../errors.js";
import type { CommandContext } from "../io.js";
import { stopRequested } from "../stop-requested.js";
import { type ActionFactory, DEFAULT_CONFIG_FILE } from "./action.js";
import { progressPrinter } from "./apply.js";

/** The line printed on stdout once everything is up (scripts and tests wait for it). */
export const DEV_READY_LINE = "cacheplane dev: ready";

/** Flags of `cacheplane dev`. */
export interface DevFlags {
  config: string;
  port?: string;
  dir: string;
  gatewayPort?: string;
  gateway: boolean;
}

/** Parses a `--port`-style flag; `undefined` when absent. */
export function parsePort(value: string | undefined, flag = "--port"): number | undefined {
  if (value === undefined) return undefined;
  const port = Number(value);
  if (!Number.isInteger(port) || port < 1 || port > 65535) {
    throw new UsageError(`${flag} ${value} is not a TCP port (1-65535)`);
  }
  return port;
}

/** Starts the platform, prints instructions and the ready line, and runs until asked to stop. */
export async function runDev(flags: DevFlags, ctx: CommandContext): Promise<number> {
  const port = parsePort(flags.port);
  const gatewayPort = flags.gateway === false ? false : (parsePort(flags.gatewayPort, "--gateway-port") ?? 0);
  const config = await loadConfig(flags.config, ctx.io.cwd);
  // Listen for Ctrl-C from the start, so an early one still stops the server cleanly.
  const stop = stopRequested(ctx);
  try {
    const progress = progressPrinter((text) => ctx.io.stderr(text));
    const platform = await startDevPlatform({
      config,
      dir: flags.dir,
      cwd: ctx.io.cwd,
      env: ctx.io.env,
      ...(port !== undefined ? { port } : {}),
      log: (line) => ctx.log(line),
      onProgress: (event) => progress.onProgress(event),
      onSecret: (secret) => ctx.redactor.add(secret),
      gatewayPort,
    });
    const changes = platform.applied.length;
    ctx.log(
      changes === 0
        ? "cacheplane dev: every service user was already in place (no changes)"
        : `cacheplane dev: applied ${changes} change${changes === 1 ? "" : "s"}`,
    );
    ctx.out(formatDevInstructions(config, platform, ctx.io.cwd));
    ctx.out(DEV_READY_LINE);

    const outcome = await Promise.race([
      stop.promise.then((reason) => ({ kind: "stop" as const, reason })),
      platform.exited.then((how) => ({ kind: "exited" as const, how })),
    ]);
    if (outcome.kind === "exited") {
      await platform.stop();
      throw new CliError(
        `redis-server (pid ${platform.redisPid}) exited unexpectedly (${outcome.how.signal ?? `code ${outcome.how.code}`}); see ${platform.logFile}`,
      );
    }
    ctx.log(`cacheplane dev: ${outcome.reason}, stopping redis-server (pid ${platform.redisPid})`);
    await platform.stop();
    ctx.log(`cacheplane dev: stopped; state kept in ${platform.dir}`);
    return EXIT.ok;
  } finally {
    stop.dispose();
  }
}

/** Registers `dev` on the program. */
export function registerDev(program: Command, action: ActionFactory): void {
  program
    .command("dev")
    .description("run a local platform: redis-server with ACLs and every service provisioned, until Ctrl-C")
    .option("--config <file>", "platform config file", DEFAULT_CONFIG_FILE)
    .option("--port <port>", "redis-server port (default: last run's, else a free one)")
    .option("--dir <dir>", "state directory: admin password, secrets, ACL file, log", ".cacheplane")
    .option("--gateway-port <port>", "HTTP gateway port (default: a free one)")
    .option("--no-gateway", "do not start the HTTP gateway")
    .action(action(runDev));
}
