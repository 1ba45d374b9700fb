// The client's atomic operations run the platform's server scripts: FCALL of the function library the
// platform loaded (no EVAL permission needed), EVALSHA for services allowed to script, and a clear
// error when neither is possible. Real redis-server with ACL users.
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { buildAccessString } from "@cacheplane/core";
import { scriptLibrary, slidingWindowScript } from "@cacheplane/core/server-scripts";
import { type RedisServer, startRedis } from "@cacheplane/testkit";
import type { Redis } from "ioredis";
import { CacheConfigError, type CacheService, closeAllRedisConnections, createCache } from "../src/index.js";
import { createRateLimiter } from "../src/patterns/rate-limits/index.js";
import { loadScriptLibrary, RELAXED, secretFor } from "./helpers/redis.js";

const PASSWORD = "Server-Scripts-Pw-0011223344";
const NO_EVAL = ["-eval", "-evalsha", "-eval_ro", "-evalsha_ro", "-script"];

let server: RedisServer;
let admin: Redis;

async function user(
  name: string,
  keyspace: string,
  extra: string[],
  scripting = false,
): Promise<CacheService> {
  const access = buildAccessString({
    keyspace,
    access: { preset: "read-write", commands: extra.length ? extra : ["+get"] },
    scripting,
  });
  await admin.call("ACL", "SETUSER", name, "reset", ...access.split(" "), `>${PASSWORD}`);
  return createCache({
    secret: { ...secretFor(server, keyspace, PASSWORD), username: name },
    throwOnError: true,
    ...RELAXED,
  });
}

async function commandCalls(command: string): Promise<number> {
  const info = (await admin.info("commandstats")) as string;
  const match = new RegExp(`^cmdstat_${command}:calls=(\\d+)`, "m").exec(info);
  return match ? Number(match[1]) : 0;
}

before(async () => {
  server = await startRedis({ acl: true, tls: false });
  admin = server.client();
});

after(async () => {
  await closeAllRedisConnections();
  admin?.disconnect();
  await server?.stop();
});

describe("server scripts", () => {
  it("run as FCALL of the platform library for a service that may not EVAL", async () => {
    await loadScriptLibrary(admin);
    const cache = await user("nofcalleval", "fc", NO_EVAL);
    const fcallsBefore = await commandCalls("fcall");
    const evalsBefore = (await commandCalls("evalsha")) + (await commandCalls("eval"));
    const limiter = createRateLimiter(cache, { algorithm: "fixed-window", limit: 2, window: 60, name: "f" });
    assert.equal((await limiter.limit("u")).allowed, true);
    assert.equal((await limiter.limit("u")).allowed, true);
    assert.equal((await limiter.limit("u")).allowed, false);
    const lock = await cache.lock("job", 30);
    assert.ok(lock);
    assert.equal(await lock.release(), true);
    assert.ok((await commandCalls("fcall")) - fcallsBefore >= 4);
    assert.equal((await commandCalls("evalsha")) + (await commandCalls("eval")), evalsBefore);
    await cache.close();
  });

  it("fall back to EVALSHA when the library is not loaded and the service may script", async () => {
    await admin.call("FUNCTION", "FLUSH");
    const cache = await user("evaluser", "ev", [], true);
    const limiter = createRateLimiter(cache, { algorithm: "token-bucket", limit: 3, window: 60, name: "e" });
    assert.equal((await limiter.limit("u")).remaining, 2);
    await admin.script("FLUSH"); // NOSCRIPT -> EVAL loads it again
    assert.equal((await limiter.limit("u")).remaining, 1);
    await cache.close();
  });

  it("fail with an actionable CacheConfigError when neither works, and recover once the library is loaded", async () => {
    await admin.call("FUNCTION", "FLUSH");
    const cache = await user("stuck", "st", NO_EVAL);
    const limiter = createRateLimiter(cache, { algorithm: "fixed-window", limit: 5, window: 60, name: "s" });
    await assert.rejects(limiter.limit("u"), (err: unknown) => {
      assert.ok(err instanceof CacheConfigError);
      assert.match(err.message, new RegExp(scriptLibrary().name));
      assert.match(err.message, /cacheplane apply/);
      assert.match(err.message, /scripting: true/);
      assert.doesNotMatch(err.message, new RegExp(PASSWORD));
      return true;
    });
    await loadScriptLibrary(admin);
    assert.equal((await limiter.limit("u")).allowed, true);
    await cache.close();
  });

  it("an older library version does not satisfy this client's function names", async () => {
    await admin.call("FUNCTION", "FLUSH");
    const old = scriptLibrary().code.replaceAll(scriptLibrary().version, "0000000000");
    await admin.call("FUNCTION", "LOAD", old);
    const cache = await user("oldlib", "ol", NO_EVAL);
    const limiter = createRateLimiter(cache, { algorithm: "fixed-window", limit: 5, window: 60, name: "o" });
    await assert.rejects(limiter.limit("u"), CacheConfigError);
    await loadScriptLibrary(admin);
    assert.equal((await limiter.limit("u")).allowed, true);
    await cache.close();
  });

  it("a tenant calling a library function directly with abusive arguments gets an error, not a stalled server", async () => {
    await loadScriptLibrary(admin);
    await user("abuser", "ab", NO_EVAL);
    const tenant = server.client({ username: "abuser", password: PASSWORD });
    try {
      const name = scriptLibrary().functionName(slidingWindowScript);
      await assert.rejects(
        tenant.fcall(name, 1, "ab:rl", "1000000", "60000", "5000", String(Date.now()), "id"),
        /cost above 1000/,
      );
      assert.equal(await tenant.zcard("ab:rl"), 0);
      // Keys outside the keyspace are refused by the ACL even inside a function.
      await assert.rejects(
        tenant.fcall(
          scriptLibrary().functionName(slidingWindowScript),
          1,
          "other:rl",
          "5",
          "60000",
          "1",
          "1",
          "x",
        ),
        /NOPERM/,
      );
    } finally {
      tenant.disconnect();
    }
  });

  it("the client refuses a sliding-window cost the server script would refuse", async () => {
    const cache = createCache({ storage: "memory" });
    const limiter = createRateLimiter(cache, { algorithm: "sliding-window", limit: 5000, window: 60 });
    await assert.rejects(limiter.limit("u", { cost: 1001 }), CacheConfigError);
    await cache.close();
  });
});
