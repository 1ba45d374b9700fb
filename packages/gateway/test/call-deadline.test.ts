// A single command is sent at once when the connection is ready, and ioredis's own `commandTimeout`
// bounds it only when that ends by the request's deadline. With a longer `commandTimeout` (set
// through `redisOptions`), the gateway's own deadline must still answer 503 in time. Durations are
// not asserted; the client only gives up after 10 s (33 times the 300 ms deadline), where a wrong
// path would wait for ioredis's 60 s.
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { setTimeout as sleep } from "node:timers/promises";
import { stopAll } from "@cacheplane/testkit";
import { ServiceConnection } from "../src/redis-connection.js";
import { type Fixture, post, startFixture } from "./helpers/fixture.js";

let fx: Fixture;
let token: string;

before(async () => {
  fx = await startFixture({
    services: [{ name: "a", access: "read-write" }],
    gateway: { timeoutMs: 300, redisOptions: { commandTimeout: 60_000 } },
  });
  token = fx.tokens.a!.readWrite;
});
after(async () => {
  await fx?.close();
  await stopAll();
});

describe("deadline of single commands", () => {
  test("a longer ioredis commandTimeout does not outlast the gateway's timeoutMs", async () => {
    // Setup, not under test: the first request (connect, COMMAND table) may miss the 300 ms budget on a
    // loaded machine.
    let stored: unknown;
    for (let i = 0; i < 20 && stored === undefined; i++) {
      const res = await post(fx.url, "/", ["SET", "a:k", "1"], token);
      if (res.status === 200) stored = res.json;
    }
    assert.deepEqual(stored, { result: "OK" });
    fx.redis.pause();
    try {
      const res = await fetch(`${fx.url}/get/a:k`, {
        headers: { authorization: `Bearer ${token}` },
        signal: AbortSignal.timeout(10_000),
      });
      assert.equal(res.status, 503);
      const body = (await res.json()) as { error: string };
      assert.match(body.error, /^ERR Redis unavailable: no answer within 300 ms/);
    } finally {
      fx.redis.resume();
    }
    for (let i = 0; i < 100; i++) {
      const res = await post(fx.url, "/", ["GET", "a:k"], token);
      if (res.status === 200) {
        assert.deepEqual(res.json, { result: "1" });
        return;
      }
      await sleep(50);
    }
    assert.fail("the gateway did not recover");
  });

  test("the command table is available without waiting once the connection is ready", async () => {
    const service = { name: "a", keyspace: "a", sharedKeyspaces: [], secret: fx.secrets.a! };
    const connection = new ServiceConnection(service, { timeoutMs: 1000 });
    try {
      assert.equal(connection.readyTable(), undefined, "not connected yet");
      const table = await connection.commandTable(Date.now() + 1000);
      assert.equal(connection.readyTable(), table);
      assert.equal(table.source, "server");
      const reply = await connection.call(["ECHO", Buffer.from([0xff, 0x00])], Date.now() + 1000);
      assert.deepEqual(reply, Buffer.from([0xff, 0x00]));
    } finally {
      await connection.close();
    }
    assert.equal(connection.readyTable(), undefined, "closed");
  });
});
