/**
 * Who a process is, in a form that can be written to a file and checked later by another process:
 * its PID, the host it runs on, and (on Linux) a start identity (boot id + start time in clock
 * ticks) so that a PID the kernel reused for a new process is not mistaken for the one recorded.
 * Lock files and `cacheplane dev`'s state file use it to tell a live owner from one that is gone.
 */
import { readFileSync } from "node:fs";
import { hostname } from "node:os";

/** A process as recorded by itself: enough to tell later whether it still runs. */
export interface ProcessRecord {
  pid: number;
  /** `os.hostname()` of the machine it ran on; a PID means nothing on another host. */
  host?: string;
  /** Boot id and start time (Linux), e.g. `aecb25c3-...:61128`; absent where unavailable. */
  start?: string;
}

/** What can be said about a recorded process from here. */
export type ProcessState = "running" | "gone" | "unknown";

let bootId: string | undefined | null = null;

function readBootId(): string | undefined {
  if (bootId === null) {
    try {
      bootId = readFileSync("/proc/sys/kernel/random/boot_id", "utf8").trim() || undefined;
    } catch {
      bootId = undefined;
    }
  }
  return bootId;
}

/**
 * The start identity of `pid`: boot id plus field 22 (`starttime`) of `/proc/<pid>/stat`, or undefined
 * where there is no `/proc` (macOS, Windows) or the process does not exist.
 */
export function processStartIdentity(pid: number): string | undefined {
  const boot = readBootId();
  if (boot === undefined) return undefined;
  let stat: string;
  try {
    stat = readFileSync(`/proc/${pid}/stat`, "utf8");
  } catch {
    return undefined;
  }
  // The command name (field 2) is in parentheses and may hold spaces: count fields after the last ")".
  const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  const startTime = fields[19]; // field 22; fields[0] is field 3 (state)
  return startTime && /^\d+$/.test(startTime) ? `${boot}:${startTime}` : undefined;
}

/** The record of the calling process. */
export function currentProcessRecord(): ProcessRecord {
  const record: ProcessRecord = { pid: process.pid, host: hostname() };
  const start = processStartIdentity(process.pid);
  if (start !== undefined) record.start = start;
  return record;
}

/** True when a process with this PID exists (or exists but belongs to another user). */
function pidExists(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === "EPERM";
  }
}

/**
 * Whether the recorded process still runs: `gone` when no process has its PID, or one does but
 * started at another time (the PID was reused); `running` when its PID exists on this host (with
 * the same start identity where one was recorded and can be read); `unknown` when it was recorded on
 * another host (the caller then falls back to something else, such as a file's age).
 */
export function processState(record: ProcessRecord): ProcessState {
  if (!Number.isInteger(record.pid) || record.pid <= 0) return "unknown";
  if (record.host !== undefined && record.host !== hostname()) return "unknown";
  if (!pidExists(record.pid)) return "gone";
  if (record.start !== undefined) {
    const now = processStartIdentity(record.pid);
    if (now !== undefined && now !== record.start) return "gone";
  }
  return "running";
}

/** Parses a record written by {@link currentProcessRecord} (JSON), or undefined when it is not one. */
export function parseProcessRecord(value: unknown): ProcessRecord | undefined {
  if (typeof value !== "object" || value === null) return undefined;
  const v = value as Record<string, unknown>;
  if (typeof v.pid !== "number" || !Number.isInteger(v.pid) || v.pid <= 0) return undefined;
  const record: ProcessRecord = { pid: v.pid };
  if (typeof v.host === "string") record.host = v.host;
  if (typeof v.start === "string") record.start = v.start;
  return record;
}
