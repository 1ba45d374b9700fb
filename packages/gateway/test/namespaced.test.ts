// Issue 11 item 2: namespaced tokens (virtual databases) on a real redis-server, provisioned by the
// real provisioner with the scanner identity. A namespaced token sees its keyspace as a database of
// its own; every name it sends lands inside `<keyspace>:`, every name it gets back comes without it,
// and nothing it does reaches another keyspace.
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { stopAll } from "@cacheplane/testkit";
import { type Fixture, post, startFixture } from "./helpers/fixture.js";

let fx: Fixture;
let ns: string;
let nsRead: string;
let bNs: string;

before(async () => {
  fx = await startFixture({ scanner: true });
  ns = fx.tokens.a!.namespacedReadWrite;
  nsRead = fx.tokens.a!.namespacedReadOnly;
  bNs = fx.tokens.b!.namespacedReadWrite;
  const b = fx.direct("b");
  await b.set("b:secret", "b-private-value");
  await b.set("b:foo", "b-foo-value");
  await b.hset("b:hash", "f", "v");
});
after(async () => {
  await fx?.close();
  await stopAll();
});

const result = (json: unknown) => (json as { result?: unknown }).result;
const errorOf = (json: unknown) => String((json as { error?: unknown }).error ?? "");
const run = async (token: string, command: unknown[]) => post(fx.url, "/", command, token);

describe("namespaced tokens: names are relative to the keyspace", () => {
  test("keys land in <keyspace>: and replies name them without it", async () => {
    assert.deepEqual((await run(ns, ["SET", "foo", "bar"])).json, { result: "OK" });
    assert.equal(await fx.direct("a").get("a:foo"), "bar");
    assert.deepEqual((await run(ns, ["GET", "foo"])).json, { result: "bar" });
    // The plain token of the same service sees the full name.
    assert.deepEqual((await run(fx.tokens.a!.readWrite, ["GET", "a:foo"])).json, { result: "bar" });
    // b's namespaced token has its own "foo".
    assert.deepEqual((await run(bNs, ["GET", "foo"])).json, { result: "b-foo-value" });
    // Path-style and binary names too.
    const path = await fetch(`${fx.url}/set/user%3A1/%FF%00x`, {
      headers: { authorization: `Bearer ${ns}` },
    });
    assert.equal(path.status, 200);
    assert.deepEqual(await fx.direct("a").getBuffer("a:user:1"), Buffer.from([0xff, 0, 0x78]));
  });

  test("names that look like other keyspaces or paths stay inside the keyspace", async () => {
    for (const name of ["b:secret", "../b:secret", "b", "", "*", "a:x", " b:secret", "\\b:secret"]) {
      assert.deepEqual((await run(ns, ["SET", name, "mine"])).json, { result: "OK" }, name);
      assert.equal(await fx.direct("a").get(`a:${name}`), "mine", name);
    }
    assert.equal(await fx.direct("b").get("b:secret"), "b-private-value");
    assert.deepEqual((await run(ns, ["GET", "b:secret"])).json, { result: "mine" });
    // Multi-key and movable-key commands: every key prefixed.
    assert.deepEqual((await run(ns, ["MSET", "k1", "1", "b:secret", "2"])).json, { result: "OK" });
    assert.deepEqual((await run(ns, ["MGET", "k1", "b:secret", "nope"])).json, { result: ["1", "2", null] });
    assert.equal((await run(ns, ["COPY", "k1", "b:foo", "REPLACE"])).status, 200);
    assert.equal(await fx.direct("b").get("b:foo"), "b-foo-value");
    assert.equal(await fx.direct("a").get("a:b:foo"), "1");
    await run(ns, ["RENAME", "k1", "b:renamed"]);
    assert.equal(await fx.direct("a").get("a:b:renamed"), "1");
    assert.equal(await fx.direct("b").exists("b:renamed"), 0);
    await run(ns, ["SADD", "s1", "x", "y"]);
    await run(ns, ["SADD", "s2", "y"]);
    assert.deepEqual((await run(ns, ["SINTERCARD", "2", "s1", "s2"])).json, { result: 1 });
    assert.deepEqual((await run(ns, ["ZADD", "z1", "1", "m"])).json, { result: 1 });
    assert.deepEqual(
      (await run(ns, ["ZUNIONSTORE", "zout", "2", "z1", "b:zset", "WEIGHTS", "1", "2"])).json,
      {
        result: 1,
      },
    );
    assert.deepEqual(await fx.direct("a").zrange("a:zout", 0, -1), ["m"]);
    assert.equal((await run(ns, ["OBJECT", "ENCODING", "zout"])).status, 200);
    assert.equal(typeof result((await run(ns, ["MEMORY", "USAGE", "zout"])).json), "number");
    await run(ns, ["GEOADD", "geo", "13.361389", "38.115556", "Palermo"]);
    assert.deepEqual(
      (
        await run(ns, [
          "GEOSEARCHSTORE",
          "geo2",
          "geo",
          "FROMLONLAT",
          "13",
          "38",
          "BYRADIUS",
          "200",
          "km",
          "ASC",
        ])
      ).json,
      { result: 1 },
    );
    assert.equal(await fx.direct("a").exists("a:geo2"), 1);
  });

  test("replies that name keys come back without the prefix (XREAD, LMPOP, ZMPOP)", async () => {
    await run(ns, ["XADD", "stream", "1-1", "f", "v"]);
    assert.deepEqual((await run(ns, ["XREAD", "COUNT", "5", "STREAMS", "stream", "0"])).json, {
      result: [["stream", [["1-1", ["f", "v"]]]]],
    });
    await run(ns, ["XGROUP", "CREATE", "stream", "g", "0"]);
    assert.deepEqual(
      (await run(ns, ["XREADGROUP", "GROUP", "g", "c", "COUNT", "1", "STREAMS", "stream", ">"])).json,
      {
        result: [["stream", [["1-1", ["f", "v"]]]]],
      },
    );
    await run(ns, ["RPUSH", "list", "x", "y"]);
    assert.deepEqual((await run(ns, ["LMPOP", "2", "nolist", "list", "LEFT"])).json, {
      result: ["list", ["x"]],
    });
    await run(ns, ["ZADD", "zz", "1", "m"]);
    assert.deepEqual((await run(ns, ["ZMPOP", "1", "zz", "MIN"])).json, { result: ["zz", [["m", "1"]]] });
  });

  test("scripts get their declared KEYS prefixed; names built inside a script are refused by the ACL", async () => {
    await run(ns, ["SET", "counter", "41"]);
    const declared = await run(ns, ["EVAL", "return redis.call('INCR', KEYS[1])", "1", "counter"]);
    assert.deepEqual(declared.json, { result: 42 });
    // KEYS[1] already carries the prefix, so names derived from it stay inside the keyspace.
    const derived = await run(ns, [
      "EVAL",
      "return redis.call('SET', KEYS[1] .. ':copy', 'v')",
      "1",
      "counter",
    ]);
    assert.deepEqual(derived.json, { result: "OK" });
    assert.equal(await fx.direct("a").get("a:counter:copy"), "v");
    // A literal name inside the script is not prefixed: the ACL refuses it (it is not a:*).
    const refusedInScript = /can't access at least one of the keys|NOPERM/;
    const literal = await run(ns, ["EVAL", "return redis.call('GET', 'counter')", "0"]);
    assert.match(errorOf(literal.json), refusedInScript, literal.text);
    const other = await run(ns, ["EVAL", "return redis.call('GET', ARGV[1])", "0", "b:secret"]);
    assert.match(errorOf(other.json), refusedInScript, other.text);
    assert.ok(!other.text.includes("b-private-value"));
    // A malformed numkeys is refused before Redis.
    assert.equal((await run(ns, ["EVAL", "return 1", "5", "k"])).status, 400);
  });
});

