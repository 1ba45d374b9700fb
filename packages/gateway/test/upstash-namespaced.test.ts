// Issue 11 item 2, acceptance: the real @upstash/redis (default options: auto-pipelining, base64
// responses, read-your-writes) and @upstash/ratelimit with its default prefix, unmodified, through a
// NAMESPACED token, against a real redis-server provisioned with the scanner identity. Keys are named
// as the @upstash/redis test suite names them ("foo", random base64 ids with "/", "+" and "="); each
// lands in the service's keyspace `a:`, and another service's data stays out of reach.
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { after, before, describe, test } from "node:test";
import { stopAll } from "@cacheplane/testkit";
import { Ratelimit } from "@upstash/ratelimit";
import { Redis as Upstash } from "@upstash/redis";
import type { Redis } from "ioredis";
import { type Fixture, startFixture } from "./helpers/fixture.js";

let fx: Fixture;
let redis: Upstash;
let direct: Redis;

/** A key as the @upstash/redis suite makes them: base64 of 32 random bytes. */
const newKey = () => randomBytes(32).toString("base64");

before(async () => {
  fx = await startFixture({ scanner: true });
  redis = new Upstash({ url: fx.url, token: fx.tokens.a!.namespacedReadWrite, enableTelemetry: false });
  direct = fx.direct("a");
  await fx.direct("b").set("b:foo", "b-private");
});
after(async () => {
  await fx?.close();
  await stopAll();
});

