/**
 * The machine side of the benches: native tools from Debian's packages (installed when missing, as
 * `.ci/run` does for redis-server), CPU pinning with `taskset`, and CPU time of processes read from
 * /proc (Linux). Everything here degrades to a clear message instead of a wrong figure.
 */
import { spawnSync } from "node:child_process";
import { accessSync, constants, readdirSync, readFileSync } from "node:fs";
import { availableParallelism, loadavg } from "node:os";
import { delimiter, join } from "node:path";

/** The absolute path of `name` on PATH, else undefined. */
export function which(name: string): string | undefined {
  for (const dir of (process.env.PATH ?? "").split(delimiter)) {
    if (!dir) continue;
    const path = join(dir, name);
    try {
      accessSync(path, constants.X_OK);
      return path;
    } catch {}
  }
  return undefined;
}

export type Tool = { path: string } | { missing: string };

function aptGet(args: string[]): { ok: boolean; output: string } {
  const root = process.getuid?.() === 0;
  const sudo = !root && which("sudo") !== undefined;
  if (!root && !sudo) return { ok: false, output: "not root and no sudo" };
  const command = root ? "apt-get" : "sudo";
  const full = root ? args : ["-n", "apt-get", ...args];
  const out = spawnSync(command, full, {
    encoding: "utf8",
    env: { ...process.env, DEBIAN_FRONTEND: "noninteractive" },
    timeout: 300_000,
  });
  return { ok: out.status === 0, output: `${out.stdout ?? ""}${out.stderr ?? ""}`.trim() };
}

const installAttempts = new Map<string, Tool>();

/**
 * `binary` from PATH, or installs Debian's package `pkg` with apt-get (as root, or with
 * passwordless sudo) when it is missing and returns it. `BENCH_NO_INSTALL=1` turns installing off.
 * Never throws: a tool that cannot be had comes back as `{ missing: reason }` for a skip message.
 */
export function ensureDebianTool(binary: string, pkg: string): Tool {
  const found = which(binary);
  if (found) return { path: found };
  const cached = installAttempts.get(binary);
  if (cached) return cached;
  let result: Tool;
  if (process.env.BENCH_NO_INSTALL === "1") {
    result = {
      missing: `${binary} is not installed (BENCH_NO_INSTALL=1; install it: apt-get install -y ${pkg})`,
    };
  } else if (which("apt-get") === undefined) {
    result = { missing: `${binary} is not installed and apt-get is not available (install Debian's ${pkg})` };
  } else {
    console.error(`bench: ${binary} not found, installing Debian's ${pkg} (apt-get install -y ${pkg})`);
    let attempt = aptGet(["install", "-y", "-qq", pkg]);
    if (!attempt.ok) {
      // A fresh machine has no package lists yet.
      aptGet(["update", "-qq"]);
      attempt = aptGet(["install", "-y", "-qq", pkg]);
    }
    const path = which(binary);
    result = path
      ? { path }
      : {
          missing: `${binary} could not be installed with apt-get install -y ${pkg}: ${
            attempt.output.split("\n").slice(-3).join(" ").trim() || "no output"
          }`,
        };
  }
  installAttempts.set(binary, result);
  if ("missing" in result) console.error(`bench: ${result.missing}`);
  return result;
}

/** The version line of a tool (`wrk -v`, `redis-server --version`), for the results' metadata. */
export function toolVersion(path: string, args: string[]): string {
  const out = spawnSync(path, args, { encoding: "utf8", timeout: 10_000 });
  const text = `${out.stdout ?? ""}${out.stderr ?? ""}`.trim().split("\n")[0] ?? "";
  return text || "unknown";
}

/** Which CPUs each side of a bench runs on. Lists in taskset's syntax ("0", "1-3"); "" = unpinned. */
export interface CpuLayout {
  /** The load generator (wrk), the client bench's own process, the cold-start processes. */
  load: string;
  /** The HTTP servers under test (gateway, bare Node server, Webdis). */
  server: string;
  /** redis-server. */
  redis: string;
  /** How many CPUs the servers may use (Webdis threads, gateway workers are sized by it). */
  serverCpuCount: number;
  /** False when taskset is missing or the machine has one CPU. */
  pinned: boolean;
  /** One line for the results, e.g. "wrk on CPU 0; redis-server + server under test on CPU 1". */
  description: string;
}

