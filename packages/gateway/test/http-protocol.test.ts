// The Upstash REST protocol over HTTP, byte for byte: path-style commands, POST bodies as the last
// argument, base64 responses, binary-safe arguments, status codes, size limits, CORS, the console.
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { stopAll } from "@cacheplane/testkit";
import { type Fixture, post, startFixture } from "./helpers/fixture.js";

let fx: Fixture;
let token: string;
let auth: Record<string, string>;

before(async () => {
  fx = await startFixture({
    gateway: {
      limits: { maxBodyBytes: 64 * 1024, maxPipelineCommands: 50 },
      cors: { origins: ["https://app.example.com"] },
    },
  });
  token = fx.tokens.a!.readWrite;
  auth = { authorization: `Bearer ${token}` };
});
after(async () => {
  await fx?.close();
  await stopAll();
});

async function get(path: string, headers: Record<string, string> = auth) {
  const response = await fetch(`${fx.url}${path}`, { headers });
  return {
    status: response.status,
    json: (await response.json()) as Record<string, unknown>,
    headers: response.headers,
  };
}

describe("Upstash REST protocol", () => {
  test("path-style commands, with POST body and query parameters appended", async () => {
    assert.deepEqual((await get("/set/a:path/hello")).json, { result: "OK" });
    assert.deepEqual((await get("/GET/a:path")).json, { result: "hello" });
    assert.deepEqual((await get("/set/a:ex/v/EX/100")).json, { result: "OK" });
    assert.ok(((await get("/ttl/a:ex")).json.result as number) > 0);
    const body = JSON.stringify({ nested: "json value", n: 1 });
    const posted = await fetch(`${fx.url}/set/a:body?EX=100`, { method: "POST", headers: auth, body });
    assert.deepEqual(await posted.json(), { result: "OK" });
    assert.equal(await fx.direct("a").get("a:body"), body);
    assert.ok((await fx.direct("a").ttl("a:body")) > 0);
    const put = await fetch(`${fx.url}/hset/a:hash/field`, { method: "PUT", headers: auth, body: "value" });
    assert.deepEqual(await put.json(), { result: 1 });
    // Percent-encoded segments: spaces, slashes and unicode inside one argument.
    assert.deepEqual((await get(`/set/a:enc/${encodeURIComponent("a b/c €")}`)).json, { result: "OK" });
    assert.equal(await fx.direct("a").get("a:enc"), "a b/c €");
  });

  test("binary-safe arguments and base64 responses", async () => {
    const bytes = Buffer.from([0x00, 0xff, 0xfe, 0x80, 0x0a, 0x41]);
    // Raw bytes as a POST body.
    const posted = await fetch(`${fx.url}/set/a:bin`, { method: "POST", headers: auth, body: bytes });
    assert.equal(posted.status, 200);
    assert.deepEqual(await fx.direct("a").getBuffer("a:bin"), bytes);
    // Raw bytes as percent-encoded path segments.
    const path = [...bytes].map((b) => `%${b.toString(16).padStart(2, "0")}`).join("");
    assert.equal((await get(`/set/a:bin2/${path}`)).status, 200);
    assert.deepEqual(await fx.direct("a").getBuffer("a:bin2"), bytes);
    // Base64 returns the exact bytes; "OK" stays "OK"; integers stay numbers; null stays null.
    const b64 = { ...auth, "upstash-encoding": "base64" };
    assert.deepEqual((await get("/get/a:bin", b64)).json, { result: bytes.toString("base64") });
    assert.deepEqual((await get("/set/a:t/x", b64)).json, { result: "OK" });
    assert.deepEqual((await get("/incr/a:n", b64)).json, { result: 1 });
    assert.deepEqual((await get("/get/a:none", b64)).json, { result: null });
    await fx.direct("a").rpush("a:list", "OK", "x");
    assert.deepEqual((await get("/lrange/a:list/0/-1", b64)).json, {
      result: [Buffer.from("OK").toString("base64"), Buffer.from("x").toString("base64")],
    });
    // Without base64, invalid UTF-8 becomes U+FFFD as in Upstash.
    assert.equal((await get("/get/a:bin")).json.result, Buffer.from(bytes).toString("utf8"));
    // Exact big integers.
    await fx.direct("a").set("a:big", "9007199254740993");
    const res = await fetch(`${fx.url}/incr/a:big`, { headers: auth });
    assert.equal(await res.text(), '{"result":9007199254740994}');
    // Pipelines and transactions encode each result.
    const pipe = await post(
      fx.url,
      "/pipeline",
      [
        ["SET", "a:t", "v"],
        ["GET", "a:t"],
        ["INCR", "a:t"],
      ],
      token,
      {
        "upstash-encoding": "base64",
      },
    );
    assert.deepEqual(pipe.json, [
      { result: "OK" },
      { result: Buffer.from("v").toString("base64") },
      { error: "ERR value is not an integer or out of range" },
    ]);
  });

  test("JSON arguments: strings, numbers, booleans; anything else is a 400", async () => {
    assert.deepEqual((await post(fx.url, "/", ["SET", "a:num", 1.5], token)).json, { result: "OK" });
    assert.equal(await fx.direct("a").get("a:num"), "1.5");
    assert.deepEqual((await post(fx.url, "/", ["SET", "a:bool", true], token)).json, { result: "OK" });
    assert.equal(await fx.direct("a").get("a:bool"), "true");
    const bad: [unknown, RegExp][] = [
      [["SET", "a:x", null], /arguments must be strings or numbers, got null/],
      [["SET", "a:x", { v: 1 }], /got object/],
      [["SET", "a:x", ["v"]], /got array/],
      [[], /empty/],
      [[1, 2], /command name/],
      [{ command: "GET" }, /JSON array/],
      ["not json", /not valid JSON/],
      ["", /empty body/],
      [["G E T", "x"], /invalid command name/],
    ];
    for (const [body, message] of bad) {
      const res = await post(fx.url, "/", body, token);
      assert.equal(res.status, 400, res.text);
      assert.match(String((res.json as { error: string }).error), message);
    }
    const pipeBad = await post(fx.url, "/pipeline", [["GET", "a:x"], "GET"], token);
    assert.equal(pipeBad.status, 400);
    assert.equal((await post(fx.url, "/pipeline", [], token)).status, 400);
    assert.equal((await post(fx.url, "/pipeline", ["GET", "a:x"], token)).status, 400);
  });

  test("Redis errors are 400 with Redis's message; unknown commands too", async () => {
    const wrong = await post(fx.url, "/", ["GET"], token);
    assert.equal(wrong.status, 400);
    assert.deepEqual(wrong.json, { error: "ERR wrong number of arguments for 'get' command" });
    await fx.direct("a").set("a:str", "x");
    const type = await post(fx.url, "/", ["LPUSH", "a:str", "y"], token);
    assert.equal(type.status, 400);
    assert.match(String((type.json as { error: string }).error), /^WRONGTYPE/);
    const unknown = await post(fx.url, "/", ["NOSUCHCOMMAND", "x"], token);
    assert.equal(unknown.status, 400);
    assert.match(String((unknown.json as { error: string }).error), /^ERR unknown command/);
  });

  test("status codes: 401, 405, 413, unknown response format", async () => {
    assert.equal((await get("/get/a:x", {})).status, 401);
    assert.equal((await get("/get/a:x", { authorization: "Basic abc" })).status, 401);
    const del = await fetch(`${fx.url}/get/a:x`, { method: "DELETE", headers: auth });
    assert.equal(del.status, 405);
    assert.match(del.headers.get("allow") ?? "", /POST/);
    const big = await post(fx.url, "/", ["SET", "a:big", "x".repeat(70 * 1024)], token);
    assert.equal(big.status, 413);
    const chunked = await fetch(`${fx.url}/set/a:big`, {
      method: "POST",
      headers: auth,
      body: new ReadableStream({
        start(controller) {
          for (let i = 0; i < 20; i++) controller.enqueue(new Uint8Array(8 * 1024));
          controller.close();
        },
      }),
      duplex: "half",
    } as RequestInit);
    assert.equal(chunked.status, 413);
    const many = Array.from({ length: 51 }, () => ["PING"]);
    const tooMany = await post(fx.url, "/pipeline", many, token);
    assert.equal(tooMany.status, 413);
    assert.match(String((tooMany.json as { error: string }).error), /too many commands: 51 \(limit 50/);
    const resp3 = await fetch(`${fx.url}/get/a:x`, {
      headers: { ...auth, "upstash-response-format": "resp3" },
    });
    assert.equal(resp3.status, 400);
    assert.deepEqual(await resp3.json(), { error: "ERR Upstash-Response-Format must be json or resp2" });
    const head = await fetch(`${fx.url}/get/a:path`, { method: "HEAD", headers: auth });
    assert.equal(head.status, 200);
    assert.equal(await head.text(), "");
    assert.equal((await post(fx.url, "/", "x", undefined, { "content-type": "text/plain" })).status, 401);
    assert.equal((await get("/", auth)).status, 400);
  });

  test("CORS: preflight and responses for allowed origins only", async () => {
    const preflight = await fetch(`${fx.url}/`, {
      method: "OPTIONS",
      headers: {
        origin: "https://app.example.com",
        "access-control-request-method": "POST",
        "access-control-request-headers":
          "authorization, content-type, upstash-encoding, upstash-telemetry-sdk",
      },
    });
    assert.equal(preflight.status, 204);
    assert.equal(preflight.headers.get("access-control-allow-origin"), "https://app.example.com");
    assert.match(preflight.headers.get("access-control-allow-headers") ?? "", /upstash-telemetry-sdk/);
    const other = await fetch(`${fx.url}/`, {
      method: "OPTIONS",
      headers: { origin: "https://evil.example" },
    });
    assert.equal(other.headers.get("access-control-allow-origin"), null);
    const res = await fetch(`${fx.url}/get/a:path`, {
      headers: { ...auth, origin: "https://app.example.com" },
    });
    assert.equal(res.headers.get("access-control-allow-origin"), "https://app.example.com");
  });

  test("the console is served with a strict CSP and without a token", async () => {
    const redirect = await fetch(`${fx.url}/console`, { redirect: "manual" });
    assert.equal(redirect.status, 308);
    const page = await fetch(`${fx.url}/console/`);
    assert.equal(page.status, 200);
    assert.match(page.headers.get("content-type") ?? "", /text\/html/);
    assert.match(page.headers.get("content-security-policy") ?? "", /script-src 'self'/);
    assert.match(await page.text(), /<input id="token" type="password"/);
    const script = await fetch(`${fx.url}/console/app.js`);
    assert.match(script.headers.get("content-type") ?? "", /javascript/);
    assert.equal((await fetch(`${fx.url}/console/../package.json`)).status, 401); // normalised to /package.json
    assert.equal((await fetch(`${fx.url}/console/secret.json`)).status, 404);
    assert.equal((await fetch(`${fx.url}/console/%2e%2e%2fpackage.json`)).status, 404);
  });
});
