// Shared assertions for the testkit tests: a redis-server we started must really be gone.
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";

function isGone(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "ESRCH") return true;
    throw error;
  }
  // Orphans of a child process linger as zombies until PID 1 reaps them: they are not running.
  try {
    return /^State:\s+Z/m.test(readFileSync(`/proc/${pid}/status`, "utf8"));
  } catch {
    return true;
  }
}

/** Asserts `process.kill(pid, 0)` throws ESRCH right now (our own children are reaped on exit). */
export function assertProcessGone(pid: number | undefined): void {
  assert.ok(pid !== undefined, "expected a pid");
  assert.throws(() => process.kill(pid, 0), { code: "ESRCH" }, `redis-server pid ${pid} is still running`);
}

/** Waits (up to `ms`) until a process that was not our child has exited. */
export async function assertProcessGoneSoon(pid: number, ms = 5_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!isGone(pid)) {
    if (Date.now() > deadline) assert.fail(`redis-server pid ${pid} is still running after ${ms} ms`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}
