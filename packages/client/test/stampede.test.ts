/** 500 concurrent getOrSet on one cold key from 4 processes call the loader exactly once. */
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { fileURLToPath } from "node:url";
import { type RedisServer, startRedis } from "@cacheplane/testkit";
import type { Redis } from "ioredis";
import { createServiceUser, secretFor } from "./helpers/redis.js";
import { runWorkers } from "./helpers/workers.js";

const PASSWORD = "Stampede-Pw-0099887766";
const WORKER = fileURLToPath(new URL("./fixtures/stampede-worker.ts", import.meta.url));
const PROCESSES = 4;
const CALLS_PER_PROCESS = 125;

interface WorkerResult {
  values: string[];
  errors: number;
  count: number;
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
    const results = await runWorkers<WorkerResult>(
      WORKER,
      Array.from({ length: PROCESSES }, () => env),
    );
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
  });
});
