/**
 * `cacheplane gateway --workers N` (docs/decisions/0021): N gateway processes behind one port with
 * `node:cluster`. The primary process issues the tokens (once), forks the workers, restarts a worker
 * that dies (with a backoff), and on Ctrl-C / SIGTERM tells every worker to drain: stop accepting,
 * finish the requests in flight (at most the gateway's request deadline plus a second), then close.
 * Each worker is a whole gateway (tokens, policy, limits, its own Redis connections); what a worker
 * counts (the operator view's traffic, `/subscribe` streams per service) is its own.
 *
 * Workers run `bin/cacheplane.js` with {@link WORKER_ENV} set; they receive their options over the
 * IPC channel (the Redis URLs of the operator view hold passwords: never on a command line) and send
 * their output through the primary, which redacts it as it redacts its own.
 */
import cluster, { type Worker } from "node:cluster";
import type { ServerResponse } from "node:http";
import { availableParallelism } from "node:os";
import { fileURLToPath } from "node:url";
import { type GatewayServer, type OperatorOptions, startGatewayServer } from "@cacheplane/gateway";
import { loadConfig } from "../config-loader.js";
import { CliError, EXIT, UsageError } from "../errors.js";
import type { CommandContext } from "../io.js";
import { STOP_SIGNALS } from "../stop-requested.js";

/** Set in a worker's environment: `bin/cacheplane.js` then runs {@link runGatewayWorker}. */
export const WORKER_ENV = "CACHEPLANE_GATEWAY_WORKER";
/** Most workers accepted by `--workers`. */
export const MAX_WORKERS = 256;
/** The gateway's default request deadline (`timeoutMs`): what a drain waits for, plus a second. */
const DRAIN_MS = 5000 + 1000;
/** Restart backoff after a worker died: 100 ms, doubling per crash in the last minute, at most 10 s. */
const RESTART_BASE_MS = 100;
const RESTART_MAX_MS = 10_000;
const CRASH_WINDOW_MS = 60_000;

/** What a worker needs to start its gateway (paths absolute). */
export interface WorkerStart {
  configPath: string;
  cwd: string;
  secretsDir: string;
  host: string;
  port: number;
  target?: string;
  only?: string[];
  operator?: OperatorOptions;
}

type ToWorker = ({ type: "start" } & WorkerStart) | { type: "stop" };
type FromWorker =
  | { type: "waiting" }
  | { type: "listening"; url: string }
  | { type: "failed"; message: string };

/** `--workers`: a whole number from 1 to {@link MAX_WORKERS}; default: the CPUs this process may use. */
export function parseWorkers(value: string | undefined): number {
  if (value === undefined) return availableParallelism();
  const workers = Number(value);
  if (!Number.isInteger(workers) || workers < 1 || workers > MAX_WORKERS) {
    throw new UsageError(
      `--workers ${value} must be a whole number from 1 to ${MAX_WORKERS} (1: one process, no cluster)`,
    );
  }
  return workers;
}

/** Restart delay after `recentCrashes` crashes within the last minute. */
export function restartDelayMs(recentCrashes: number): number {
  return Math.min(RESTART_BASE_MS * 2 ** Math.max(0, recentCrashes - 1), RESTART_MAX_MS);
}

/** Forwards a worker's output line by line through the (redacting) context. */
function forwardOutput(worker: Worker, ctx: CommandContext): void {
  const forward = (stream: NodeJS.ReadableStream | null | undefined, write: (line: string) => void) => {
    if (!stream) return;
    let pending = "";
    stream.setEncoding("utf8");
    stream.on("data", (chunk: string) => {
      pending += chunk;
      const lines = pending.split("\n");
      pending = lines.pop() ?? "";
      for (const line of lines) write(line);
    });
    stream.on("end", () => {
      if (pending) write(pending);
    });
  };
  forward(worker.process.stdout, (line) => ctx.out(line));
  forward(worker.process.stderr, (line) => ctx.log(line));
}

function send(worker: Worker, message: ToWorker): void {
  if (worker.isConnected()) worker.send(message);
}

/** The running workers of one `cacheplane gateway --workers N`. */
export interface GatewayWorkers {
  /** The URL the workers serve (they share the port). */
  url: string;
  /** Process ids of the workers running now. */
  pids(): number[];
  /** Drains and stops every worker; resolves once all have exited. */
  stop(): Promise<void>;
}

/**
 * Forks `count` workers serving `start`; resolves once all of them listen. A worker that fails to
 * start fails the whole start (the others are stopped); a worker that dies later is restarted.
 */
