// Service isolation through the gateway: each token reaches only its service's keyspace; dangerous,
// admin, blocking and connection-changing commands are refused before Redis; read-only tokens read.
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { after, before, describe, test } from "node:test";
import { scriptLibrary } from "@cacheplane/core/server-scripts";
import { stopAll } from "@cacheplane/testkit";
import { Redis as Upstash } from "@upstash/redis";
import { type Fixture, post, startFixture } from "./helpers/fixture.js";

let fx: Fixture;
let a: string;
let aRead: string;
let b: string;

before(async () => {
  fx = await startFixture();
  a = fx.tokens.a!.readWrite;
  aRead = fx.tokens.a!.readOnly;
  b = fx.tokens.b!.readWrite;
  await fx.direct("b").set("b:secret", "b-private-value");
});
after(async () => {
  await fx?.close();
  await stopAll();
});

function errorOf(json: unknown): string {
  return String((json as { error?: unknown })?.error ?? "");
}

describe("isolation between services", () => {
  test("service A's token works on a:* and fails on b:*", async () => {
    assert.deepEqual((await post(fx.url, "/", ["SET", "a:k", "1"], a)).json, { result: "OK" });
    const denied = await post(fx.url, "/", ["GET", "b:secret"], a);
    assert.equal(denied.status, 403);
    assert.match(errorOf(denied.json), /^NOPERM/);
    assert.ok(!denied.text.includes("b-private-value"));
    const write = await post(fx.url, "/", ["SET", "b:secret", "overwritten"], a);
    assert.equal(write.status, 403);
    assert.equal(await fx.direct("b").get("b:secret"), "b-private-value");
    // Keys without a keyspace are refused by the ACL too.
    assert.equal((await post(fx.url, "/", ["SET", "unscoped", "1"], a)).status, 403);
    // The same through the real client: it throws.
    const client = new Upstash({ url: fx.url, token: a, retry: false, enableTelemetry: false });
    await assert.rejects(() => client.get("b:secret"), /NOPERM/);
  });

  test("admin, dangerous and key-listing commands are refused with 403", async () => {
    const refused: unknown[][] = [
      ["FLUSHALL"],
      ["FLUSHDB"],
      ["CONFIG", "SET", "maxmemory", "1"],
      ["CONFIG", "GET", "*"],
      ["KEYS", "*"],
      ["DBSIZE"],
      ["RANDOMKEY"],
      ["SCAN", "0"],
      ["SCAN", "0", "MATCH", "*"],
      ["SCAN", "0", "MATCH", "b:*"],
      ["SCAN", "0", "MATCH", "a:*"],
      ["CLIENT", "TRACKING", "ON", "BCAST", "PREFIX", "b:"],
      ["CLIENT", "GETREDIR"],
      ["PUBSUB", "NUMSUB", "b:chan"],
      ["PUBSUB", "SHARDCHANNELS"],
      ["MEMORY", "STATS"],
      ["CLUSTER", "GETKEYSINSLOT", "0", "10"],
      ["SCRIPT", "EXISTS", "a".repeat(40)],
      ["ACL", "LIST"],
      ["DEBUG", "SLEEP", "1"],
      ["SHUTDOWN"],
      ["INFO"],
      ["MONITOR"],
      ["SUBSCRIBE", "a:chan"],
      ["PSUBSCRIBE", "a:*"],
      ["PUBSUB", "CHANNELS"],
      ["BLPOP", "a:list", "0"],
      ["BRPOP", "a:list", "1"],
      ["XREAD", "BLOCK", "0", "STREAMS", "a:s", "$"],
      ["SELECT", "1"],
      ["CLIENT", "SETNAME", "x"],
      ["CLIENT", "REPLY", "OFF"],
      ["HELLO", "3"],
      ["AUTH", "b", "password"],
      ["MULTI"],
      ["WATCH", "a:k"],
      ["WAIT", "1", "0"],
      ["MOVE", "a:k", "1"],
      ["SWAPDB", "0", "1"],
      ["COPY", "a:k", "a:k2", "DB", "1"],
      ["SORT", "a:list"],
      ["MIGRATE", "127.0.0.1", "1", "a:k", "0", "1"],
      ["SCRIPT", "FLUSH"],
      ["FUNCTION", "FLUSH"],
      ["QUIT"],
      ["RESET"],
    ];
    for (const command of refused) {
      const res = await post(fx.url, "/", command, a);
      assert.equal(res.status, 403, `${command.join(" ")} -> ${res.status} ${res.text}`);
      assert.match(errorOf(res.json), /^NOPERM /, command.join(" "));
    }
    // The shared connection is untouched by all of that.
    assert.deepEqual((await post(fx.url, "/", ["GET", "a:k"], a)).json, { result: "1" });
    assert.equal(await fx.direct("b").get("b:secret"), "b-private-value");
  });

  test("enumeration is refused inside scripts too: the ACL, not only the gateway, is the guard", async () => {
    for (const body of [
      "return redis.call('SCAN', '0', 'COUNT', '10000')",
      "return redis.call('DBSIZE')",
      "return redis.call('PUBSUB', 'CHANNELS')",
      "return redis.call('KEYS', '*')",
      "return redis.call('RANDOMKEY')",
    ]) {
      for (const command of ["EVAL", "EVAL_RO"]) {
        const res = await post(fx.url, "/", [command, body, 0], a);
        assert.ok(res.status >= 400 && res.status < 500, `${command} ${body}: ${res.status} ${res.text}`);
        assert.match(res.text, /can.t run this command|NOPERM/i, body);
        assert.ok(!res.text.includes("b:secret"), body);
      }
    }
    // XREAD without BLOCK is fine.
    await post(fx.url, "/", ["XADD", "a:stream", "*", "f", "v"], a);
    assert.equal(
      (await post(fx.url, "/", ["XREAD", "COUNT", "1", "STREAMS", "a:stream", "0"], a)).status,
      200,
    );
  });

  test("EVAL: allowed for a service with scripting: true, refused (403, naming the fix) without it", async () => {
    const ok = await post(fx.url, "/", ["EVAL", "return redis.call('INCR', KEYS[1])", 1, "a:counter"], a);
    assert.deepEqual(ok.json, { result: 1 });
    // Inside a script the ACL still applies to every key.
    const sneaky = await post(fx.url, "/", ["EVAL", "return redis.call('GET', 'b:secret')", 0], a);
    assert.ok(sneaky.status >= 400 && sneaky.status < 500, sneaky.text);
    assert.ok(!sneaky.text.includes("b-private-value"));
    const noscript = fx.tokens.noscript!.readWrite;
    const refused = await post(fx.url, "/", ["EVAL", "return 1", 0], noscript);
    assert.equal(refused.status, 403);
    assert.match(
      errorOf(refused.json),
      /^NOPERM service "noscript" may not run its own scripts .*scripting: true/,
    );
    for (const command of [
      ["EVALSHA", "a".repeat(40), 0],
      ["EVAL_RO", "return 1", 0],
      ["SCRIPT", "LOAD", "return 1"],
    ]) {
      assert.equal((await post(fx.url, "/", command, noscript)).status, 403, String(command[0]));
    }
    // The platform's functions are what a service without scripting uses (the client's rate limits).
    const limited = await post(
      fx.url,
      "/",
      ["FCALL", `cp_${scriptLibrary().version}_fixedWindow`, 1, "noscript:rl", 5, 60000, 1],
      noscript,
    );
    assert.equal(limited.status, 200, limited.text);
    // Read-only tokens never run scripts or functions: an EVAL_RO loop would stall every service.
    for (const command of [
      ["EVAL", "return 1", 0],
      ["EVAL_RO", "return 1", 0],
      ["EVALSHA_RO", "a".repeat(40), 0],
      ["FCALL_RO", "f", 0],
      ["FCALL", "f", 0],
    ]) {
      const res = await post(fx.url, "/", command, aRead);
      assert.equal(res.status, 403, String(command[0]));
      assert.match(errorOf(res.json), /read-only tokens: they run no scripts or functions/);
    }
  });

  test("each service has its own script map: another service's EVALs never evict or reuse its SHAs", async () => {
    // An Upstash-style script (unknown shebang flag) is adapted; its original SHA1 maps to the adaptation.
    const body = "#!lua flags=allow-key-locking\nreturn redis.call('GET', KEYS[1])";
    const sha = createHash("sha1").update(body).digest("hex");
    await post(fx.url, "/", ["SET", "a:mapped", "mine"], a);
    assert.deepEqual((await post(fx.url, "/", ["EVAL", body, 1, "a:mapped"], a)).json, { result: "mine" });
    // 1,200 distinct scripts of service b (more than a map holds) do not push a's SHA out.
    const flood = Array.from({ length: 1200 }, (_, i) => [
      "EVAL",
      `#!lua flags=allow-key-locking\nreturn ${i}`,
      0,
    ]);
    for (let i = 0; i < flood.length; i += 100) {
      const res = await post(fx.url, "/pipeline", flood.slice(i, i + 100), b);
      assert.equal(res.status, 200);
    }
    assert.deepEqual((await post(fx.url, "/", ["EVALSHA", sha, 1, "a:mapped"], a)).json, { result: "mine" });
    // b never saw that script: its EVALSHA of the original SHA1 is not mapped to a's adaptation.
    const other = await post(fx.url, "/", ["EVALSHA", sha, 1, "b:x"], b);
    assert.match(other.text, /NOSCRIPT/);
  });

  test("a read-only token reads but cannot write", async () => {
    assert.deepEqual((await post(fx.url, "/", ["GET", "a:k"], aRead)).json, { result: "1" });
    assert.equal((await post(fx.url, "/", ["EXISTS", "a:k"], aRead)).status, 200);
    for (const command of [
      ["SET", "a:k", "2"],
      ["DEL", "a:k"],
      ["INCR", "a:k"],
      ["EXPIRE", "a:k", "10"],
      ["PUBLISH", "a:chan", "x"],
      ["SCRIPT", "LOAD", "return 1"],
    ]) {
      const res = await post(fx.url, "/", command, aRead);
      assert.equal(res.status, 403, command.join(" "));
      assert.match(errorOf(res.json), /read-only/);
    }
    assert.equal(await fx.direct("a").get("a:k"), "1");
    // Path-style and pipelines obey the same rule.
    assert.equal(
      (await fetch(`${fx.url}/set/a:k/3`, { headers: { authorization: `Bearer ${aRead}` } })).status,
      403,
    );
    const pipe = await post(
      fx.url,
      "/pipeline",
      [
        ["GET", "a:k"],
        ["SET", "a:k", "4"],
      ],
      aRead,
    );
    assert.equal(pipe.status, 200);
    const items = pipe.json as { result?: unknown; error?: string }[];
    assert.equal(items[0]?.result, "1");
    assert.match(String(items[1]?.error), /^NOPERM/);
    const client = new Upstash({ url: fx.url, token: aRead, retry: false, enableTelemetry: false });
    await assert.rejects(() => client.set("a:k", "5"), /read-only/);
    assert.equal(await fx.direct("a").get("a:k"), "1");
    // The read-only service's own token cannot write either (ACL and policy agree).
    assert.equal((await post(fx.url, "/", ["SET", "ro:k", "1"], fx.tokens.ro!.readWrite)).status, 403);
  });

  test("pipelines: denied commands fail alone; transactions with a denied command do not run", async () => {
    const pipe = await post(
      fx.url,
      "/pipeline",
      [["SET", "a:p", "1"], ["FLUSHALL"], ["GET", "b:secret"], ["GET", "a:p"]],
      a,
    );
    assert.equal(pipe.status, 200);
    const items = pipe.json as { result?: unknown; error?: string }[];
    assert.deepEqual(items[0], { result: "OK" });
    assert.match(String(items[1]?.error), /^NOPERM/);
    assert.match(String(items[2]?.error), /^NOPERM/);
    assert.deepEqual(items[3], { result: "1" });
    const tx = await post(
      fx.url,
      "/multi-exec",
      [
        ["SET", "a:tx", "1"],
        ["KEYS", "*"],
      ],
      a,
    );
    assert.equal(tx.status, 403);
    assert.equal(await fx.direct("a").get("a:tx"), null);
    // A key outside the keyspace makes Redis discard the whole transaction.
    const acl = await post(
      fx.url,
      "/multi-exec",
      [
        ["SET", "a:tx", "1"],
        ["SET", "b:tx", "1"],
      ],
      a,
    );
    assert.equal(acl.status, 403, acl.text);
    assert.match(errorOf(acl.json), /^EXECABORT .*NOPERM/);
    assert.equal(await fx.direct("a").get("a:tx"), null);
  });

  test("tokens: unknown, missing, malformed and other services' tokens", async () => {
    for (const token of [undefined, "", "nope", "x".repeat(600), `${a}x`, a.slice(0, -1)]) {
      const res = await post(fx.url, "/", ["GET", "a:k"], token);
      assert.equal(res.status, 401, String(token));
      assert.equal(res.headers.get("www-authenticate"), 'Bearer realm="cacheplane"');
    }
    // B's token sees B's data, never A's.
    assert.deepEqual((await post(fx.url, "/", ["GET", "b:secret"], b)).json, { result: "b-private-value" });
    assert.equal((await post(fx.url, "/", ["GET", "a:k"], b)).status, 403);
    // _token query parameter, as Upstash supports.
    const viaQuery = await fetch(`${fx.url}/get/a:k?_token=${encodeURIComponent(a)}`);
    assert.deepEqual(await viaQuery.json(), { result: "1" });
  });

  test("no token or password ever appears in responses or logs", async () => {
    const secrets = fx.secretStrings();
    const responses: string[] = [];
    for (const token of [a, aRead, b]) {
      responses.push((await post(fx.url, "/", ["ECHO", "x"], token)).text);
      responses.push((await post(fx.url, "/", ["FOO", token], token)).text);
      responses.push((await post(fx.url, "/", ["GET", token], token)).text);
      responses.push((await post(fx.url, "/", ["SET", "b:x", token], token)).text);
      responses.push((await post(fx.url, "/", { not: "an array" }, token)).text);
    }
    responses.push((await post(fx.url, "/", ["GET", "a:k"], `${a}typo`)).text);
    const logs = JSON.stringify(fx.logs);
    for (const secret of secrets) {
      for (const text of responses) assert.ok(!text.includes(secret), `response leaks a secret: ${text}`);
      assert.ok(!logs.includes(secret), "log leaks a secret");
    }
    assert.ok(fx.logs.length > 0);
  });
});
