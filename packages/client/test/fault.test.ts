/**
 * Faults on a real redis-server: SIGKILL (then restart on the same port) and SIGSTOP (then SIGCONT)
 * under a running loop of getOrSet calls. Every call returns the loader's value, the breaker opens,
 * half-opens and closes again, and memory stays bounded while Redis is down. No wall-clock asserts:
 * loops are bounded by iteration counts.
 */
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { after, before, describe, it } from "node:test";
import { setTimeout as sleep, setImmediate as yieldToEventLoop } from "node:timers/promises";
import { setFlagsFromString } from "node:v8";
import { runInNewContext } from "node:vm";
import { type RedisServer, startRedis } from "@cacheplane/testkit";
import {
  type BreakerStateName,
  CacheService,
  CacheUnavailableError,
  closeAllRedisConnections,
  createCache,
  MemoryStore,
} from "../src/index.js";
import { startDynalite } from "./helpers/dynalite.js";
import { createServiceUser, secretFor } from "./helpers/redis.js";

setFlagsFromString("--expose-gc");
const gc = runInNewContext("gc") as () => void;

const PASSWORD = "Fault-Test-Pw-1122334455";

function heapAfterGc(): number {
  gc();
  gc();
  return process.memoryUsage().heapUsed;
}

function nextState(cache: CacheService, state: BreakerStateName): Promise<void> {
  const alive = setInterval(() => undefined, 1000);
  return new Promise<void>((resolve) => {
    const off = cache.on("breaker", (e) => {
      if (e.state === state) {
        off();
        resolve();
      }
    });
  }).finally(() => clearInterval(alive));
}

function faultCache(server: RedisServer, extra: Parameters<typeof createCache>[0] = {}) {
  return createCache({
    secret: secretFor(server, "orders", PASSWORD),
    // Short enough that a paused server trips the breaker quickly, long enough for a loaded machine.
    commandTimeoutMs: 500,
    connectTimeoutMs: 1000,
    breaker: { threshold: 3 },
    ...extra,
  });
}

/** Runs getOrSet calls until `done()` or `maxCalls`; every result must be the loader's value. */
async function runLoop(
  cache: CacheService,
  state: { calls: number; errors: unknown[]; wrong: number },
  done: () => boolean,
  maxCalls: number,
) {
  for (let i = 0; i < maxCalls && !done(); i++) {
    const key = `loop:${state.calls % 50}`;
    state.calls++;
    try {
      const value = await cache.getOrSet(key, async () => `value-of-${key}`, { ttl: 5 });
      if (value !== `value-of-${key}`) state.wrong++;
    } catch (err) {
      state.errors.push(err);
    }
    // let timers (ioredis reconnects, breaker half-open) run between calls
    if (i % 4 === 0) await sleep(2);
    else await yieldToEventLoop();
  }
}

