/**
 * A redis-server that an earlier `cacheplane dev` on the same directory left running (the CLI was
 * killed, or its terminal closed before it learnt to stop on SIGHUP). `dev.json` records the server's
 * PID and start identity and the owning CLI process; when that owner is gone and the server is
 * verifiably the one started from this directory, a new `dev` stops it and starts afresh.
 */
import { readFileSync, readlinkSync } from "node:fs";
import { join } from "node:path";
import { processStartIdentity, processState } from "@cacheplane/gateway";
import { CliError } from "../errors.js";
import { type AdminCredentials, DEV_FILES, type DevState, isRunningRedisServer } from "./dev-state.js";
import { serverIdentity } from "./redis-process.js";

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** The parent PID of `pid` (Linux), or undefined. */
function parentPid(pid: number): number | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    const ppid = Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[1]);
    return Number.isInteger(ppid) ? ppid : undefined;
  } catch {
    return undefined;
  }
}

/** True when `pid` runs the `cacheplane` CLI (Linux: its command line), else false. */
function isCacheplaneProcess(pid: number): boolean {
  try {
    return /cacheplane/.test(readFileSync(`/proc/${pid}/cmdline`, "utf8"));
  } catch {
    return false;
  }
}

/**
 * Whether the `dev` that started the recorded server still runs: from the recorded owner, or (for a
 * `dev.json` written before owners were recorded) from the server's parent process on Linux.
 */
function ownerState(state: DevState, pid: number): "running" | "gone" | "unknown" {
  if (state.owner) return processState(state.owner);
  const parent = parentPid(pid);
  if (parent === undefined) return "unknown";
  return parent !== 1 && isCacheplaneProcess(parent) ? "running" : "gone";
}

/**
 * True when process `pid` is the redis-server started from `dir`: the same start identity as
 * recorded (where both are known), and either its own answer (`INFO server`: this PID and this
 * directory's `redis.conf`) or, when it does not answer, its working directory (redis-server changes
 * into its `dir`).
 */
async function startedFrom(
  dir: string,
  state: DevState,
  pid: number,
  admin: AdminCredentials,
): Promise<boolean> {
  const start = processStartIdentity(pid);
  if (state.redisStart !== undefined && start !== undefined && start !== state.redisStart) return false;
  if (state.port !== undefined) {
    const identity = await serverIdentity(state.port, admin);
    if (identity) return identity.pid === pid && identity.configFile === join(dir, DEV_FILES.conf);
  }
  try {
    return readlinkSync(`/proc/${pid}/cwd`) === dir;
  } catch {
    return false;
  }
}

/** SIGTERM, then SIGKILL after `graceMs`; resolves once the process no longer runs redis-server. */
async function stopProcess(pid: number, graceMs = 5_000): Promise<void> {
  const gone = async (ms: number) => {
    for (let waited = 0; waited <= ms; waited += 50) {
      if (!isRunningRedisServer(pid)) return true;
      await sleep(50);
    }
    return false;
  };
  try {
    process.kill(pid, "SIGTERM");
  } catch {
    return;
  }
  if (await gone(graceMs)) return;
  try {
    process.kill(pid, "SIGKILL");
  } catch {
    return;
  }
  if (!(await gone(graceMs))) throw new CliError(`redis-server (pid ${pid}) did not stop after SIGKILL`);
}

/**
 * Deals with a redis-server `dev.json` says is running: refuses while the `dev` that started it
 * still runs (or when that cannot be told, or the process is not verifiably this directory's
 * server); otherwise stops it so that this `dev` can start its own.
 * @throws CliError naming the PID, the port and what to do.
 */
export async function takeOverStaleServer(
  dir: string,
  state: DevState,
  admin: AdminCredentials,
  log: (line: string) => void,
): Promise<void> {
  const pid = state.pid;
  if (pid === undefined || !isRunningRedisServer(pid)) return;
  const refuse = (why: string) =>
    new CliError(
      `the redis-server of another \`cacheplane dev\` on ${dir} is still running (pid ${pid}, port ${state.port ?? "?"})${why}; stop that one (Ctrl-C, or \`kill ${pid}\`) or use another --dir`,
    );
  const owner = ownerState(state, pid);
  if (owner === "running") throw refuse("");
  if (owner === "unknown") throw refuse(" and it cannot be told whether its `cacheplane dev` is gone");
  if (!(await startedFrom(dir, state, pid, admin))) {
    throw refuse(", but it does not answer as the server started from this directory");
  }
  log(
    `cacheplane dev: the \`cacheplane dev\` that started redis-server (pid ${pid}) on ${dir} is gone; stopping that server to start afresh`,
  );
  await stopProcess(pid);
}