export async function startGatewayWorkers(
  count: number,
  start: WorkerStart,
  ctx: CommandContext,
): Promise<GatewayWorkers> {
  const exec = fileURLToPath(new URL("../../bin/cacheplane.js", import.meta.url));
  cluster.setupPrimary({ exec, args: [], silent: true });
  const running = new Set<Worker>();
  const crashes: number[] = [];
  const restarts = new Set<NodeJS.Timeout>();
  let stopping = false;
  let started = false;

  const fork = (): Promise<string> => {
    const worker = cluster.fork({ [WORKER_ENV]: "1" });
    running.add(worker);
    forwardOutput(worker, ctx);
    return new Promise<string>((resolve, reject) => {
      worker.on("message", (message: FromWorker) => {
        // Sent once the worker listens for it (a message sent earlier would be lost).
        if (message?.type === "waiting") send(worker, { type: "start", ...start });
        else if (message?.type === "listening") resolve(message.url);
        else if (message?.type === "failed") reject(new CliError(message.message, EXIT.failure));
      });
      worker.once("exit", (code, signal) => {
        running.delete(worker);
        reject(new CliError(`gateway worker exited (${signal ?? `code ${code}`}) before listening`));
        if (!started || stopping) return;
        const now = Date.now();
        crashes.push(now);
        while (crashes.length > 0 && crashes[0]! < now - CRASH_WINDOW_MS) crashes.shift();
        const delay = restartDelayMs(crashes.length);
        ctx.log(
          `cacheplane gateway: worker ${worker.process.pid} exited (${signal ?? `code ${code}`}); restarting it in ${delay} ms`,
        );
        const timer = setTimeout(() => {
          restarts.delete(timer);
          if (!stopping) fork().catch(() => undefined); // its own exit schedules the next attempt
        }, delay);
        restarts.add(timer);
      });
    });
  };

  const stop = async () => {
    stopping = true;
    for (const timer of restarts) clearTimeout(timer);
    restarts.clear();
    const exits = [...running].map(
      (worker) =>
        new Promise<void>((resolve) => {
          if (worker.isDead()) return resolve();
          worker.once("exit", () => resolve());
          send(worker, { type: "stop" });
        }),
    );
    const bound = setTimeout(() => {
      for (const worker of running) worker.process.kill("SIGKILL");
    }, DRAIN_MS + 5000);
    await Promise.all(exits);
    clearTimeout(bound);
  };

  let urls: string[];
  try {
    urls = await Promise.all(Array.from({ length: count }, fork));
  } catch (error) {
    await stop();
    throw error;
  }
  started = true;
  return { url: urls[0]!, pids: () => [...running].map((w) => w.process.pid!), stop };
}

function reply(message: FromWorker): void {
  if (process.connected) process.send?.(message);
}

/** Asks the primary for the start options and waits for them. */
function startMessage(): Promise<WorkerStart> {
  return new Promise((resolve) => {
    const onMessage = (message: ToWorker) => {
      if (message?.type !== "start") return;
      process.off("message", onMessage);
      const { type: _type, ...start } = message;
      resolve(start);
    };
    process.on("message", onMessage);
    reply({ type: "waiting" });
  });
}

/**
 * Stops `server` gracefully: no new connections, the requests in flight answered (streams excepted:
 * closing the gateway ends them), idle keep-alive connections closed, at most `boundMs`; then the
 * gateway and its Redis connections close.
 */
async function drain(server: GatewayServer, inFlight: Set<ServerResponse>, boundMs: number): Promise<void> {
  server.server.close();
  const until = Date.now() + boundMs;
  const busy = () =>
    [...inFlight].some((res) => !String(res.getHeader("content-type") ?? "").startsWith("text/event-stream"));
  while (busy() && Date.now() < until) {
    server.server.closeIdleConnections();
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  await server.close();
}

/** A worker process: serves the gateway the primary describes until it is told to stop (or orphaned). */
export async function runGatewayWorker(): Promise<number> {
  // Ctrl-C reaches every process of the terminal's group: the primary decides when workers stop.
  for (const signal of STOP_SIGNALS) process.on(signal, () => undefined);
  const start = await startMessage();
  let server: GatewayServer;
  try {
    const config = await loadConfig(start.configPath, start.cwd);
    server = await startGatewayServer({
      config,
      secretsDir: start.secretsDir,
      host: start.host,
      port: start.port,
      issueTokens: false,
      ...(start.target !== undefined ? { target: start.target } : {}),
      ...(start.only !== undefined ? { only: start.only } : {}),
      ...(start.operator !== undefined ? { operator: start.operator } : {}),
    });
  } catch (error) {
    reply({ type: "failed", message: error instanceof Error ? error.message : String(error) });
    return EXIT.failure;
  }
  const inFlight = new Set<ServerResponse>();
  server.server.on("request", (_req, res: ServerResponse) => {
    inFlight.add(res);
    res.once("close", () => inFlight.delete(res));
  });
  reply({ type: "listening", url: server.url });
  await new Promise<void>((resolve) => {
    process.on("message", (message: ToWorker) => {
      if (message?.type === "stop") resolve();
    });
    process.once("disconnect", () => resolve()); // the primary is gone
  });
  await drain(server, inFlight, DRAIN_MS);
  return EXIT.ok;
}
