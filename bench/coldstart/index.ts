/**
 * Bench suite `coldstart` (`npm run bench coldstart`): what a Lambda's first call pays, measured in
 * fresh Node processes (issue 10, item 4). Each process imports a bundle (esbuild, as deployed),
 * reads the secret from a file (REDIS_SECRET_FILE, mode 0600), connects over TLS to a local
 * TLS-only redis-server (testkit, its CA trusted through NODE_EXTRA_CA_CERTS, as a Lambda trusts a
 * public CA) as the service user, and runs its first GET:
 *
 * - `client-process.mjs`: @cacheplane/client, step by step (import, secret, createCache + connect,
 *   first get), and once more the lazy way a handler writes it (createCache(); await get());
 * - `raw-process.mjs`: ioredis alone doing the same with the client's connection settings.
 *
 * `BENCH_COLD_RUNS` (default 30) processes of each kind, interleaved (the order rotating), after 2
 * unrecorded warm-up rounds; medians and p90 of the in-process times (from the script's first line
 * to the first GET's answer; Node's own start-up is the same for both and reported separately).
 * Goal: client <= 1.1x raw ioredis (median and p90).
 */
import { spawn } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import type { SecretPayload } from "@cacheplane/core/secret";
import { startRedis } from "@cacheplane/testkit";
import { buildBundles } from "../lib/bundles.js";
import { comparison, type RatioGoal } from "../lib/rows.js";
import { benchService, createServiceUser } from "../lib/service-user.js";
import { fmt, median, quantile, rotation } from "../lib/stats.js";
import { cpuLayout, pinned, pinProcess } from "../lib/system.js";
import type { BenchRow, SuiteResult } from "../types.js";

const RUNS = Number(process.env.BENCH_COLD_RUNS ?? 30);
const WARMUP_RUNS = 2;
const KEY = "cold";
const GOAL: RatioGoal = { max: 1.1, source: "issue 10, item 4" };
const STEPS = ["import", "secret", "connect", "firstGet"] as const;

const CLIENT_SCRIPT = fileURLToPath(new URL("./client-process.mjs", import.meta.url));
const RAW_SCRIPT = fileURLToPath(new URL("./raw-process.mjs", import.meta.url));

/** What one process reports (ms); `wall` is measured here, from spawn to its JSON line. */
export interface ColdRun {
  import?: number;
  secret?: number;
  connect?: number;
  firstGet?: number;
  total: number;
  /** performance.now() at the script's first line: Node's start-up before the script ran. */
  bootstrap: number;
  wall: number;
}

type Kind = "client" | "lazy" | "raw";

function runOnce(script: string, env: NodeJS.ProcessEnv, cpus: string): Promise<ColdRun> {
  return new Promise((resolve, reject) => {
    const started = performance.now();
    const [command, args] = pinned(cpus, process.execPath, [script]);
    const child = spawn(command, args, { env, stdio: ["ignore", "pipe", "pipe"] });
    let out = "";
    let err = "";
    let wall: number | undefined;
    child.stdout.setEncoding("utf8").on("data", (chunk: string) => {
      out += chunk;
      if (wall === undefined && out.includes("\n")) wall = performance.now() - started;
    });
    child.stderr.setEncoding("utf8").on("data", (chunk: string) => {
      err += chunk;
    });
    child.once("error", reject);
    child.once("close", (code) => {
      if (code !== 0 || wall === undefined) {
        reject(new Error(`${script} exited with ${code}: ${err.trim().slice(-1000) || out.trim()}`));
        return;
      }
      resolve({ ...(JSON.parse(out.trim().split("\n")[0]!) as Omit<ColdRun, "wall">), wall });
    });
  });
}

const p90 = (values: number[]) => quantile(values, 0.9);

