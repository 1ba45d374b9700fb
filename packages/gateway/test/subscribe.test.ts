// /subscribe and /psubscribe as Server-Sent Events on each service's dedicated connection, in
// Upstash's format, limited to the service's channels; also through @upstash/redis's subscribe().
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { setTimeout as sleep } from "node:timers/promises";
import { stopAll } from "@cacheplane/testkit";
import { Redis as Upstash } from "@upstash/redis";
import { type Fixture, post, startFixture } from "./helpers/fixture.js";

let fx: Fixture;
let token: string;

before(async () => {
  fx = await startFixture({ gateway: { limits: { maxSubscriptionsPerService: 3 } } });
  token = fx.tokens.a!.readWrite;
});
after(async () => {
  await fx?.close();
  await stopAll();
});

/** Reads SSE `data:` lines from a response until `count` arrived. */
async function readEvents(
  response: Response,
  count: number,
): Promise<{ events: string[]; cancel: () => Promise<void> }> {
  const reader = response.body!.getReader();
  const decoder = new TextDecoder();
  const events: string[] = [];
  let buffer = "";
  while (events.length < count) {
    const { done, value } = await reader.read();
    if (done) break;
    buffer += decoder.decode(value, { stream: true });
    let end = buffer.indexOf("\n\n");
    while (end >= 0) {
      const block = buffer.slice(0, end);
      buffer = buffer.slice(end + 2);
      const data = block
        .split("\n")
        .filter((l) => l.startsWith("data: "))
        .map((l) => l.slice(6));
      if (data.length > 0) events.push(data.join("\n"));
      end = buffer.indexOf("\n\n");
    }
  }
  return { events, cancel: () => reader.cancel() };
}

/** Publishes until the subscriber has seen it (subscription is confirmed first, so one usually suffices). */
async function publish(channel: string, message: string) {
  return post(fx.url, "/", ["PUBLISH", channel, message], token);
}

describe("subscribe over Server-Sent Events", () => {
  test("messages arrive in Upstash's format; line breaks become several data lines", async () => {
    const response = await fetch(`${fx.url}/subscribe/a:chat`, {
      method: "POST",
      headers: { authorization: `Bearer ${token}`, accept: "text/event-stream" },
    });
    assert.equal(response.status, 200);
    assert.equal(response.headers.get("content-type"), "text/event-stream");
    const pending = readEvents(response, 3);
    await sleep(50);
    assert.deepEqual((await publish("a:chat", "hello")).json, { result: 1 });
    await publish("a:chat", "two\nlines");
    const { events, cancel } = await pending;
    assert.deepEqual(events, ["subscribe,a:chat,1", "message,a:chat,hello", "message,a:chat,two\nlines"]);
    await cancel();
    // After the stream closed, the channel has no subscriber left.
    let receivers = -1;
    for (let i = 0; i < 50 && receivers !== 0; i++) {
      receivers = ((await publish("a:chat", "x")).json as { result: number }).result;
      if (receivers !== 0) await sleep(20);
    }
    assert.equal(receivers, 0);
  });

  test("psubscribe to the keyspace's pattern (Redis's ACL compares patterns literally)", async () => {
    const response = await fetch(`${fx.url}/psubscribe/${encodeURIComponent("a:*")}`, {
      headers: { authorization: `Bearer ${fx.tokens.a!.readOnly}` },
    });
    assert.equal(response.status, 200);
    const pending = readEvents(response, 2);
    await sleep(50);
    await publish("a:news:eu", "m1");
    const { events, cancel } = await pending;
    assert.deepEqual(events, ["psubscribe,a:*,1", "pmessage,a:*,a:news:eu,m1"]);
    await cancel();
    // A narrower pattern is not literally one of the user's channel patterns: Redis refuses it.
    const narrower = await fetch(`${fx.url}/psubscribe/${encodeURIComponent("a:news:*")}`, {
      headers: { authorization: `Bearer ${token}` },
    });
    assert.equal(narrower.status, 403);
    assert.match(((await narrower.json()) as { error: string }).error, /^NOPERM/);
  });

  test("other services' channels, bad tokens and too many streams are refused", async () => {
    const other = await fetch(`${fx.url}/subscribe/b:chat`, {
      headers: { authorization: `Bearer ${token}` },
    });
    assert.equal(other.status, 403);
    assert.match(((await other.json()) as { error: string }).error, /^NOPERM channels must start with "a:"/);
    const pattern = await fetch(`${fx.url}/psubscribe/*`, { headers: { authorization: `Bearer ${token}` } });
    assert.equal(pattern.status, 403);
    assert.equal((await fetch(`${fx.url}/subscribe/a:chat`)).status, 401);
    // The ACL is the final guard: the service's own user cannot subscribe outside its channels.
    const direct = fx.direct("a");
    await assert.rejects(() => direct.subscribe("b:chat"), /NOPERM/);
    // Plain SUBSCRIBE on the command endpoint is refused.
    assert.equal((await post(fx.url, "/", ["SUBSCRIBE", "a:chat"], token)).status, 403);

    const open: Response[] = [];
    for (let i = 0; i < 3; i++) {
      const r = await fetch(`${fx.url}/subscribe/a:many${i}`, {
        headers: { authorization: `Bearer ${token}` },
      });
      assert.equal(r.status, 200);
      open.push(r);
    }
    const fourth = await fetch(`${fx.url}/subscribe/a:many4`, {
      headers: { authorization: `Bearer ${token}` },
    });
    assert.equal(fourth.status, 429);
    for (const r of open) await r.body?.cancel();
  });

  test("@upstash/redis subscribe() receives messages through the gateway", async () => {
    const client = new Upstash({ url: fx.url, token, retry: false, enableTelemetry: false });
    const subscriber = client.subscribe<{ n: number }>(["a:events"]);
    const received: unknown[] = [];
    const got = new Promise<void>((resolve) => {
      subscriber.on("message", (event) => {
        received.push(event.message);
        resolve();
      });
    });
    let subscribed = false;
    subscriber.on("subscribe", () => {
      subscribed = true;
    });
    for (let i = 0; i < 100 && !subscribed; i++) await sleep(20);
    assert.ok(subscribed);
    await client.publish("a:events", { n: 1 });
    await got;
    assert.deepEqual(received, [{ n: 1 }]);
    await subscriber.unsubscribe();
  });
});