/** "0-2,5" -> [0, 1, 2, 5] (taskset's list syntax). */
export function expandCpuList(list: string): number[] {
  const ids: number[] = [];
  for (const part of list.split(",")) {
    const [from, to] = part.split("-").map((n) => Number.parseInt(n, 10));
    if (from === undefined || !Number.isFinite(from)) continue;
    for (let id = from; id <= (to !== undefined && Number.isFinite(to) ? to : from); id++) ids.push(id);
  }
  return ids;
}

/**
 * The layout over the CPUs this process may use (`BENCH_PIN=0` turns pinning off):
 * - 1 CPU: nothing to separate, unpinned.
 * - 2 CPUs: the load generator alone on the first; redis-server and the server under test share
 *   the second (the same for every server, so they compete for one core on equal terms).
 * - 3 CPUs: load, redis-server, server under test on one CPU each.
 * - 4+ CPUs: load on the first quarter, redis-server on the next CPU, the server on the rest.
 */
export function cpuLayout(
  loadName = "load generator",
  serverName: string | null = "the server under test",
  allowed?: number[],
): CpuLayout {
  const tasksetOk = which("taskset") !== undefined;
  const ids = allowed ?? (tasksetOk ? expandCpuList(affinityOf(process.pid)) : []);
  const cpus = ids.length > 0 ? ids.length : availableParallelism();
  if (process.env.BENCH_PIN === "0" || cpus < 2 || !tasksetOk) {
    const why =
      process.env.BENCH_PIN === "0" ? "BENCH_PIN=0" : cpus < 2 ? "one CPU" : "taskset not installed";
    return {
      load: "",
      server: "",
      redis: "",
      serverCpuCount: cpus,
      pinned: false,
      description: `unpinned (${why}): ${loadName}, redis-server and servers share all ${cpus} CPUs`,
    };
  }
  const at = (from: number, to: number) => ids.slice(from, to).join(",");
  if (cpus === 2) {
    return {
      load: at(0, 1),
      server: at(1, 2),
      redis: at(1, 2),
      serverCpuCount: 1,
      pinned: true,
      description: `${loadName} alone on CPU ${at(0, 1)}; ${
        serverName
          ? `redis-server and ${serverName} share CPU ${at(1, 2)}`
          : `redis-server(s) on CPU ${at(1, 2)}`
      } (taskset)`,
    };
  }
  const loadCount = cpus === 3 ? 1 : Math.max(1, Math.floor(cpus / 4));
  const load = at(0, loadCount);
  const redis = at(loadCount, loadCount + 1);
  const server = at(loadCount + 1, cpus);
  return {
    load,
    server,
    redis,
    serverCpuCount: cpus - 1 - loadCount,
    pinned: true,
    description: `${loadName} on CPU ${load}; redis-server(s) on CPU ${redis}${
      serverName ? `; ${serverName} on CPU ${server}` : ""
    } (taskset)`,
  };
}

/** `[command, args]` that runs `command` on `cpus` (taskset execs it: the pid stays the command's). */
export function pinned(cpus: string, command: string, args: string[]): [string, string[]] {
  return cpus ? ["taskset", ["-c", cpus, command, ...args]] : [command, args];
}

/** Moves a running process and all its threads to `cpus`. */
export function pinProcess(pid: number, cpus: string): void {
  if (!cpus) return;
  const out = spawnSync("taskset", ["-a", "-p", "-c", cpus, String(pid)], { encoding: "utf8" });
  if (out.status !== 0) throw new Error(`taskset -a -p -c ${cpus} ${pid} failed: ${out.stderr.trim()}`);
}

/** The CPU list a process may run on now (taskset -c -p), e.g. "0,1". */
export function affinityOf(pid: number): string {
  const out = spawnSync("taskset", ["-c", "-p", String(pid)], { encoding: "utf8" });
  return /:\s*(\S+)\s*$/.exec(out.stdout.trim())?.[1] ?? "";
}