describe("@upstash/redis through a namespaced token", () => {
  test("strings and generic commands with the suite's key names", async () => {
    assert.equal(await redis.set("foo", "bar"), "OK");
    assert.equal(await redis.get("foo"), "bar");
    assert.equal(await direct.get("a:foo"), '"bar"'.replaceAll('"', "")); // stored as a: + foo
    const key = newKey();
    await redis.set(key, { hello: "world" }, { ex: 100 });
    assert.deepEqual(await redis.get(key), { hello: "world" });
    assert.ok((await redis.ttl(key)) > 0);
    assert.equal(await redis.exists(key, "foo", "nope"), 2);
    assert.equal(await redis.type(key), "string");
    assert.equal(await redis.incr("counter"), 1);
    assert.equal(await redis.incrbyfloat("float", 1.5), 1.5);
    await redis.mset({ m1: 1, m2: "two" });
    assert.deepEqual(await redis.mget("m1", "m2", "nope"), [1, "two", null]);
    assert.equal(await redis.getdel("m1"), 1);
    assert.equal(await redis.rename("m2", "m3"), "OK");
    assert.equal(await redis.copy("m3", "m4"), "COPIED");
    assert.equal(await redis.append("app", "x"), 1);
    assert.equal(await redis.setrange("app", 1, "yz"), 3);
    assert.equal(await redis.getrange("app", 0, -1), "xyz");
    assert.equal(await redis.expire("m4", 50), 1);
    assert.equal(await redis.persist("m4"), 1);
    assert.equal(await redis.touch("m3", "m4"), 2);
    assert.equal(await redis.unlink("m4"), 1);
    assert.equal(await redis.del("m3"), 1);
    // "b:foo" is just a name in this database, not b's key.
    assert.equal(await redis.get("b:foo"), null);
    await redis.set("b:foo", "mine");
    assert.equal(await fx.direct("b").get("b:foo"), "b-private");
    assert.equal(await direct.get("a:b:foo"), "mine");
  });

  test("hashes, lists, sets, sorted sets", async () => {
    assert.equal(await redis.hset("h", { f1: "v1", f2: 2 }), 2);
    assert.deepEqual(await redis.hgetall("h"), { f1: "v1", f2: 2 });
    const [, fields] = await redis.hscan("h", 0);
    assert.equal(fields.length, 4);
    assert.equal(await redis.lpush("l", "a", "b", "c"), 3);
    assert.deepEqual(await redis.lrange("l", 0, -1), ["c", "b", "a"]);
    assert.equal(await redis.lmove("l", "l2", "left", "right"), "c");
    assert.deepEqual(await redis.lrange("l2", 0, -1), ["c"]);
    assert.equal(await redis.lpos("l", "a"), 1);
    assert.equal(await redis.sadd("s1", "x", "y"), 2);
    await redis.sadd("s2", "y", "z");
    assert.deepEqual((await redis.sinter("s1", "s2")).sort(), ["y"]);
    assert.equal(await redis.sinterstore("s3", "s1", "s2"), 1);
    assert.equal(await redis.smove("s1", "s2", "x"), 1);
    assert.deepEqual((await redis.sunion("s1", "s2")).sort(), ["x", "y", "z"]);
    await redis.zadd("z1", { score: 1, member: "one" }, { score: 2, member: "two" });
    await redis.zadd("z2", { score: 3, member: "two" });
    assert.equal(await redis.zunionstore("zu", 2, ["z1", "z2"]), 2);
    assert.equal(await redis.zinterstore("zi", 2, ["z1", "z2"], { weights: [1, 2] }), 1);
    assert.deepEqual(await redis.zrange("zi", 0, -1, { withScores: true }), ["two", 8]);
    assert.deepEqual(await redis.zmscore("z1", ["one", "nope"]), [1, null]);
    assert.equal(await redis.zdiffstore("zd", 2, "z1", "z2"), 1);
    assert.equal(await direct.zcard("a:zu"), 2);
  });

  test("streams, geo, bitmaps, HyperLogLog, scripts", async () => {
    const id = await redis.xadd("stream", "*", { field: "value" });
    assert.match(String(id), /^\d+-\d+$/);
    assert.equal(await redis.xlen("stream"), 1);
    const read = (await redis.xread("stream", "0")) as unknown[];
    assert.equal((read[0] as unknown[])[0], "stream");
    assert.equal(await redis.xgroup("stream", { type: "CREATE", group: "g", id: "0" }), "OK");
    const group = (await redis.xreadgroup("g", "c", "stream", ">")) as unknown[];
    assert.equal((group[0] as unknown[])[0], "stream");
    assert.equal(
      await redis.geoadd("geo", { longitude: 13.361389, latitude: 38.115556, member: "Palermo" }),
      1,
    );
    assert.equal(
      await redis.geosearchstore(
        "geo2",
        "geo",
        { type: "FROMLONLAT", coordinate: { lon: 13, lat: 38 } },
        { type: "BYRADIUS", radius: 200, radiusType: "KM" },
        "ASC",
      ),
      1,
    );
    await redis.setbit("bits", 3, 1);
    assert.equal(await redis.bitcount("bits", 0, -1), 1);
    assert.equal(await redis.bitop("or", "bits2", "bits"), 1);
    assert.equal(await redis.pfadd("hll", "a", "b"), 1);
    assert.equal(await redis.pfmerge("hll2", "hll"), "OK");
    assert.equal(await redis.pfcount("hll2"), 2);
    assert.equal(await redis.eval("return redis.call('GET', KEYS[1])", ["foo"], []), "bar");
    const sha = await redis.scriptLoad("return redis.call('INCR', KEYS[1])");
    assert.equal(await redis.evalsha(sha, ["counter"], []), 2);
    const script = redis.createScript<number>("return redis.call('INCR', KEYS[1])");
    assert.equal(await script.exec(["counter"], []), 3);
    assert.equal(await redis.evalRo("return redis.call('GET', KEYS[1])", ["counter"], []), 3);
    assert.equal(await direct.get("a:counter"), "3");
  });

  test("pipeline, multi and auto-pipelined calls", async () => {
    const p = redis.pipeline();
    // ":" is not a base64 character, so no random key of the other tests can match "pipe:*".
    p.set("pipe:p1", 1).incr("pipe:p1").get("pipe:p1").keys("pipe:*").dbsize();
    const [set, incr, get, keys] = await p.exec();
    assert.deepEqual([set, incr, get, keys], ["OK", 2, 2, ["pipe:p1"]]);
    const tx = redis.multi();
    tx.set("t1", "x").get("t1");
    assert.deepEqual(await tx.exec(), ["OK", "x"]);
    // Auto-pipelining batches these into one /pipeline request.
    const [a1, a2, a3] = await Promise.all([redis.set("ap", "1"), redis.get("ap"), redis.exists("ap")]);
    assert.deepEqual([a1, a2, a3], ["OK", 1, 1]);
  });

  test("KEYS, SCAN (match, count, type, withType), DBSIZE, FLUSHDB answer for the keyspace only", async () => {
    const keys = await redis.keys("*");
    assert.ok(keys.includes("foo") && keys.includes("b:foo"));
    assert.ok(keys.every((k) => !k.startsWith("a:")));
    const size = await redis.dbsize();
    assert.equal(size, keys.length);
    const found: string[] = [];
    let cursor: string | number = 0;
    do {
      const [next, batch]: [string | number, string[]] = await redis.scan(cursor, { match: "s*", count: 3 });
      found.push(...batch);
      cursor = next;
    } while (String(cursor) !== "0");
    assert.deepEqual([...new Set(found)].sort(), ["s1", "s2", "s3", "stream"]);
    const [, streams] = await redis.scan(0, { type: "stream", count: 1000 });
    assert.deepEqual(streams, ["stream"]);
    const [, typed] = (await redis.scan(0, { match: "h", count: 1000, withType: true })) as unknown as [
      string,
      { key: string; type: string }[],
    ];
    assert.deepEqual(typed, [{ key: "h", type: "hash" }]);
    assert.equal(await redis.flushdb(), "OK");
    assert.equal(await redis.dbsize(), 0);
    assert.equal(await fx.direct("b").get("b:foo"), "b-private");
  });
});

describe("@upstash/ratelimit with its default prefix through a namespaced token", () => {
  test("sliding window, fixed window and token bucket limit, keys inside the keyspace", async (t) => {
    const admin = fx.redis.client();
    t.after(() => admin.disconnect());
    for (const limiter of [
      Ratelimit.slidingWindow(3, "60 s"),
      Ratelimit.fixedWindow(3, "60 s"),
      Ratelimit.tokenBucket(1, "60 s", 3),
    ]) {
      const ratelimit = new Ratelimit({ redis, limiter });
      const user = `user:${randomBytes(4).toString("hex")}`;
      const results = [];
      for (let i = 0; i < 4; i++) results.push((await ratelimit.limit(user)).success);
      assert.deepEqual(results, [true, true, true, false]);
      const remaining = await ratelimit.getRemaining(user);
      assert.equal(remaining.remaining, 0);
      // Its keys carry the default prefix, inside the service's keyspace.
      const stored = (await admin.keys(`a:@upstash/ratelimit:${user}*`)) as string[];
      assert.ok(stored.length > 0, "the limiter's keys are a:@upstash/ratelimit:...");
      assert.deepEqual(
        (await redis.keys(`@upstash/ratelimit:${user}*`)).sort(),
        stored.map((k) => k.slice(2)).sort(),
      );
    }
  });
});
