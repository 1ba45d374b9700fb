/** Running the dev redis-server process: spawn, wait until it answers, stop it (and never leak it). */
import { type ChildProcess, execFileSync, spawn } from "node:child_process";
import { closeSync, openSync, readFileSync, statSync } from "node:fs";
import { Redis } from "ioredis";
import { CliError } from "../errors.js";
import type { AdminCredentials } from "./dev-state.js";

/** A running redis-server. */
export interface RedisProcess {
  pid: number;
  port: number;
  /** Resolves when the process has exited, for whatever reason. */
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  /** SIGTERM, then SIGKILL after `graceMs`; resolves once the process is gone. Idempotent. */
  stop(graceMs?: number): Promise<void>;
}

/** What to start. */
export interface SpawnRedisOptions {
  bin: string;
  confFile: string;
  logFile: string;
  port: number;
  admin: AdminCredentials;
  /** How long the server may take to answer PING. @default 10000 */
  startTimeoutMs?: number;
}

/** The server refused to start because its port was taken (the caller may retry on another port). */
export class PortInUseError extends CliError {
  override readonly name = "PortInUseError";
}

/** `redis-server --version` as `7.0.15`, or `unknown`. */
export function redisServerVersion(bin: string): string {
  try {
    const text = execFileSync(bin, ["--version"], { encoding: "utf8", timeout: 10_000 });
    return /v=(\d+\.\d+\.\d+)/.exec(text)?.[1] ?? "unknown";
  } catch {
    return "unknown";
  }
}

/** The log written since `from` bytes, last `lines` lines. */
export function logTail(file: string, from = 0, lines = 15): string {
  try {
    const text = readFileSync(file, "utf8").slice(from);
    return text.trimEnd().split("\n").slice(-lines).join("\n");
  } catch {
    return "";
  }
}

function fileSize(file: string): number {
  try {
    return statSync(file).size;
  } catch {
    return 0;
  }
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** `process_id` and `config_file` of the server on `port`, asked as the dev admin; undefined if it does not answer. */
export async function serverIdentity(
  port: number,
  admin: AdminCredentials,
): Promise<{ pid: number; configFile: string } | undefined> {
  const client = new Redis({
    host: "127.0.0.1",
    port,
    username: admin.username,
    password: admin.password,
    lazyConnect: true,
    enableReadyCheck: false,
    maxRetriesPerRequest: 0,
    retryStrategy: () => null,
    connectTimeout: 1_000,
    commandTimeout: 1_000,
  });
  client.on("error", () => undefined);
  try {
    await client.connect();
    const info = await client.info("server");
    const pid = Number(/^process_id:(\d+)\s*$/m.exec(info)?.[1]);
    const configFile = /^config_file:(.*?)\s*$/m.exec(info)?.[1] ?? "";
    return Number.isInteger(pid) ? { pid, configFile } : undefined;
  } catch {
    return undefined;
  } finally {
    client.disconnect();
  }
}

/** True when the server on `port` answers as the admin and is process `pid`. */
async function answers(port: number, admin: AdminCredentials, pid: number): Promise<boolean> {
  return (await serverIdentity(port, admin))?.pid === pid;
}

/**
 * Spawns redis-server with `confFile` in its own process group (so a terminal Ctrl-C reaches only the
 * CLI, which then stops the server in order) and waits until it answers as the admin. The child is
 * SIGKILLed if this process exits without stopping it.
 * @throws PortInUseError when the port is taken; CliError with the log tail for any other failure.
 */
export async function spawnRedisServer(options: SpawnRedisOptions): Promise<RedisProcess> {
  const logStart = fileSize(options.logFile);
  const out = openSync(options.logFile, "a", 0o600);
  let child: ChildProcess;
  try {
    child = spawn(options.bin, [options.confFile], { stdio: ["ignore", out, out], detached: true });
  } finally {
    closeSync(out);
  }
  let done = false;
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => {
    child.once("exit", (code, signal) => {
      done = true;
      resolve({ code, signal });
    });
    child.once("error", () => {
      if (child.pid === undefined) {
        done = true;
        resolve({ code: null, signal: null });
      }
    });
  });
  const killOnExit = () => {
    if (!done) child.kill("SIGKILL");
  };
  process.on("exit", killOnExit);
  void exited.then(() => process.off("exit", killOnExit));

  let stopping: Promise<void> | undefined;
  const stop = (graceMs = 5_000): Promise<void> => {
    stopping ??= (async () => {
      if (done) return;
      child.kill("SIGTERM");
      let timer: NodeJS.Timeout | undefined;
      const timeout = new Promise<"timeout">((resolve) => {
        timer = setTimeout(() => resolve("timeout"), graceMs);
      });
      const outcome = await Promise.race([exited, timeout]);
      clearTimeout(timer);
      if (outcome === "timeout" && !done) {
        child.kill("SIGKILL");
        await exited;
      }
    })();
    return stopping;
  };

  const deadline = Date.now() + (options.startTimeoutMs ?? 10_000);
  while (!done && Date.now() < deadline) {
    if (child.pid !== undefined && (await answers(options.port, options.admin, child.pid))) {
      return { pid: child.pid, port: options.port, exited, stop };
    }
    await Promise.race([sleep(50), exited]);
  }
  if (!done) {
    await stop(0);
    throw new CliError(
      `redis-server did not answer on 127.0.0.1:${options.port} within ${options.startTimeoutMs ?? 10_000} ms; see ${options.logFile}`,
    );
  }
  const tail = logTail(options.logFile, logStart);
  if (/Address already in use/i.test(tail)) {
    throw new PortInUseError(`port ${options.port} on 127.0.0.1 is already in use`);
  }
  const last = tail
    .split("\n")
    .filter((l) => l.trim() !== "")
    .slice(-3)
    .join(" | ");
  throw new CliError(
    `redis-server exited during startup (${options.bin}): ${last || "no output"}; see ${options.logFile}`,
  );
}
