/**
 * Bench suite `gateway` (`npm run bench gateway`): the Upstash-REST gateway against a bare
 * node:http + ioredis server doing the same work without tokens or policy, both on 127.0.0.1 in
 * front of one redis-server (started by @cacheplane/testkit, ACL service user), measured with
 * autocannon's programmatic API for a bounded duration:
 * - GET and SET requests per second at 50 connections;
 * - p99 latency at 50 connections, and the latency the gateway adds;
 * - one /pipeline request of 100 commands vs 100 single-command requests (commands per second).
 * Subject and baseline alternate over `BENCH_ROUNDS` rounds (default 3) and the median round is
 * reported; `BENCH_DURATION_S` sets the seconds per measurement (default 3). Load is generated in
 * one autocannon worker thread, off the servers' event loop.
 */

import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { createServer, type Server } from "node:http";
import { createRequire } from "node:module";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseConfig } from "@cacheplane/core";
import { ensureServiceTokens, startGatewayServer } from "@cacheplane/gateway";
import { startRedis } from "@cacheplane/testkit";
import { Redis } from "ioredis";
import type { BenchRow } from "../types.js";

interface AutocannonResult {
  requests: { average: number };
  latency: { p99: number; average: number };
  non2xx: number;
  errors: number;
  timeouts: number;
}
interface AutocannonOptions {
  url: string;
  connections: number;
  duration: number;
  method?: "GET" | "POST";
  headers?: Record<string, string>;
  body?: string;
  warmup?: { connections: number; duration: number };
  workers?: number;
}
type Autocannon = (options: AutocannonOptions) => Promise<AutocannonResult>;
const autocannon = createRequire(import.meta.url)("autocannon") as Autocannon;

const DURATION_S = Number(process.env.BENCH_DURATION_S ?? 3);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 3);
const CONNECTIONS = 50;
const PIPELINE_CONNECTIONS = 10;
const PIPELINE_SIZE = 100;
const LOAD_WORKERS = 1;
const PASSWORD = "Bench-Gateway-Pw-1357924680";

function listen(server: Server): Promise<string> {
  return new Promise((resolve) =>
    server.listen(0, "127.0.0.1", () =>
      resolve(`http://127.0.0.1:${(server.address() as AddressInfo).port}`),
    ),
  );
}

/** The baseline: node:http + ioredis, JSON in and out, no tokens, no policy. */
function baselineServer(redis: Redis): Server {
  return createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", async () => {
      try {
        let body: string;
        if (req.method === "GET" && req.url?.startsWith("/get/")) {
          body = JSON.stringify({ result: await redis.get(decodeURIComponent(req.url.slice(5))) });
        } else if (req.url === "/pipeline") {
          const commands = JSON.parse(Buffer.concat(chunks).toString()) as string[][];
          const batch = redis.pipeline();
          for (const [name, ...args] of commands) batch.call(name!, ...args);
          const results = (await batch.exec()) ?? [];
          body = JSON.stringify(
            results.map(([error, result]) => (error ? { error: error.message } : { result })),
          );
        } else {
          const [name, ...args] = JSON.parse(Buffer.concat(chunks).toString()) as string[];
          body = JSON.stringify({ result: await redis.call(name!, ...args) });
        }
        res.writeHead(200, { "content-type": "application/json" });
        res.end(body);
      } catch (error) {
        res.writeHead(400, { "content-type": "application/json" });
        res.end(JSON.stringify({ error: (error as Error).message }));
      }
    });
  });
}

const median = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)] ?? 0;

/** Medians over ROUNDS of each scenario, scenarios interleaved within a round. */
async function rounds(
  scenarios: Record<string, AutocannonOptions>,
): Promise<Record<string, { rps: number; p99: number }>> {
  const samples: Record<string, { rps: number[]; p99: number[] }> = {};
  for (let round = 0; round < ROUNDS; round++) {
    for (const [name, options] of Object.entries(scenarios)) {
      const result = await measure(options);
      samples[name] ??= { rps: [], p99: [] };
      samples[name].rps.push(result.requests.average);
      samples[name].p99.push(result.latency.p99);
    }
  }
  return Object.fromEntries(
    Object.entries(samples).map(([name, s]) => [name, { rps: median(s.rps), p99: median(s.p99) }]),
  );
}

async function measure(options: AutocannonOptions): Promise<AutocannonResult> {
  // Load is generated in worker threads, so it does not compete with the servers' event loop.
  const result = await autocannon({
    ...options,
    workers: LOAD_WORKERS,
    warmup: { connections: options.connections, duration: 1 },
  });
  if (result.non2xx > 0 || result.errors > 0) {
    throw new Error(`bench ${options.url}: ${result.non2xx} non-2xx answers, ${result.errors} errors`);
  }
  return result;
}