export async function run(): Promise<SuiteResult> {
  const layout = cpuLayout("the fresh client/raw processes", null);
  const dir = mkdtempSync(join(tmpdir(), "cacheplane-bench-coldstart-"));
  const bundles = await buildBundles("coldstart");
  const server = await startRedis({ acl: true, tls: true });
  try {
    if (server.pid !== undefined) pinProcess(server.pid, layout.redis);
    const { service } = benchService();
    const password = `Bench-Cold-${Math.random().toString(36).slice(2)}-Pw1`;
    await createServiceUser(server, service, password);
    const secret: SecretPayload = {
      host: server.host,
      port: server.port,
      username: service.userName,
      password,
      keyspace: service.keyspace,
      tls: true,
    };
    const secretFile = join(dir, "redis-secret.json");
    writeFileSync(secretFile, JSON.stringify(secret), { mode: 0o600 });
    const caFile = join(dir, "ca.pem");
    writeFileSync(caFile, server.tls!.ca);
    const admin = server.client();
    await admin.set(`${service.keyspace}:${KEY}`, JSON.stringify({ cold: true, note: "first get" }));
    admin.disconnect();

    const base: NodeJS.ProcessEnv = {
      ...process.env,
      REDIS_SECRET_FILE: secretFile,
      NODE_EXTRA_CA_CERTS: caFile,
      BENCH_KEY: KEY,
    };
    // Keep the measured processes free of the bench's own loaders and options.
    delete base.NODE_OPTIONS;
    const envs: Record<Kind, NodeJS.ProcessEnv> = {
      client: { ...base, BENCH_BUNDLE: bundles.client, BENCH_MODE: "steps" },
      lazy: { ...base, BENCH_BUNDLE: bundles.client, BENCH_MODE: "lazy" },
      raw: { ...base, BENCH_BUNDLE: bundles.ioredis },
    };
    const scripts: Record<Kind, string> = { client: CLIENT_SCRIPT, lazy: CLIENT_SCRIPT, raw: RAW_SCRIPT };
    const kinds: Kind[] = ["client", "raw", "lazy"];
    const runs: Record<Kind, ColdRun[]> = { client: [], lazy: [], raw: [] };
    for (let i = 0; i < WARMUP_RUNS + RUNS; i++) {
      for (const kind of rotation(kinds, i)) {
        const result = await runOnce(scripts[kind], envs[kind], layout.load);
        if (i >= WARMUP_RUNS) runs[kind].push(result);
      }
    }
    const med = (kind: Kind, field: keyof ColdRun) => median(runs[kind].map((r) => r[field] ?? Number.NaN));
    const breakdown = (kind: Kind) =>
      STEPS.map((s) => `${s} ${fmt(med(kind, s))}`).join(" + ") + ` ms (medians)`;
    console.error(`bench coldstart: client ${breakdown("client")}; raw ${breakdown("raw")}`);
    const totals = (kind: Kind) => runs[kind].map((r) => r.total);
    const rows: BenchRow[] = [
      comparison({
        id: "coldstart.total.median",
        name: `cold start to the first get: import + secret file + TLS connect + first GET, median of ${RUNS} fresh processes`,
        unit: "ms",
        value: median(totals("client")),
        baseline: { name: "raw ioredis doing the same", value: median(totals("raw")) },
        direction: "lower",
        goal: GOAL,
        notes: `client ${breakdown("client")}; raw ioredis ${breakdown("raw")}`,
        details: { client: runs.client, raw: runs.raw },
      }),
      comparison({
        id: "coldstart.total.p90",
        name: `cold start to the first get, p90 of ${RUNS} fresh processes`,
        unit: "ms",
        value: p90(totals("client")),
        baseline: { name: "raw ioredis doing the same", value: p90(totals("raw")) },
        direction: "lower",
        goal: GOAL,
      }),
    ];
    for (const step of STEPS) {
      rows.push(
        comparison({
          id: `coldstart.step.${step}`,
          name: `cold start step: ${
            {
              import: "import of the bundle",
              secret: "secret file read + parse (client: SecretSource, validated)",
              connect:
                "createCache + TLS connect + AUTH (raw: new Redis + connect; the client evaluates its bundled ioredis here, lazily)",
              firstGet: "first get (GET + decode)",
            }[step]
          }, median`,
          unit: "ms",
          value: med("client", step),
          baseline: { name: "raw ioredis", value: med("raw", step) },
          direction: "lower",
          notes: `p90 ${fmt(p90(runs.client.map((r) => r[step] ?? Number.NaN)))} vs ${fmt(
            p90(runs.raw.map((r) => r[step] ?? Number.NaN)),
          )} ms`,
        }),
      );
    }
    rows.push(
      comparison({
        id: "coldstart.lazy.median",
        name: "cold start the way a handler writes it (createCache(); await cache.get()), median",
        unit: "ms",
        value: median(totals("lazy")),
        baseline: { name: "raw ioredis (step by step)", value: median(totals("raw")) },
        direction: "lower",
        notes: `p90 ${fmt(p90(totals("lazy")))} vs ${fmt(p90(totals("raw")))} ms; same work as the step-by-step client run`,
        details: { lazy: runs.lazy },
      }),
      comparison({
        id: "coldstart.process.median",
        name: "whole fresh process until the first get's answer (spawn to result, includes Node's start-up), median",
        unit: "ms",
        value: median(runs.client.map((r) => r.wall)),
        baseline: { name: "raw ioredis", value: median(runs.raw.map((r) => r.wall)) },
        direction: "lower",
        notes: `Node start-up before the script: ${fmt(med("client", "bootstrap"))} vs ${fmt(med("raw", "bootstrap"))} ms`,
      }),
    );
    return {
      rows,
      meta: {
        layout: layout.description,
        method: `${RUNS} fresh processes per kind (client step by step, raw ioredis, client lazy), interleaved with the order rotating, after ${WARMUP_RUNS} warm-up rounds; times from the script's first line (performance.now())`,
        bundles:
          'esbuild, bundle + minify, ESM, node20, AWS SDK external; the client from packages/client/src/index.ts, the baseline `export { Redis, Cluster } from "ioredis"`',
        redis:
          "TLS-only redis-server (testkit), CA trusted via NODE_EXTRA_CA_CERTS in both processes; service user from core's access string",
      },
    };
  } finally {
    await server.stop();
    bundles.remove();
    rmSync(dir, { recursive: true, force: true });
  }
}
