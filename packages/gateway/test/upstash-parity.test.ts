// Issue 11 item 3, Upstash parity: TIME, the read-your-writes sync token, `Upstash-Response-Format:
// resp2` (compared byte for byte with what redis-server itself sends) and `?_token=` on every route,
// with raw HTTP and, where it exercises the feature, the real @upstash/redis client.
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { stopAll } from "@cacheplane/testkit";
import { Redis as Upstash } from "@upstash/redis";
import { type Fixture, post, startFixture } from "./helpers/fixture.js";
import { frameEnd, type RawRedis, rawRedis } from "./helpers/raw-resp.js";

let fx: Fixture;
let token: string;
let raw: RawRedis;

before(async () => {
  fx = await startFixture();
  token = fx.tokens.a!.readWrite;
  const secret = fx.secrets.a!;
  raw = await rawRedis(secret.host, secret.port, secret.username, secret.password);
});
after(async () => {
  raw?.close();
  await fx?.close();
  await stopAll();
});

async function resp2(path: string, body: unknown, extra: Record<string, string> = {}) {
  const response = await fetch(`${fx.url}${path}`, {
    method: "POST",
    headers: { authorization: `Bearer ${token}`, "upstash-response-format": "resp2", ...extra },
    body: JSON.stringify(body),
  });
  return {
    status: response.status,
    type: response.headers.get("content-type"),
    bytes: Buffer.from(await response.arrayBuffer()),
  };
}

describe("TIME", () => {
  test("read-write and read-only tokens get the server's clock; so does @upstash/redis", async () => {
    for (const t of [fx.tokens.a!.readWrite, fx.tokens.a!.readOnly, fx.tokens.noscript!.readWrite]) {
      const res = await post(fx.url, "/", ["TIME"], t);
      assert.equal(res.status, 200, res.text);
      const [seconds, micros] = (res.json as { result: string[] }).result;
      assert.match(String(seconds), /^\d{10,}$/);
      assert.match(String(micros), /^\d{1,6}$/);
      assert.ok(Math.abs(Number(seconds) - Date.now() / 1000) < 3600, "the server's clock, in seconds");
    }
    const client = new Upstash({ url: fx.url, token, retry: false, enableTelemetry: false });
    const [seconds] = await client.time();
    assert.equal(typeof seconds, "number");
    // The service's own user may run it on the server too (the ACL grant, not only the gateway policy).
    const [direct] = (await fx.direct("ro").call("TIME")) as string[];
    assert.match(String(direct), /^\d+$/);
  });
});

describe("upstash-sync-token", () => {
  test("raw HTTP: no header, no token; with one, a growing token above the one sent", async () => {
    const plain = await post(fx.url, "/", ["PING"], token);
    assert.equal(plain.headers.get("upstash-sync-token"), null);
    const first = await post(fx.url, "/", ["SET", "a:sync", "1"], token, { "upstash-sync-token": "" });
    const t1 = first.headers.get("upstash-sync-token");
    assert.match(String(t1), /^\d+$/);
    const second = await post(fx.url, "/", ["GET", "a:sync"], token, { "upstash-sync-token": String(t1) });
    const t2 = second.headers.get("upstash-sync-token");
    assert.ok(BigInt(String(t2)) > BigInt(String(t1)));
    // A token from another gateway that is ahead of this one: the answer is still larger.
    const ahead = "99999999999999999999";
    const third = await post(fx.url, "/pipeline", [["GET", "a:sync"]], token, {
      "upstash-sync-token": ahead,
    });
    assert.ok(BigInt(String(third.headers.get("upstash-sync-token"))) > BigInt(ahead));
    // Garbage is ignored, not an error.
    const garbage = await post(fx.url, "/", ["GET", "a:sync"], token, { "upstash-sync-token": "x; drop" });
    assert.equal(garbage.status, 200);
    assert.match(String(garbage.headers.get("upstash-sync-token")), /^\d+$/);
    // Errors carry one too (the client keeps the last one it saw).
    const denied = await post(fx.url, "/", ["GET", "b:x"], token, { "upstash-sync-token": "1" });
    assert.equal(denied.status, 403);
    assert.match(String(denied.headers.get("upstash-sync-token")), /^\d+$/);
  });

  test("@upstash/redis keeps the token, sends it back, and reads its own writes", async () => {
    const writer = new Upstash({ url: fx.url, token, retry: false, enableTelemetry: false });
    assert.equal(writer.readYourWritesSyncToken, "");
    await writer.set("a:ryw", "v1");
    const afterWrite = writer.readYourWritesSyncToken;
    assert.match(String(afterWrite), /^\d+$/);
    // Another client (another Lambda, say) handed the writer's token reads the write.
    const reader = new Upstash({ url: fx.url, token, retry: false, enableTelemetry: false });
    reader.readYourWritesSyncToken = afterWrite;
    assert.equal(await reader.get("a:ryw"), "v1");
    assert.ok(BigInt(String(reader.readYourWritesSyncToken)) > BigInt(String(afterWrite)));
    await writer.get("a:ryw");
    assert.ok(BigInt(String(writer.readYourWritesSyncToken)) > BigInt(String(afterWrite)));
  });
});