describe("namespaced tokens: KEYS, SCAN, DBSIZE, FLUSHDB for the keyspace only", () => {
  test("KEYS, SCAN (MATCH, COUNT, TYPE) and DBSIZE see only this keyspace, without the prefix", async () => {
    const tok = fx.tokens.noscript!.namespacedReadWrite;
    for (let i = 0; i < 25; i++) await run(tok, ["SET", `k:${i}`, String(i)]);
    await run(tok, ["HSET", "h", "f", "v"]);
    const keys = result((await run(tok, ["KEYS", "*"])).json) as string[];
    assert.equal(keys.length, 26);
    assert.ok(keys.every((k) => !k.startsWith("noscript:")));
    assert.deepEqual((result((await run(tok, ["KEYS", "k:1?"])).json) as string[]).sort(), [
      "k:10",
      "k:11",
      "k:12",
      "k:13",
      "k:14",
      "k:15",
      "k:16",
      "k:17",
      "k:18",
      "k:19",
    ]);
    assert.deepEqual((await run(tok, ["DBSIZE"])).json, { result: 26 });
    const seen = new Set<string>();
    let cursor = "0";
    let rounds = 0;
    do {
      const [next, batch] = result((await run(tok, ["SCAN", cursor, "COUNT", "5"])).json) as [
        string,
        string[],
      ];
      for (const k of batch) seen.add(k);
      cursor = next;
      rounds++;
    } while (cursor !== "0" && rounds < 10_000);
    assert.equal(seen.size, 26);
    const hashes = result((await run(tok, ["SCAN", "0", "TYPE", "hash", "COUNT", "1000"])).json) as [
      string,
      string[],
    ];
    assert.deepEqual(hashes[1], ["h"]);
    const matched = result((await run(tok, ["SCAN", "0", "MATCH", "k:2*", "COUNT", "1000"])).json) as [
      string,
      string[],
    ];
    assert.deepEqual(matched[1].sort(), ["k:2", "k:20", "k:21", "k:22", "k:23", "k:24"]);
    // The read-only namespaced token enumerates too.
    assert.deepEqual((await run(fx.tokens.noscript!.namespacedReadOnly, ["DBSIZE"])).json, { result: 26 });
  });

  test("a crafted MATCH or cursor never lists another keyspace", async () => {
    for (const match of ["*", "../*", "b:*", "\\*", "*b:secret*", "[a-z]*", "?", "**", "\\"]) {
      let cursor = "0";
      let rounds = 0;
      do {
        const res = await run(ns, ["SCAN", cursor, "MATCH", match, "COUNT", "1000"]);
        assert.equal(res.status, 200, res.text);
        const [next, names] = result(res.json) as [string, string[]];
        for (const name of names) assert.ok(!name.includes("private") && name !== "secret", name);
        assert.ok(!res.text.includes("b-private-value"));
        cursor = next;
        rounds++;
      } while (cursor !== "0" && rounds < 1000);
      const keys = result((await run(ns, ["KEYS", match])).json) as string[];
      // Every name KEYS lists is a key of a, by its full name.
      for (const name of keys) assert.equal(await fx.direct("a").exists(`a:${name}`), 1, `${match}: ${name}`);
    }
    for (const cursor of ["18446744073709551615", "99999999999999999999999", "7"]) {
      const res = await run(ns, ["SCAN", cursor, "COUNT", "1000"]);
      // Redis refuses a cursor past 2^64 itself ("ERR invalid cursor"); any other lists only a's keys.
      if (res.status === 400 && errorOf(res.json) === "ERR invalid cursor") continue;
      assert.equal(res.status, 200, res.text);
      for (const name of (result(res.json) as [string, string[]])[1])
        assert.equal(await fx.direct("a").exists(`a:${name}`), 1, name);
    }
    for (const bad of ["-1", "abc", "1e3", ""]) assert.equal((await run(ns, ["SCAN", bad])).status, 400, bad);
  });

  test("FLUSHDB and FLUSHALL delete this keyspace only; read-only tokens may not", async () => {
    const tok = fx.tokens.noscript!.namespacedReadWrite;
    assert.equal((await run(fx.tokens.noscript!.namespacedReadOnly, ["FLUSHDB"])).status, 403);
    assert.ok((await fx.direct("noscript").exists("noscript:h")) === 1);
    assert.deepEqual((await run(tok, ["FLUSHDB"])).json, { result: "OK" });
    assert.deepEqual((await run(tok, ["DBSIZE"])).json, { result: 0 });
    assert.equal(await fx.direct("b").get("b:secret"), "b-private-value");
    assert.ok((await fx.direct("a").exists("a:foo")) === 1);
    await run(tok, ["SET", "x", "1"]);
    assert.deepEqual((await run(tok, ["FLUSHALL", "ASYNC"])).json, { result: "OK" });
    assert.deepEqual((await run(tok, ["KEYS", "*"])).json, { result: [] });
    assert.equal(await fx.direct("b").get("b:secret"), "b-private-value");
    assert.equal((await run(tok, ["FLUSHDB", "NOW"])).status, 400);
  });

  test("pipelines run keyspace commands in their place; transactions refuse them", async () => {
    const tok = fx.tokens.noscript!.namespacedReadWrite;
    const res = await post(
      fx.url,
      "/pipeline",
      [
        ["SET", "p1", "1"],
        ["DBSIZE"],
        ["SET", "p2", "2"],
        ["KEYS", "p*"],
        ["GET", "p1"],
        ["CONFIG", "GET", "x"],
      ],
      tok,
    );
    const items = res.json as { result?: unknown; error?: string }[];
    assert.deepEqual(items.slice(0, 5), [
      { result: "OK" },
      { result: 1 },
      { result: "OK" },
      { result: items[3]!.result },
      { result: "1" },
    ]);
    assert.deepEqual((items[3]!.result as string[]).sort(), ["p1", "p2"]);
    assert.match(String(items[5]!.error), /^NOPERM/);
    const tx = await post(
      fx.url,
      "/multi-exec",
      [
        ["SET", "t1", "1"],
        ["KEYS", "*"],
      ],
      tok,
    );
    assert.equal(tx.status, 400);
    assert.match(errorOf(tx.json), /cannot run inside a transaction/);
    assert.equal(await fx.direct("noscript").exists("noscript:t1"), 0);
    const ok = await post(
      fx.url,
      "/multi-exec",
      [
        ["SET", "t1", "1"],
        ["INCR", "t1"],
        ["LMPOP", "1", "none", "LEFT"],
      ],
      tok,
    );
    assert.deepEqual(ok.json, [{ result: "OK" }, { result: 2 }, { result: null }]);
  });

  test("the policy still applies: admin, blocking, SORT and MIGRATE are refused", async () => {
    for (const command of [
      ["CONFIG", "GET", "*"],
      ["BLPOP", "x", "0"],
      ["SORT", "x", "BY", "b:*"],
      ["MIGRATE", "127.0.0.1", "1", "x", "0", "100"],
      ["RANDOMKEY"],
      ["PUBSUB", "CHANNELS"],
      ["SCRIPT", "EXISTS", "x"],
    ]) {
      const res = await run(ns, command);
      assert.equal(res.status, 403, `${command.join(" ")}: ${res.text}`);
    }
    // Read-only namespaced tokens read, and write nothing.
    assert.deepEqual((await run(nsRead, ["GET", "foo"])).json, { result: "bar" });
    assert.equal((await run(nsRead, ["SET", "foo", "x"])).status, 403);
    assert.equal((await run(nsRead, ["EVAL", "return 1", "0"])).status, 403);
  });
});

