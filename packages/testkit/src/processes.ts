// Module-level bookkeeping of everything this process started, so nothing outlives the test run:
// `stopAll()` stops servers and clusters gracefully, an `exit` hook SIGKILLs leftover redis-server
// processes synchronously and removes their temp dirs, and SIGINT/SIGTERM stop everything, then exit.
import type { ChildProcess } from "node:child_process";
import { rmSync } from "node:fs";

export interface Stoppable {
  stop(): Promise<void>;
}

const children = new Set<ChildProcess>();
const tempDirs = new Set<string>();
/** Clusters are stopped before plain servers so their clients close before the nodes go away. */
const groups = new Set<Stoppable>();
const servers = new Set<Stoppable>();

const SIGNAL_EXIT_CODES = { SIGINT: 130, SIGTERM: 143 } as const;
const SIGNAL_STOP_BUDGET_MS = 5_000;
let hooksInstalled = false;

function killLeftoversSync(): void {
  for (const child of children) {
    if (child.exitCode !== null || child.signalCode !== null) continue;
    try {
      child.kill("SIGKILL");
    } catch {
      // already gone
    }
  }
  for (const dir of tempDirs) {
    try {
      rmSync(dir, { recursive: true, force: true });
    } catch {
      // best effort
    }
  }
}

function installHooks(): void {
  if (hooksInstalled) return;
  hooksInstalled = true;
  process.on("exit", killLeftoversSync);
  for (const signal of Object.keys(SIGNAL_EXIT_CODES) as Array<keyof typeof SIGNAL_EXIT_CODES>) {
    process.once(signal, () => {
      const budget = new Promise((resolve) => setTimeout(resolve, SIGNAL_STOP_BUDGET_MS));
      void Promise.race([stopAll(), budget]).finally(() => process.exit(SIGNAL_EXIT_CODES[signal]));
    });
  }
}

export function trackChild(child: ChildProcess): void {
  installHooks();
  children.add(child);
  child.once("exit", () => children.delete(child));
}

export function trackTempDir(dir: string): void {
  installHooks();
  tempDirs.add(dir);
}

export function untrackTempDir(dir: string): void {
  tempDirs.delete(dir);
}

export function trackServer(server: Stoppable): void {
  installHooks();
  servers.add(server);
}

export function untrackServer(server: Stoppable): void {
  servers.delete(server);
}

export function trackGroup(group: Stoppable): void {
  installHooks();
  groups.add(group);
}

export function untrackGroup(group: Stoppable): void {
  groups.delete(group);
}

/** Number of redis-server processes started by this process that are still running. */
export function runningProcessCount(): number {
  return [...children].filter((child) => child.exitCode === null && child.signalCode === null).length;
}

async function stopEach(items: Iterable<Stoppable>): Promise<unknown[]> {
  const results = await Promise.allSettled([...items].map((item) => item.stop()));
  return results.flatMap((result) => (result.status === "rejected" ? [result.reason] : []));
}

/** Stops every server and cluster started by this process (clusters first). Rejects if any stop failed. */
export async function stopAll(): Promise<void> {
  const errors = [...(await stopEach(groups)), ...(await stopEach(servers))];
  if (errors.length > 0) throw new AggregateError(errors, `stopAll: ${errors.length} stop(s) failed`);
}
