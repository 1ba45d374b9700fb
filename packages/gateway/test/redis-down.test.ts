// Redis unreachable: the gateway answers 503 with a clear error within its configured timeout
// (a short one here; the test asserts statuses, never durations) and recovers by itself.
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { setTimeout as sleep } from "node:timers/promises";
import { stopAll } from "@cacheplane/testkit";
import { type Fixture, post, startFixture } from "./helpers/fixture.js";

let fx: Fixture;
let token: string;

before(async () => {
  fx = await startFixture({
    services: [{ name: "a", access: "read-write" }],
    gateway: { timeoutMs: 400 },
  });
  token = fx.tokens.a!.readWrite;
});
after(async () => {
  await fx?.close();
  await stopAll();
});

/** Polls until the gateway answers `status` (bounded number of attempts, not a time assertion). */
async function until(status: number, command: unknown[] = ["PING"], attempts = 100) {
  let last: Awaited<ReturnType<typeof post>> | undefined;
  for (let i = 0; i < attempts; i++) {
    last = await post(fx.url, "/", command, token);
    if (last.status === status) return last;
    await sleep(100);
  }
  assert.fail(`gateway never answered ${status}; last: ${last?.status} ${last?.text}`);
}

describe("Redis down", () => {
  test("paused Redis: 503 'no answer', then recovery after resume", async () => {
    assert.deepEqual((await post(fx.url, "/", ["SET", "a:k", "1"], token)).json, { result: "OK" });
    fx.redis.pause();
    try {
      const res = await post(fx.url, "/", ["GET", "a:k"], token);
      assert.equal(res.status, 503);
      assert.match(
        String((res.json as { error: string }).error),
        /^ERR Redis unavailable: no answer within 400 ms/,
      );
      const pipe = await post(
        fx.url,
        "/pipeline",
        [
          ["GET", "a:k"],
          ["GET", "a:k"],
        ],
        token,
      );
      assert.equal(pipe.status, 503);
      const tx = await post(fx.url, "/multi-exec", [["INCR", "a:n"]], token);
      assert.equal(tx.status, 503);
    } finally {
      fx.redis.resume();
    }
    const back = await until(200, ["GET", "a:k"]);
    assert.deepEqual(back.json, { result: "1" });
  });

  test("killed Redis: 503 'not connected', then recovery after restart", async () => {
    await fx.redis.kill();
    const res = await until(503, ["GET", "a:k"]);
    assert.match(String((res.json as { error: string }).error), /^ERR Redis unavailable/);
    // Still 503 (not 500) for every endpoint while it is down.
    assert.equal((await post(fx.url, "/pipeline", [["GET", "a:k"]], token)).status, 503);
    assert.equal((await post(fx.url, "/", ["GET", "a:k"], "bad-token")).status, 401);
    // Client mistakes stay 4xx while Redis is down: they are checked before Redis is needed.
    assert.equal((await post(fx.url, "/", "not json", token)).status, 400);
    assert.equal((await post(fx.url, "/", ["SET", "a:k", { no: 1 }], token)).status, 400);
    await fx.redis.restart();
    const back = await until(200, ["SET", "a:k", "2"]);
    assert.deepEqual(back.json, { result: "OK" });
    assert.deepEqual((await post(fx.url, "/", ["GET", "a:k"], token)).json, { result: "2" });
    // 503 messages never carry secrets; server errors are logged without them.
    const logs = JSON.stringify(fx.logs);
    for (const secret of fx.secretStrings()) assert.ok(!logs.includes(secret));
    assert.ok(fx.logs.some((e) => e.status === 503));
  });
});