describe("Upstash-Response-Format: resp2", () => {
  // The same sequence runs through the gateway on a:g:* and directly on a:d:*; no reply names a key.
  const sequence = (p: string): string[][] => [
    ["SET", `${p}s`, "bar"],
    ["GET", `${p}s`],
    ["GET", `${p}missing`],
    ["SET", `${p}s`, "OK", "GET"],
    ["SET", `${p}s`, "v", "NX"],
    ["GETDEL", `${p}s`],
    ["MSET", `${p}m1`, "1", `${p}m2`, "2"],
    ["INCR", `${p}n`],
    ["INCRBYFLOAT", `${p}f`, "1.5"],
    ["RPUSH", `${p}l`, "x", "", "z"],
    ["LRANGE", `${p}l`, "0", "-1"],
    ["LSET", `${p}l`, "0", "y"],
    ["LPOP", `${p}l`, "5"],
    ["HSET", `${p}h`, "f", "1", "g", "é"],
    ["HGETALL", `${p}h`],
    ["TYPE", `${p}h`],
    ["TYPE", `${p}none`],
    ["PING"],
    ["PING", "hi"],
    ["ECHO", "line\r\nbreak"],
    ["ZADD", `${p}z`, "1.5", "a", "2", "b"],
    ["ZRANGE", `${p}z`, "0", "-1", "WITHSCORES"],
    ["GEOADD", `${p}geo`, "13.361389", "38.115556", "Palermo"],
    ["GEOPOS", `${p}geo`, "Palermo", "Nowhere"],
    ["XADD", `${p}x`, "1-1", "f", "v"],
    ["XREAD", "COUNT", "1", "STREAMS", `${p}x`, "0"],
    ["XREAD", "COUNT", "1", "STREAMS", `${p}x`, "1-1"],
    ["LMPOP", "1", `${p}emptylist`, "LEFT"],
    ["RENAME", `${p}m1`, `${p}m3`],
    ["EXPIRE", `${p}m3`, "100"],
    ["EXISTS", `${p}m3`, `${p}m2`, `${p}none`],
    ["OBJECT", "ENCODING", `${p}m3`],
    ["LPUSH", `${p}m3`, "x"],
    ["PFADD", `${p}hll`, "a"],
    ["PFMERGE", `${p}hll2`, `${p}hll`],
    ["EVAL", "return {1, 'two', false}", "0"],
  ];

  test("every reply is byte for byte what redis-server sends (errors too)", async () => {
    const viaGateway = sequence("a:g:");
    const direct = sequence("a:d:");
    for (const [i, command] of viaGateway.entries()) {
      const expected = await raw.send(direct[i]!);
      const got = await resp2("/", command);
      assert.equal(got.type, "application/octet-stream");
      assert.equal(
        got.bytes.toString("latin1"),
        // XREAD names its stream: the direct run's key is a:d:x, the gateway's a:g:x.
        expected.toString("latin1").replaceAll("a:d:", "a:g:"),
        `${command.join(" ")}: ${JSON.stringify(got.bytes.toString("latin1"))}`,
      );
      assert.equal(got.status, expected[0] === 0x2d ? 400 : 200, command.join(" "));
    }
  });

  test("pipelines answer the replies one after another; /multi-exec stays JSON", async () => {
    const got = await resp2("/pipeline", [
      ["SET", "a:p:1", "x"],
      ["GET", "a:p:1"],
      ["INCR", "a:p:1"],
      ["GET", "b:denied"],
    ]);
    assert.equal(got.status, 200);
    const text = got.bytes.toString("latin1");
    assert.ok(
      text.startsWith("+OK\r\n$1\r\nx\r\n-ERR value is not an integer or out of range\r\n-NOPERM"),
      text,
    );
    // Exactly four frames.
    let at = 0;
    let frames = 0;
    while (at < got.bytes.length) {
      at = frameEnd(got.bytes, at);
      assert.ok(at > 0);
      frames++;
    }
    assert.equal(frames, 4);
    const tx = await resp2("/multi-exec", [["GET", "a:p:1"]]);
    assert.equal(tx.type, "application/json");
    assert.deepEqual(JSON.parse(tx.bytes.toString()), [{ result: "x" }]);
  });

  test("errors of the gateway are RESP2 errors with their status; base64 with resp2 is a 400", async () => {
    const denied = await resp2("/", ["KEYS", "*"]);
    assert.equal(denied.status, 403);
    assert.match(denied.bytes.toString(), /^-NOPERM 'keys' [^\r\n]*\r\n$/);
    const unauthorized = await fetch(`${fx.url}/get/a:x`, {
      headers: { "upstash-response-format": "resp2" },
    });
    assert.equal(unauthorized.status, 401);
    assert.match(await unauthorized.text(), /^-[^\r\n]+\r\n$/);
    const mixed = await fetch(`${fx.url}/get/a:x`, {
      headers: {
        authorization: `Bearer ${token}`,
        "upstash-response-format": "resp2",
        "upstash-encoding": "base64",
      },
    });
    assert.equal(mixed.status, 400);
    assert.deepEqual(await mixed.json(), {
      error: "ERR Upstash-Encoding base64 cannot be combined with Upstash-Response-Format resp2",
    });
    // Path-style and GET work alike.
    await post(fx.url, "/", ["SET", "a:path", "v"], token);
    const path = await fetch(`${fx.url}/get/a:path`, {
      headers: { authorization: `Bearer ${token}`, "upstash-response-format": "RESP2" },
    });
    assert.equal(await path.text(), "$1\r\nv\r\n");
  });
});

