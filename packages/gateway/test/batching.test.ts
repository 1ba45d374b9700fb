// The gateway's Redis commands are batched per event-loop turn (one socket write per connection
// while commands are in flight, @cacheplane/client's write-batching.ts, docs/decisions/0021 and
// 0022): each request still gets its own reply or error, and its own deadline.
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { setTimeout as sleep } from "node:timers/promises";
import { countSocketWrites, stopAll } from "@cacheplane/testkit";
import { ServiceConnection } from "../src/redis-connection.js";
import { type Fixture, post, startFixture } from "./helpers/fixture.js";

let fx: Fixture;
let token: string;

before(async () => {
  fx = await startFixture({
    services: [{ name: "a", access: "read-write" }],
    gateway: { timeoutMs: 300 },
  });
  token = fx.tokens.a!.readWrite;
});
after(async () => {
  await fx?.close();
  await stopAll();
});

describe("per-turn batching of the gateway's commands", () => {
  test("commands of one turn leave in one write; a bad command does not fail its neighbours", async () => {
    const service = { name: "a", keyspace: "a", sharedKeyspaces: [], secret: fx.secrets.a! };
    const connection = new ServiceConnection(service, { timeoutMs: 5000 });
    try {
      await connection.commandTable(Date.now() + 5000);
      const deadline = Date.now() + 5000;
      await connection.call(["SET", "a:text", "not a number"], deadline);
      await connection.call(["SET", "a:n", "41"], deadline);
      const client = (
        connection as unknown as { redis: { readyClient(): { stream: unknown } } }
      ).redis.readyClient();
      const writes = countSocketWrites(client.stream);
      try {
        const outcomes = await Promise.allSettled([
          connection.call(["INCR", "a:text"], deadline),
          connection.call(["INCR", "a:n"], deadline),
          connection.call(["GET", "b:elsewhere"], deadline), // not this service's key: NOPERM
          connection.call(["NOSUCHCOMMAND"], deadline),
          connection.call(["GET", "a:n"], deadline),
        ]);
        // The first command found nothing in flight and left at once; the other four, one write.
        assert.equal(writes.count, 2, "five requests' commands: the first alone, then one write");
        const [bad, good, refused, unknown, read] = outcomes;
        assert.match(String((bad as PromiseRejectedResult).reason), /not an integer/);
        assert.deepEqual(good, { status: "fulfilled", value: "42" });
        assert.match(String((refused as PromiseRejectedResult).reason), /NOPERM/);
        assert.match(String((unknown as PromiseRejectedResult).reason), /unknown command/i);
        assert.deepEqual(read, { status: "fulfilled", value: Buffer.from("42") });
      } finally {
        writes.restore();
      }
    } finally {
      await connection.close();
    }
  });

  test("concurrent HTTP requests: each gets its own answer, errors stay with their request", async () => {
    assert.deepEqual((await post(fx.url, "/", ["SET", "a:text", "x"], token)).json, { result: "OK" });
    assert.deepEqual((await post(fx.url, "/", ["SET", "a:c", "0"], token)).json, { result: "OK" });
    const answers = await Promise.all(
      Array.from({ length: 30 }, (_, i) =>
        i % 3 === 0
          ? post(fx.url, "/", ["INCR", "a:text"], token)
          : i % 3 === 1
            ? post(fx.url, "/", ["INCR", "a:c"], token)
            : post(fx.url, "/", ["ECHO", `e${i}`], token),
      ),
    );
    const increments: number[] = [];
    answers.forEach((answer, i) => {
      if (i % 3 === 0) {
        assert.equal(answer.status, 400, JSON.stringify(answer.json));
        assert.match((answer.json as { error: string }).error, /not an integer/);
      } else if (i % 3 === 1) {
        assert.equal(answer.status, 200);
        increments.push((answer.json as { result: number }).result);
      } else {
        assert.deepEqual(answer.json, { result: `e${i}` });
      }
    });
    assert.deepEqual(
      increments.sort((a, b) => a - b),
      Array.from({ length: 10 }, (_, i) => i + 1),
    );
  });

  test("concurrent requests keep their deadline while Redis does not answer (503 each)", async () => {
    fx.redis.pause();
    try {
      const answers = await Promise.all(
        Array.from({ length: 5 }, (_, i) =>
          fetch(`${fx.url}/get/a:k${i}`, {
            headers: { authorization: `Bearer ${token}` },
            signal: AbortSignal.timeout(10_000),
          }),
        ),
      );
      for (const res of answers) {
        assert.equal(res.status, 503);
        assert.match(((await res.json()) as { error: string }).error, /^ERR Redis unavailable/);
      }
    } finally {
      fx.redis.resume();
    }
    for (let i = 0; i < 100; i++) {
      const res = await post(fx.url, "/", ["ECHO", "back"], token);
      if (res.status === 200) return;
      await sleep(50);
    }
    assert.fail("the gateway did not recover");
  });
});