describe("resilience on a real redis-server", () => {
  let server: RedisServer;
  before(async () => {
    server = await startRedis({ acl: true, tls: false });
    const admin = server.client();
    await createServiceUser(admin, "orders", PASSWORD);
    // restart() reloads the aclfile: persist the service user
    await admin.call("ACL", "SAVE");
    admin.disconnect();
  });
  after(async () => {
    await closeAllRedisConnections();
    await server.stop();
  });

  for (const fault of ["SIGKILL + restart", "SIGSTOP + SIGCONT"] as const) {
    it(`${fault}: getOrSet keeps returning the loader's value; breaker opens, half-opens, closes`, async () => {
      const cache = faultCache(server);
      const transitions: BreakerStateName[] = [];
      cache.on("breaker", (e) => transitions.push(e.state));
      const state = { calls: 0, errors: [] as unknown[], wrong: 0 };

      // healthy
      await runLoop(cache, state, () => false, 100);
      assert.equal(cache.getStats().breaker, "closed");
      assert.ok(cache.getStats().hits > 0);

      // down
      if (fault === "SIGKILL + restart") await server.kill();
      else server.pause();
      await runLoop(cache, state, () => transitions.includes("open"), 5_000);
      assert.ok(transitions.includes("open"), `breaker did not open: ${transitions.join(",")}`);

      // many calls while down: memory stays bounded (generous bound, not a time)
      const heapBefore = heapAfterGc();
      const downState = { calls: 0, errors: [] as unknown[], wrong: 0 };
      // 20,000 calls, 100 at a time (distinct keys: no in-process sharing)
      for (let batch = 0; batch < 200; batch++) {
        await Promise.all(
          Array.from({ length: 100 }, async (_, j) => {
            const i = batch * 100 + j;
            try {
              const v = await cache.getOrSet(`down:${i}`, async () => i, { ttl: 5 });
              if (v !== i) downState.wrong++;
            } catch (err) {
              downState.errors.push(err);
            }
          }),
        );
      }
      const growth = heapAfterGc() - heapBefore;
      assert.deepStrictEqual(downState.errors, []);
      assert.equal(downState.wrong, 0);
      assert.ok(
        growth < 32 * 1024 * 1024,
        `heap grew by ${Math.round(growth / 1024)} KiB while Redis was down`,
      );
      assert.ok(cache.getStats().fallbacks > 0);

      // back
      if (fault === "SIGKILL + restart") await server.restart();
      else server.resume();
      const openedAt = transitions.lastIndexOf("open");
      const recovered = () => {
        const tail = transitions.slice(openedAt);
        return tail.includes("half-open") && transitions[transitions.length - 1] === "closed";
      };
      await runLoop(cache, state, recovered, 20_000);
      assert.ok(recovered(), `breaker did not recover: ${transitions.join(",")}`);
      assert.equal(cache.getStats().breaker, "closed");

      assert.deepStrictEqual(state.errors, [], "no error reached the caller");
      assert.equal(state.wrong, 0);
      // the cache works again
      assert.equal(await cache.set("after", "fault"), true);
      assert.equal(await cache.get("after"), "fault");
      assert.equal((await cache.health()).status, "ok");
      await cache.close();
    });
  }

  it("with a fallback store: while open, reads and writes go to the fallback; health is degraded", async () => {
    const fallback = new MemoryStore({ keyspace: "orders" });
    const cache = faultCache(server, { fallback });
    const fallbacks: string[] = [];
    cache.on("fallback", (e) => fallbacks.push(e.target));
    assert.equal(await cache.set("fb", "primary"), true);
    server.pause();
    try {
      // writes while the primary is failing land in the fallback and can be read back
      assert.equal(await cache.set("fb", "during-outage"), true);
      assert.equal(await cache.get("fb"), "during-outage");
      for (let i = 0; i < 5; i++) await cache.get(`x${i}`);
      assert.equal(cache.getStats().breaker, "open");
      assert.ok(fallbacks.includes("memory"));
      const health = await cache.health({ timeoutMs: 300 });
      assert.equal(health.status, "degraded");
    } finally {
      server.resume();
    }
    await cache.close();
  });

  it("writes and deletes made while Redis was stopped do not bring old values back (memory fallback)", async () => {
    const fallback = new MemoryStore({ keyspace: "orders" });
    const cache = faultCache(server, { fallback });
    const admin = server.client();
    try {
      await cache.set("written", "before");
      await cache.set("deleted", "before");
      await cache.set("untouched", "before");
      const closed = nextState(cache, "closed");
      server.pause();
      try {
        for (let i = 0; i < 5; i++) await cache.get(`probe-${i}`);
        assert.equal(cache.breakerState, "open");
        assert.equal(await cache.set("written", "during"), true);
        await cache.delete("deleted");
        assert.equal(await cache.get("written"), "during");
        assert.equal(await cache.get("deleted"), undefined);
      } finally {
        server.resume();
      }
      await closed; // reconciled by the background probe, no caller needed
      // Redis itself no longer holds the old values: deleted on recovery, before the breaker closed
      assert.equal(await admin.exists("orders:written", "orders:deleted"), 0);
      assert.equal(await cache.get("written"), undefined);
      assert.equal(await cache.get("deleted"), undefined);
      assert.equal(await cache.get("untouched"), "before");
      assert.equal(cache.getStats().pendingInvalidations, 0);
    } finally {
      admin.disconnect();
      await cache.close();
    }
  });

  it("a loop that never waits on I/O (served from a memory fallback) still sees the breaker close", async () => {
    const cache = faultCache(server, { fallback: new MemoryStore({ keyspace: "orders" }) });
    await cache.set("k", "v");
    server.pause();
    try {
      for (let i = 0; i < 5; i++) await cache.get(`probe-${i}`);
      assert.equal(cache.breakerState, "open");
    } catch (err) {
      server.resume();
      throw err;
    }
    // SIGCONT from another process one second from now: this process's event loop is not needed.
    const resumer = spawn("sh", ["-c", `sleep 1; kill -CONT ${server.pid}`], { stdio: "ignore" });
    const resumed = new Promise((resolve) => resumer.once("exit", resolve));
    let iterations = 0;
    const state = () => cache.breakerState;
    try {
      // Bounded (a generous deadline, not a speed assertion). Without the client's yield, timers and
      // sockets never run inside this loop, so the probe could not close the breaker.
      const giveUp = Date.now() + 60_000;
      while (state() !== "closed" && (iterations % 1000 !== 0 || Date.now() < giveUp)) {
        await cache.get("k");
        iterations++;
      }
    } finally {
      await resumed;
      server.resume();
    }
    assert.equal(state(), "closed", `still ${state()} after ${iterations} calls`);
    assert.equal(await cache.get("k"), "v");
    await cache.close();
  });

  it("the redis -> dynamodb -> miss chain: createCache({ fallback: 'dynamodb' }) serves the outage from DynamoDB", async () => {
    const dynamo = await startDynalite();
    try {
      await dynamo.createTable("cache-fallback");
      const cache = faultCache(server, {
        fallback: "dynamodb",
        tableName: "cache-fallback",
        dynamoDbClient: dynamo.client,
      });
      assert.equal(cache.getStats().fallbackStorage, "dynamodb");
      let loads = 0;
      const loader = async () => {
        loads++;
        return { from: "source" };
      };
      assert.deepStrictEqual(await cache.getOrSet("chain", loader, { ttl: 60 }), { from: "source" });
      server.pause();
      try {
        // the value is not in DynamoDB yet: loaded once, then stored there and served from there
        for (let i = 0; i < 10; i++)
          assert.deepStrictEqual(await cache.getOrSet("chain", loader, { ttl: 60 }), { from: "source" });
        assert.equal(loads, 2);
        assert.equal(cache.getStats().breaker, "open");
        assert.equal(await cache.set("written-during-outage", 7), true);
        assert.equal(await cache.get("written-during-outage"), 7);
      } finally {
        server.resume();
      }
      await cache.close();
    } finally {
      await dynamo.stop();
    }
  });

  it("throwOnError: true surfaces failures as CacheUnavailableError", async () => {
    const cache = faultCache(server, { throwOnError: true });
    await cache.set("t", 1);
    server.pause();
    try {
      await assert.rejects(cache.get("t"), CacheUnavailableError);
      for (let i = 0; i < 3; i++) await cache.get("t").catch(() => undefined);
      await assert.rejects(
        cache.get("t"),
        (err: unknown) => err instanceof CacheUnavailableError && /breaker open/.test(err.message),
      );
      const health = await cache.health({ timeoutMs: 300 });
      assert.equal(health.status, "down");
    } finally {
      server.resume();
    }
    await cache.close();
  });

  it("an open breaker does not count refused calls as errors; the memory store never trips it", async () => {
    const cache = new CacheService({
      store: new MemoryStore(),
      breaker: { threshold: 1, halfOpenAfterMs: 10 },
    });
    for (let i = 0; i < 100; i++) await cache.getOrSet(`m${i}`, async () => i);
    assert.equal(cache.getStats().breaker, "closed");
    assert.equal(cache.getStats().errors, 0);
  });
});
