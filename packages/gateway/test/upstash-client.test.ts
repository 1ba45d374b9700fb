// Drives the real @upstash/redis (and @upstash/ratelimit) against the gateway with a real
// redis-server behind it, and compares with the same operations sent directly to Redis as the
// service's own user.
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { stopAll } from "@cacheplane/testkit";
import { Ratelimit } from "@upstash/ratelimit";
import { Redis as Upstash } from "@upstash/redis";
import type { Redis } from "ioredis";
import { type Fixture, startFixture } from "./helpers/fixture.js";

let fx: Fixture;
let upstash: Upstash;
let raw: Upstash;
let plain: Upstash;
let direct: Redis;

before(async () => {
  fx = await startFixture();
  const token = fx.tokens.a!.readWrite;
  const common = { url: fx.url, token, retry: false as const, enableTelemetry: false };
  upstash = new Upstash(common);
  raw = new Upstash({ ...common, automaticDeserialization: false });
  plain = new Upstash({ ...common, automaticDeserialization: false, responseEncoding: false });
  direct = fx.direct("a");
});
after(async () => {
  await fx?.close();
  await stopAll();
});

describe("@upstash/redis against the gateway", () => {
  test("strings: same results as direct Redis", async () => {
    assert.equal(await raw.set("a:s:1", "hello"), "OK");
    await direct.set("a:d:1", "hello");
    assert.equal(await raw.get("a:s:1"), await direct.get("a:d:1"));
    assert.equal(await raw.incr("a:s:n"), await direct.incr("a:d:n"));
    assert.equal(await raw.incrby("a:s:n", 41), await direct.incrby("a:d:n", 41));
    assert.equal(await raw.append("a:s:1", " world"), await direct.append("a:d:1", " world"));
    assert.equal(await raw.strlen("a:s:1"), await direct.strlen("a:d:1"));
    assert.deepEqual(await raw.mget("a:s:1", "a:s:missing"), await direct.mget("a:d:1", "a:d:missing"));
    assert.equal(await raw.get("a:s:missing"), null);
    assert.equal(await raw.set("a:s:nx", "1", { nx: true }), "OK");
    assert.equal(await raw.set("a:s:nx", "2", { nx: true }), null);
    assert.equal(await raw.set("a:s:ttl", "v", { ex: 100 }), "OK");
    const ttl = await raw.ttl("a:s:ttl");
    assert.ok(ttl > 0 && ttl <= 100);
    assert.equal(await raw.del("a:s:nx", "a:s:ttl"), await direct.del("a:d:none", "a:d:n", "a:d:1"));
    // Unicode survives the base64 response encoding and the plain UTF-8 one.
    const text = "héllo wörld € 日本 🎉 \u0000 end";
    await raw.set("a:s:uni", text);
    assert.equal(await raw.get("a:s:uni"), text);
    assert.equal(await plain.get("a:s:uni"), text);
    assert.equal(await direct.get("a:s:uni"), text);
    assert.equal(await raw.get("a:s:uni"), await direct.get("a:s:uni"));
  });

  test("hashes", async () => {
    assert.equal(await raw.hset("a:h:1", { f1: "v1", f2: "v2" }), 2);
    await direct.hset("a:hd:1", { f1: "v1", f2: "v2" });
    assert.equal(await raw.hget("a:h:1", "f1"), await direct.hget("a:hd:1", "f1"));
    assert.deepEqual(await upstash.hgetall("a:h:1"), await direct.hgetall("a:hd:1"));
    assert.equal(await raw.hincrby("a:h:1", "n", 5), await direct.hincrby("a:hd:1", "n", 5));
    assert.deepEqual((await raw.hkeys("a:h:1")).sort(), (await direct.hkeys("a:hd:1")).sort());
    assert.equal(await raw.hlen("a:h:1"), await direct.hlen("a:hd:1"));
    assert.equal(await raw.hdel("a:h:1", "f2"), await direct.hdel("a:hd:1", "f2"));
    assert.equal(await raw.hexists("a:h:1", "f2"), await direct.hexists("a:hd:1", "f2"));
    assert.equal(await upstash.hgetall("a:h:none"), null);
  });

  test("lists", async () => {
    assert.equal(await raw.rpush("a:l:1", "x", "y", "z"), await direct.rpush("a:ld:1", "x", "y", "z"));
    assert.equal(await raw.lpush("a:l:1", "w"), await direct.lpush("a:ld:1", "w"));
    assert.deepEqual(await raw.lrange("a:l:1", 0, -1), await direct.lrange("a:ld:1", 0, -1));
    assert.equal(await raw.lpop("a:l:1"), await direct.lpop("a:ld:1"));
    assert.equal(await raw.rpop("a:l:1"), await direct.rpop("a:ld:1"));
    assert.equal(await raw.llen("a:l:1"), await direct.llen("a:ld:1"));
    assert.equal(await raw.lindex("a:l:1", 0), await direct.lindex("a:ld:1", 0));
    assert.deepEqual(await raw.lrange("a:l:empty", 0, -1), []);
  });

  test("sets", async () => {
    assert.equal(await raw.sadd("a:set:1", "a", "b", "c"), await direct.sadd("a:setd:1", "a", "b", "c"));
    assert.deepEqual((await raw.smembers("a:set:1")).sort(), (await direct.smembers("a:setd:1")).sort());
    assert.equal(await raw.sismember("a:set:1", "b"), await direct.sismember("a:setd:1", "b"));
    assert.equal(await raw.scard("a:set:1"), await direct.scard("a:setd:1"));
    assert.equal(await raw.srem("a:set:1", "a"), await direct.srem("a:setd:1", "a"));
    await raw.sadd("a:set:2", "c", "d");
    await direct.sadd("a:setd:2", "c", "d");
    assert.deepEqual(await raw.sinter("a:set:1", "a:set:2"), await direct.sinter("a:setd:1", "a:setd:2"));
  });

  test("sorted sets", async () => {
    assert.equal(
      await raw.zadd(
        "a:z:1",
        { score: 1, member: "one" },
        { score: 2, member: "two" },
        { score: 3.5, member: "three" },
      ),
      await direct.zadd("a:zd:1", 1, "one", 2, "two", 3.5, "three"),
    );
    assert.deepEqual(await raw.zrange("a:z:1", 0, -1), await direct.zrange("a:zd:1", 0, -1));
    assert.deepEqual(
      await raw.zrange("a:z:1", 0, -1, { withScores: true }),
      await direct.zrange("a:zd:1", 0, -1, "WITHSCORES"),
    );
    assert.equal(await raw.zscore("a:z:1", "three"), await direct.zscore("a:zd:1", "three"));
    assert.equal(await raw.zincrby("a:z:1", 2, "one"), await direct.zincrby("a:zd:1", 2, "one"));
    assert.equal(await raw.zrank("a:z:1", "one"), await direct.zrank("a:zd:1", "one"));
    assert.equal(await raw.zcard("a:z:1"), await direct.zcard("a:zd:1"));
    // Deserialised scores come back as numbers.
    assert.equal(await upstash.zscore("a:z:1", "three"), 3.5);
  });

  test("JSON values are serialised and parsed by @upstash/redis", async () => {
    const value = { id: 7, name: "Ada", tags: ["x", "ü"], nested: { ok: true, n: null } };
    await upstash.set("a:json:1", value);
    assert.deepEqual(await upstash.get("a:json:1"), value);
    assert.deepEqual(JSON.parse((await direct.get("a:json:1")) ?? ""), value);
    await upstash.set("a:json:bool", true);
    assert.equal(await direct.get("a:json:bool"), "true");
    assert.equal(await upstash.get("a:json:bool"), true);
    await upstash.set("a:json:num", 42);
    assert.equal(await upstash.get("a:json:num"), 42);
    await upstash.hset("a:json:h", { profile: { age: 3 } });
    assert.deepEqual(await upstash.hget("a:json:h", "profile"), { age: 3 });
  });

  test("pipelines keep order and report errors per command", async () => {
    const p = raw.pipeline();
    p.set("a:p:1", "v1");
    p.incr("a:p:n");
    p.get("a:p:1");
    p.lpush("a:p:1", "x"); // WRONGTYPE
    p.get("a:p:missing");
    const results = await p.exec({ keepErrors: true });
    assert.equal(results.length, 5);
    assert.deepEqual(
      results.map((r) => r.result),
      ["OK", 1, "v1", undefined, null],
    );
    assert.match(String(results[3]?.error), /^WRONGTYPE/);
    const d = await direct
      .pipeline()
      .set("a:pd:1", "v1")
      .incr("a:pd:n")
      .get("a:pd:1")
      .lpush("a:pd:1", "x")
      .exec();
    assert.deepEqual(
      d?.map(([, r]) => r ?? undefined).slice(0, 3),
      results.slice(0, 3).map((r) => r.result),
    );
    await assert.rejects(() => raw.pipeline().set("a:p:2", "v").lpush("a:p:2", "x").exec(), /WRONGTYPE/);
  });

  test("transactions run atomically with MULTI/EXEC", async () => {
    const tx = raw.multi();
    tx.set("a:tx:1", "v");
    tx.incr("a:tx:n");
    tx.incr("a:tx:n");
    tx.get("a:tx:1");
    assert.deepEqual(await tx.exec(), ["OK", 1, 2, "v"]);
    const d = await direct.multi().set("a:txd:1", "v").incr("a:txd:n").incr("a:txd:n").get("a:txd:1").exec();
    assert.deepEqual(
      d?.map(([, r]) => r),
      ["OK", 1, 2, "v"],
    );
    // A runtime error inside EXEC fails only that command, as in Redis.
    const mixed = await raw
      .multi()
      .set("a:tx:2", "v")
      .lpush("a:tx:2", "x")
      .get("a:tx:2")
      .exec({ keepErrors: true });
    assert.equal(mixed[0]?.result, "OK");
    assert.match(String(mixed[1]?.error), /^WRONGTYPE/);
    assert.equal(mixed[2]?.result, "v");
  });

  test("scripting (a service with scripting: true); SCAN is refused even inside the keyspace", async () => {
    assert.equal(await raw.eval("return redis.call('SET', KEYS[1], ARGV[1])", ["a:lua:1"], ["v"]), "OK");
    assert.equal(await raw.get("a:lua:1"), "v");
    await assert.rejects(raw.scan(0, { match: "a:lua:*", count: 1000 }), /NOPERM .*SCAN/i);
  });

  test("@upstash/ratelimit works against the gateway", async () => {
    const limiter = new Ratelimit({
      redis: upstash,
      limiter: Ratelimit.slidingWindow(3, "60 s"),
      prefix: "a:ratelimit",
      analytics: false,
    });
    const outcomes = [];
    for (let i = 0; i < 5; i++) outcomes.push(await limiter.limit("user-1"));
    assert.deepEqual(
      outcomes.map((o) => o.success),
      [true, true, true, false, false],
    );
    assert.equal(outcomes[0]?.remaining, 2);
    const fixed = new Ratelimit({
      redis: upstash,
      limiter: Ratelimit.fixedWindow(2, "60 s"),
      prefix: "a:rl-fixed",
    });
    const f = [await fixed.limit("k"), await fixed.limit("k"), await fixed.limit("k")];
    assert.deepEqual(
      f.map((o) => o.success),
      [true, true, false],
    );
    const bucket = new Ratelimit({
      redis: upstash,
      limiter: Ratelimit.tokenBucket(1, "60 s", 2),
      prefix: "a:rl-bucket",
    });
    const b = [await bucket.limit("k"), await bucket.limit("k"), await bucket.limit("k")];
    assert.deepEqual(
      b.map((o) => o.success),
      [true, true, false],
    );
  });
});
