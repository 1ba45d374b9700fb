// While the Redis connection is known to be down, the gateway answers 503 with Retry-After at once,
// and it serves again as soon as Redis is back. The gateway's deadline here is one hour, far longer
// than the test may run: a request that waited for Redis instead of failing fast could never be
// answered, so every answer during the outage proves the fail-fast path (no time is measured).
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { setTimeout as sleep } from "node:timers/promises";
import { stopAll } from "@cacheplane/testkit";
import { type Fixture, startFixture } from "./helpers/fixture.js";

const HOUR_MS = 3_600_000;
/** Only so that a regression fails with a message instead of hanging until the runner's timeout. */
const GUARD_MS = 60_000;

let fx: Fixture;

before(async () => {
  fx = await startFixture({
    services: [
      { name: "a", access: "read-write" },
      { name: "b", access: "read-write" },
    ],
    gateway: { timeoutMs: HOUR_MS },
  });
});
after(async () => {
  await fx?.close();
  await stopAll();
});

interface Answer {
  status: number;
  body: string;
  retryAfter: string | null;
}

/** One request; fails the test (rather than hanging) if the gateway held it. */
async function request(path: string, token: string, body?: unknown): Promise<Answer> {
  const init: RequestInit = {
    method: body === undefined ? "GET" : "POST",
    headers: { authorization: `Bearer ${token}`, "content-type": "application/json" },
    signal: AbortSignal.timeout(GUARD_MS),
  };
  if (body !== undefined) init.body = JSON.stringify(body);
  let response: Response;
  try {
    response = await fetch(`${fx.url}${path}`, init);
  } catch (error) {
    assert.fail(`the gateway held ${path} instead of answering at once: ${(error as Error).message}`);
  }
  return {
    status: response.status,
    body: await response.text(),
    retryAfter: response.headers.get("retry-after"),
  };
}

/** Polls until the gateway answers `status` (a bounded number of attempts, not a time assertion). */
async function until(status: number, token: string, path = "/get/a:k", attempts = 200): Promise<Answer> {
  let last: Answer | undefined;
  for (let i = 0; i < attempts; i++) {
    last = await request(path, token);
    if (last.status === status) return last;
    await sleep(50);
  }
  assert.fail(`never answered ${status}; last: ${last?.status} ${last?.body}`);
}

describe("fail fast while Redis is down", () => {
  test("killed Redis: every request is answered 503 with Retry-After at once; restarted: served again", async () => {
    const a = fx.tokens.a!.readWrite;
    const b = fx.tokens.b!.readWrite;
    assert.equal((await request("/set/a:k/v1", a)).status, 200);

    await fx.redis.kill();
    const first = await until(503, a);
    assert.equal(first.retryAfter, "1");
    assert.match(first.body, /"error":"ERR Redis unavailable: not connected/);

    // Many requests at once, on every endpoint: all answered, all 503 with Retry-After.
    const answers = await Promise.all([
      ...Array.from({ length: 100 }, () => request("/get/a:k", a)),
      ...Array.from({ length: 20 }, () => request("/", a, ["SET", "a:k", "v2"])),
      ...Array.from({ length: 20 }, () =>
        request("/pipeline", a, [
          ["GET", "a:k"],
          ["INCR", "a:n"],
        ]),
      ),
      ...Array.from({ length: 20 }, () => request("/multi-exec", a, [["INCR", "a:n"]])),
    ]);
    for (const answer of answers) {
      assert.equal(answer.status, 503, answer.body);
      assert.equal(answer.retryAfter, "1");
    }
    // A service whose connection was never opened finds out on its first connection attempt.
    const fresh = await request("/get/b:k", b);
    assert.equal(fresh.status, 503, fresh.body);
    assert.equal(fresh.retryAfter, "1");
    // The subscriber connection fails fast too.
    const stream = await request("/subscribe/a:news", a);
    assert.equal(stream.status, 503, stream.body);

    await fx.redis.restart();
    await until(200, a);
    assert.deepEqual(JSON.parse((await request("/", a, ["SET", "a:k", "v3"])).body), { result: "OK" });
    assert.deepEqual(JSON.parse((await request("/get/a:k", a)).body), { result: "v3" });
    await until(200, b, "/get/b:k");
    // Nothing sent during the outage was applied later (no offline queue, no re-sent commands).
    assert.deepEqual(JSON.parse((await request("/get/a:n", a)).body), { result: null });
  });

  test("outage after outage: each one fails fast and recovers", async () => {
    const a = fx.tokens.a!.readWrite;
    for (let round = 0; round < 2; round++) {
      await fx.redis.kill();
      const down = await until(503, a);
      assert.equal(down.retryAfter, "1");
      await fx.redis.restart();
      const back = await until(200, a);
      assert.equal(back.retryAfter, null);
    }
  });
});

describe("what counts as down", () => {
  test("a connection the server closed (idle timeout, CLIENT KILL) is given its reconnect; a failed attempt is down", async (t) => {
    // The shared implementation the gateway, the client and doctor connect through.
    const { createRedisClient, isKnownDown, RedisUnavailableError, waitReady } = await import(
      "@cacheplane/client/connection"
    );
    const client = await createRedisClient(fx.secrets.a!, {
      connectTimeoutMs: HOUR_MS,
      commandTimeoutMs: HOUR_MS,
    });
    t.after(() => client.disconnect());
    client.on("error", () => undefined);
    await waitReady(client, HOUR_MS);

    // The server drops the connection: not "down", a waiting request is served after the reconnect.
    const closed = new Promise((r) => client.once("close", r));
    const admin = fx.redis.client();
    await admin.call("CLIENT", "KILL", "USER", fx.secrets.a!.username);
    admin.disconnect();
    await closed;
    assert.equal(isKnownDown(client), false);
    await waitReady(client, HOUR_MS);
    assert.equal(client.status, "ready");

    // Redis gone: the reconnect attempt fails, and from then on the client is known to be down.
    const lost = new Promise((r) => client.once("close", r));
    await fx.redis.kill();
    await lost;
    assert.equal(isKnownDown(client), false, "just lost: the reconnect gets its chance");
    await assert.rejects(
      waitReady(client, HOUR_MS),
      (error: unknown) =>
        error instanceof RedisUnavailableError &&
        error.reason === "failed" &&
        /is not connected \(reconnecting in the background\): .*ECONNREFUSED.*is the server running/.test(
          error.message,
        ),
    );
    assert.equal(isKnownDown(client), true);
    await assert.rejects(
      waitReady(client, HOUR_MS),
      (error: unknown) => error instanceof RedisUnavailableError && error.reason === "down",
    );
    await fx.redis.restart();
    await until(200, fx.tokens.a!.readWrite);
  });
});