/** Runs the suite; every figure is measured in this run, on this machine. */
export async function run(): Promise<BenchRow[]> {
  const server = await startRedis({ acl: true });
  const dir = mkdtempSync(join(tmpdir(), "cacheplane-bench-gateway-"));
  const config = parseConfig({
    stage: "bench",
    region: "local",
    services: [{ name: "bench", access: "read-write" }],
  });
  const service = config.services[0]!;
  const admin = server.client();
  await admin.call(
    "ACL",
    "SETUSER",
    service.userId,
    "reset",
    ...service.accessString.split(" "),
    `>${PASSWORD}`,
  );
  admin.disconnect();
  const secret = {
    host: server.host,
    port: server.port,
    username: service.userName,
    password: PASSWORD,
    keyspace: "bench",
    tls: false,
  };
  writeFileSync(join(dir, "bench.json"), JSON.stringify(secret), { mode: 0o600 });
  const gateway = await startGatewayServer({ config, secretsDir: dir, port: 0, logger: () => undefined });
  const { readWrite } = await ensureServiceTokens(dir, "bench");
  const redis = new Redis({
    host: secret.host,
    port: secret.port,
    username: secret.username,
    password: PASSWORD,
    enableReadyCheck: false,
  });
  const baseline = baselineServer(redis);
  const baselineUrl = await listen(baseline);
  const auth = { authorization: `Bearer ${readWrite}`, "content-type": "application/json" };
  const json = { "content-type": "application/json" };
  await redis.set("bench:k", "x".repeat(64));
  try {
    const common = { connections: CONNECTIONS, duration: DURATION_S };
    const setBody = JSON.stringify(["SET", "bench:k", "x".repeat(64)]);
    const pipelineBody = JSON.stringify(Array.from({ length: PIPELINE_SIZE }, () => ["GET", "bench:k"]));
    const pipe = { connections: PIPELINE_CONNECTIONS, duration: DURATION_S };
    const m = await rounds({
      gwGet: { ...common, url: `${gateway.url}/get/bench:k`, headers: auth },
      baseGet: { ...common, url: `${baselineUrl}/get/bench:k`, headers: json },
      gwSet: { ...common, url: `${gateway.url}/`, method: "POST", headers: auth, body: setBody },
      baseSet: { ...common, url: `${baselineUrl}/`, method: "POST", headers: json, body: setBody },
      gwPipeline: {
        ...pipe,
        url: `${gateway.url}/pipeline`,
        method: "POST",
        headers: auth,
        body: pipelineBody,
      },
      gwSingle: { ...pipe, url: `${gateway.url}/get/bench:k`, headers: auth },
    });
    const gwGet = m.gwGet!;
    const baseGet = m.baseGet!;
    const gwSet = m.gwSet!;
    const baseSet = m.baseSet!;
    const pipelineCommands = m.gwPipeline!.rps * PIPELINE_SIZE;
    const singleCommands = m.gwSingle!.rps;
    return [
      {
        name: `gateway GET (${CONNECTIONS} connections) vs node:http + ioredis`,
        value: gwGet.rps,
        unit: "req/s",
        baseline: { name: "node:http + ioredis GET", value: baseGet.rps },
        ratio: gwGet.rps / baseGet.rps,
        direction: "higher",
      },
      {
        name: `gateway SET (${CONNECTIONS} connections) vs node:http + ioredis`,
        value: gwSet.rps,
        unit: "req/s",
        baseline: { name: "node:http + ioredis SET", value: baseSet.rps },
        ratio: gwSet.rps / baseSet.rps,
        direction: "higher",
      },
      {
        name: `gateway GET p99 latency (${CONNECTIONS} connections)`,
        value: gwGet.p99,
        unit: "ms",
        baseline: { name: "node:http + ioredis GET p99", value: baseGet.p99 },
        ratio: gwGet.p99 / Math.max(baseGet.p99, 0.001),
        direction: "lower",
      },
      {
        name: `p99 latency the gateway adds to GET (${CONNECTIONS} connections)`,
        value: gwGet.p99 - baseGet.p99,
        unit: "ms",
        direction: "lower",
      },
      {
        name: `one /pipeline of ${PIPELINE_SIZE} GETs vs ${PIPELINE_SIZE} single requests (${PIPELINE_CONNECTIONS} connections)`,
        value: pipelineCommands,
        unit: "commands/s",
        baseline: { name: "single-command GET requests", value: singleCommands },
        ratio: pipelineCommands / singleCommands,
        direction: "higher",
      },
    ];
  } finally {
    await new Promise<void>((resolve) => baseline.close(() => resolve()));
    baseline.closeAllConnections();
    redis.disconnect();
    await gateway.close();
    await server.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}
