/** 500 concurrent getOrSet on one cold key from 4 processes call the loader exactly once. */
import assert from "node:assert/strict";
import { type ChildProcessWithoutNullStreams, spawn } from "node:child_process";
import { after, before, describe, it } from "node:test";
import { fileURLToPath } from "node:url";
import { type RedisServer, startRedis } from "@cacheplane/testkit";
import type { Redis } from "ioredis";
import { createServiceUser, secretFor } from "./helpers/redis.js";

const PASSWORD = "Stampede-Pw-0099887766";
const WORKER = fileURLToPath(new URL("./fixtures/stampede-worker.ts", import.meta.url));
const PROCESSES = 4;
const CALLS_PER_PROCESS = 125;

interface WorkerResult {
  values: string[];
  errors: number;
  count: number;
}

function startWorker(env: Record<string, string>): {
  child: ChildProcessWithoutNullStreams;
  ready: Promise<void>;
  result: Promise<WorkerResult>;
} {
  const child = spawn(process.execPath, ["--import", "tsx", WORKER], {
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
  const result = new Promise<WorkerResult>((resolve, reject) => {
    child.on("exit", (code) => {
      const line = out.split("\n").find((l) => l.startsWith("{"));
      if (code !== 0 || !line) reject(new Error(`worker exited ${code}: ${err.slice(-2000)}`));
      else resolve(JSON.parse(line) as WorkerResult);
    });
  });
  return { child, ready: Promise.race([ready, result.then(() => undefined)]), result };
}

describe("stampede protection across processes", () => {
  let server: RedisServer;
  let admin: Redis;
  before(async () => {
    server = await startRedis({ acl: true, tls: false });
    admin = server.client();
    await createServiceUser(admin, "orders", PASSWORD);
  });
  after(() => server.stop());

  it(`${PROCESSES * CALLS_PER_PROCESS} concurrent getOrSet on one cold key from ${PROCESSES} processes: one loader call`, async () => {
    const key = `cold-${Date.now()}`;
    const env = {
      STAMPEDE_SECRET: JSON.stringify(secretFor(server, "orders", PASSWORD)),
      STAMPEDE_KEY: key,
      STAMPEDE_CALLS: String(CALLS_PER_PROCESS),
    };
    const workers = Array.from({ length: PROCESSES }, () => startWorker(env));
    try {
      await Promise.all(workers.map((w) => w.ready));
      // all connected: start together
      for (const w of workers) w.child.stdin.write("go\n");
      const results = await Promise.all(workers.map((w) => w.result));
      const loads = Number(await admin.get(`orders:stampede:loads:${key}`));
      assert.equal(loads, 1, "the loader ran exactly once");
      assert.equal(
        results.reduce((n, r) => n + r.count, 0),
        PROCESSES * CALLS_PER_PROCESS,
      );
      assert.ok(results.every((r) => r.errors === 0));
      const distinct = new Set(results.flatMap((r) => r.values));
      assert.equal(distinct.size, 1, "every caller got the one loaded value");
      assert.ok(await admin.exists(`orders:${key}`));
      assert.equal(await admin.exists(`orders:__cp:sl:${key}`), 0, "the lock was released");
    } finally {
      for (const w of workers) if (w.child.exitCode === null) w.child.kill("SIGKILL");
    }
  });
});