describe("?_token=", () => {
  test("works on every route Upstash accepts it on, and is never a command argument", async () => {
    const q = `_token=${encodeURIComponent(token)}`;
    const set = await fetch(`${fx.url}/set/a:q?EX=100&${q}`, { method: "POST", body: "body-value" });
    assert.deepEqual(await set.json(), { result: "OK" });
    assert.ok((await fx.direct("a").ttl("a:q")) > 0);
    assert.equal(await fx.direct("a").get("a:q"), "body-value");
    const get = await fetch(`${fx.url}/get/a:q?${q}`);
    assert.deepEqual(await get.json(), { result: "body-value" });
    const json = await fetch(`${fx.url}/?${q}`, { method: "POST", body: JSON.stringify(["GET", "a:q"]) });
    assert.deepEqual(await json.json(), { result: "body-value" });
    const pipeline = await fetch(`${fx.url}/pipeline?${q}`, {
      method: "POST",
      body: JSON.stringify([["PING"]]),
    });
    assert.deepEqual(await pipeline.json(), [{ result: "PONG" }]);
    const tx = await fetch(`${fx.url}/multi-exec?${q}`, { method: "POST", body: JSON.stringify([["PING"]]) });
    assert.deepEqual(await tx.json(), [{ result: "PONG" }]);
    // Server-Sent Events: what a browser's EventSource (which cannot send headers) uses.
    const abort = new AbortController();
    const stream = await fetch(`${fx.url}/subscribe/a:news?${q}`, { signal: abort.signal });
    assert.equal(stream.status, 200);
    const first = await stream.body!.getReader().read();
    assert.equal(new TextDecoder().decode(first.value), "data: subscribe,a:news,1\n\n");
    abort.abort();
  });

  test("a bad _token is a 401 that never echoes it; the Authorization header wins over it", async () => {
    const wrong = `${token.slice(0, -4)}zzzz`;
    const res = await fetch(`${fx.url}/get/a:q?_token=${encodeURIComponent(wrong)}`);
    assert.equal(res.status, 401);
    assert.ok(!(await res.text()).includes(wrong));
    const both = await fetch(`${fx.url}/get/a:q?_token=${encodeURIComponent(wrong)}`, {
      headers: { authorization: `Bearer ${token}` },
    });
    assert.equal(both.status, 200);
    const headerWrong = await fetch(`${fx.url}/get/a:q?_token=${encodeURIComponent(token)}`, {
      headers: { authorization: `Bearer ${wrong}` },
    });
    assert.equal(headerWrong.status, 401);
  });
});
