/** Runs one autocannon measurement in a child process (`load.mjs`), off the measured server's process. */
import { spawn } from "node:child_process";
import { fileURLToPath } from "node:url";

/** The autocannon options the bench uses. */
export interface LoadOptions {
  url: string;
  connections: number;
  /** Seconds. */
  duration: number;
  method?: "GET" | "POST";
  headers?: Record<string, string>;
  body?: string;
  /** Fixed request rate over all connections (open loop), instead of as fast as possible. */
  overallRate?: number;
  warmup?: { connections: number; duration: number };
}

/** What `load.mjs` reports. Latencies in ms (autocannon records them with 1 ms resolution). */
export interface LoadResult {
  requests: { average: number; total: number };
  latency: { average: number; p50: number; p90: number; p99: number; max: number };
  duration: number;
  non2xx: number;
  errors: number;
  timeouts: number;
}

const script = fileURLToPath(new URL("./load.mjs", import.meta.url));

/** Runs autocannon with `options` in a child process; fails on any error or non-2xx answer. */
export function runLoad(options: LoadOptions): Promise<LoadResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [script, JSON.stringify(options)], {
      stdio: ["ignore", "pipe", "inherit"],
    });
    let out = "";
    child.stdout.setEncoding("utf8").on("data", (chunk: string) => {
      out += chunk;
    });
    child.once("error", reject);
    child.once("exit", (code) => {
      if (code !== 0) {
        reject(new Error(`load generator exited with ${code} for ${options.url}`));
        return;
      }
      const result = JSON.parse(out) as LoadResult;
      if (result.non2xx > 0 || result.errors > 0) {
        reject(new Error(`bench ${options.url}: ${result.non2xx} non-2xx answers, ${result.errors} errors`));
        return;
      }
      resolve(result);
    });
  });
}
