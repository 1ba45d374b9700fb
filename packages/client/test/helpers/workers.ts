/**
 * Worker processes for multi-process tests: each runs a fixture with `node --import tsx`, says
 * "ready" once connected, waits for "go" on stdin, and prints one JSON line with its result.
 */
import { type ChildProcessWithoutNullStreams, spawn } from "node:child_process";

export interface Worker<R> {
  child: ChildProcessWithoutNullStreams;
  ready: Promise<void>;
  result: Promise<R>;
  go(): void;
}

export function startWorker<R>(script: string, env: Record<string, string>): Worker<R> {
  const child = spawn(process.execPath, ["--import", "tsx", script], {
    env: { ...process.env, ...env },
    stdio: ["pipe", "pipe", "pipe"],
  });
  let out = "";
  let err = "";
  let markReady: () => void = () => undefined;
  const ready = new Promise<void>((resolve) => {
    markReady = resolve;
  });
  child.stdout.on("data", (chunk: Buffer) => {
    out += chunk.toString();
    if (out.includes("ready\n")) markReady();
  });
  child.stderr.on("data", (chunk: Buffer) => {
    err += chunk.toString();
  });
  const result = new Promise<R>((resolve, reject) => {
    child.on("exit", (code) => {
      const line = out.split("\n").find((l) => l.startsWith("{"));
      if (code !== 0 || !line) reject(new Error(`worker exited ${code}: ${err.slice(-2000)}`));
      else resolve(JSON.parse(line) as R);
    });
  });
  return {
    child,
    ready: Promise.race([ready, result.then(() => undefined)]),
    result,
    go: () => child.stdin.write("go\n"),
  };
}

/** Starts `count` workers, waits until all are connected, starts them together, returns their results. */
export async function runWorkers<R>(script: string, envs: Record<string, string>[]): Promise<R[]> {
  const workers = envs.map((env) => startWorker<R>(script, env));
  try {
    await Promise.all(workers.map((w) => w.ready));
    for (const w of workers) w.go();
    return await Promise.all(workers.map((w) => w.result));
  } finally {
    for (const w of workers) if (w.child.exitCode === null) w.child.kill("SIGKILL");
  }
}