describe("namespaced tokens: channels", () => {
  async function firstEvents(response: Response, count: number): Promise<string[]> {
    const reader = response.body!.getReader();
    const decoder = new TextDecoder();
    let text = "";
    while (text.split("\n\n").filter((e) => e.startsWith("data:")).length < count) {
      const { value, done } = await reader.read();
      if (done) break;
      text += decoder.decode(value);
    }
    await reader.cancel();
    return text
      .split("\n\n")
      .filter((e) => e.startsWith("data:"))
      .slice(0, count);
  }

  test("SUBSCRIBE and PUBLISH use channels inside the keyspace, shown without the prefix", async () => {
    const abort = new AbortController();
    const stream = await fetch(`${fx.url}/subscribe/news`, {
      headers: { authorization: `Bearer ${ns}` },
      signal: abort.signal,
    });
    assert.equal(stream.status, 200);
    const events = firstEvents(stream, 3);
    // Another tenant's "news" (b:news) and b's namespaced "news" do not reach it.
    await post(fx.url, "/", ["PUBLISH", "b:news", "not-for-a"], fx.tokens.b!.readWrite);
    await post(fx.url, "/", ["PUBLISH", "news", "not-for-a-either"], bNs);
    // The namespaced publisher and the plain token (full name) reach it.
    let delivered = 0;
    for (let i = 0; i < 100 && delivered === 0; i++)
      delivered = Number(result((await run(ns, ["PUBLISH", "news", "hello"])).json));
    await post(fx.url, "/", ["PUBLISH", "a:news", "full-name"], fx.tokens.a!.readWrite);
    const got = await events;
    abort.abort();
    assert.equal(got[0], "data: subscribe,news,1");
    assert.equal(got[1], "data: message,news,hello");
    assert.equal(got[2], "data: message,news,full-name");
  });

  test("PSUBSCRIBE patterns are matched inside the keyspace (also ones the ACL would refuse literally)", async () => {
    const abort = new AbortController();
    const stream = await fetch(`${fx.url}/psubscribe/ne[w]s:*`, {
      headers: { authorization: `Bearer ${ns}` },
      signal: abort.signal,
    });
    assert.equal(stream.status, 200);
    const events = firstEvents(stream, 2);
    await post(fx.url, "/", ["PUBLISH", "b:news:1", "other-tenant"], fx.tokens.b!.readWrite);
    let delivered = 0;
    for (let i = 0; i < 100 && delivered === 0; i++) {
      await run(ns, ["PUBLISH", "sports:1", "not-matching"]);
      delivered = Number(result((await run(ns, ["PUBLISH", "news:1", "hi"])).json));
    }
    const got = await events;
    abort.abort();
    assert.deepEqual(got, ["data: psubscribe,ne[w]s:*,1", "data: pmessage,ne[w]s:*,news:1,hi"]);
  });
});

describe("namespaced tokens without the scanner identity", () => {
  test("KEYS, SCAN, DBSIZE and FLUSHDB are refused naming the fix; everything else works", async () => {
    const plain = await startFixture({ services: [{ name: "solo", access: "read-write" }] });
    try {
      const tok = plain.tokens.solo!.namespacedReadWrite;
      assert.deepEqual((await post(plain.url, "/", ["SET", "foo", "1"], tok)).json, { result: "OK" });
      for (const command of [["KEYS", "*"], ["SCAN", "0"], ["DBSIZE"], ["FLUSHDB"]]) {
        const res = await post(plain.url, "/", command, tok);
        assert.equal(res.status, 403);
        assert.match(errorOf(res.json), /scanner identity.*cacheplane apply/);
      }
      assert.equal(await plain.direct("solo").get("solo:foo"), "1");
    } finally {
      await plain.close();
    }
  });
});