let clockTicks: number | undefined;
/** Kernel clock ticks per second (the unit of utime/stime in /proc/<pid>/stat). */
export function clockTicksPerSecond(): number {
  if (clockTicks === undefined) {
    const out = spawnSync("getconf", ["CLK_TCK"], { encoding: "utf8" });
    const n = Number(out.stdout?.trim());
    clockTicks = Number.isFinite(n) && n > 0 ? n : 100;
  }
  return clockTicks;
}

/** The fields of /proc/<pid>/stat the benches need; the command name may hold spaces and ")". */
export function parseProcStat(text: string): { pid: number; ppid: number; utime: number; stime: number } {
  const close = text.lastIndexOf(")");
  const pid = Number.parseInt(text, 10);
  // After "pid (comm) ": state is field 3, ppid 4, ..., utime 14, stime 15.
  const fields = text
    .slice(close + 2)
    .trim()
    .split(/\s+/);
  const ppid = Number(fields[1]);
  const utime = Number(fields[11]);
  const stime = Number(fields[12]);
  if (close < 0 || ![pid, ppid, utime, stime].every(Number.isFinite)) {
    throw new Error(`unexpected /proc/<pid>/stat line: ${text.slice(0, 120)}`);
  }
  return { pid, ppid, utime, stime };
}

function readStat(pid: number): ReturnType<typeof parseProcStat> | undefined {
  try {
    return parseProcStat(readFileSync(`/proc/${pid}/stat`, "utf8"));
  } catch {
    return undefined;
  }
}

/** The pids of `pid` and all its living descendants (a gateway's primary and its workers). */
export function processTree(pid: number): number[] {
  const children = new Map<number, number[]>();
  for (const name of readdirSync("/proc")) {
    if (!/^\d+$/.test(name)) continue;
    const stat = readStat(Number(name));
    if (!stat) continue;
    const list = children.get(stat.ppid) ?? [];
    list.push(stat.pid);
    children.set(stat.ppid, list);
  }
  const tree: number[] = [];
  const queue = [pid];
  while (queue.length > 0) {
    const next = queue.shift()!;
    tree.push(next);
    queue.push(...(children.get(next) ?? []));
  }
  return tree;
}

/**
 * CPU time (user + system, ms) used so far by `pid` and its living descendants, all threads.
 * Resolution: one clock tick (10 ms on most kernels); the benches divide seconds of CPU by tens
 * of thousands of requests, so a tick is well below the figures' noise.
 */
export function processTreeCpuMs(pid: number): number {
  const tick = 1000 / clockTicksPerSecond();
  let total = 0;
  for (const p of processTree(pid)) {
    const stat = readStat(p);
    if (stat) total += (stat.utime + stat.stime) * tick;
  }
  return total;
}

function cpuTimes(): { busy: number; total: number } {
  const line = readFileSync("/proc/stat", "utf8").split("\n")[0] ?? "";
  const values = line.trim().split(/\s+/).slice(1).map(Number);
  const idle = (values[3] ?? 0) + (values[4] ?? 0);
  const total = values.reduce((a, b) => a + b, 0);
  return { busy: total - idle, total };
}

/**
 * How busy the machine is before a suite starts: the share of all CPUs in use over `sampleMs`
 * (from /proc/stat), and the load averages. Goes into every result file as `environment`.
 */
export async function machineLoad(sampleMs = 2000): Promise<{ busyPercent: number; loadavg: number[] }> {
  try {
    const before = cpuTimes();
    await new Promise((resolve) => setTimeout(resolve, sampleMs));
    const after = cpuTimes();
    const busy = (after.busy - before.busy) / Math.max(1, after.total - before.total);
    return {
      busyPercent: Math.round(busy * 1000) / 10,
      loadavg: loadavg().map((n) => Math.round(n * 100) / 100),
    };
  } catch {
    return { busyPercent: Number.NaN, loadavg: loadavg() };
  }
}
