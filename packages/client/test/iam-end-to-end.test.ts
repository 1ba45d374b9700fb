/**
 * ElastiCache IAM auth end to end against a real redis-server. The server stands in for ElastiCache's
 * IAM check: the IAM user's passwords are the tokens a provider with fixed credentials yields at the
 * times of a fake clock (tokens are deterministic for fixed credentials and signing time). The fake
 * clock then drives the 15-minute token refresh and the re-AUTH before ElastiCache's 12-hour drop,
 * while callers keep working without errors.
 */
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { setTimeout as sleep } from "node:timers/promises";
import { type RedisServer, startRedis } from "@cacheplane/testkit";
import type { Redis } from "ioredis";
import {
  type CacheService,
  closeAllRedisConnections,
  createCache,
  IamAuthTokenProvider,
  type IamTimers,
} from "../src/index.js";
import { RELAXED } from "./helpers/redis.js";

const USER = "iam-orders";
const CREDENTIALS = {
  accessKeyId: "AKIDEXAMPLE",
  secretAccessKey: "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY",
};
const T0 = Date.UTC(2025, 0, 1, 8, 0, 0);
const MINUTE = 60_000;

/** The token ElastiCache would accept at `at` (what the client's provider must build then). */
function tokenAt(at: number): Promise<string> {
  return new IamAuthTokenProvider({
    cacheName: "dev-shared",
    userId: USER,
    region: "eu-west-1",
    credentials: CREDENTIALS,
    now: () => at,
  }).getToken();
}

/** Timers the test fires by hand; firing awaits the check it runs. */
function manualTimers(): IamTimers & { fire(): Promise<void> } {
  const callbacks = new Map<number, () => Promise<void>>();
  let next = 0;
  return {
    setInterval: (callback) => {
      callbacks.set(++next, callback);
      return next;
    },
    clearInterval: (handle) => {
      callbacks.delete(handle as number);
    },
    fire: async () => {
      for (const callback of [...callbacks.values()]) await callback();
    },
  };
}

async function authCalls(admin: Redis): Promise<{ calls: number; failed: number }> {
  const info = (await admin.call("INFO", "commandstats")) as string;
  const line = info.split("\n").find((l) => l.startsWith("cmdstat_auth:")) ?? "";
  const field = (name: string) => Number(new RegExp(`${name}=(\\d+)`).exec(line)?.[1] ?? 0);
  return { calls: field("calls"), failed: field("failed_calls") };
}

async function connectionIds(admin: Redis): Promise<string[]> {
  const list = (await admin.call("CLIENT", "LIST")) as string;
  return list
    .split("\n")
    .filter((l) => l.includes(` user=${USER} `))
    .map((l) => /id=(\d+)/.exec(l)![1]!)
    .sort();
}

describe("IAM auth end to end (real redis-server, fake clock)", () => {
  let server: RedisServer;
  let admin: Redis;
  before(async () => {
    server = await startRedis({ acl: true, tls: false });
    admin = server.client();
  });
  after(async () => {
    await closeAllRedisConnections();
    admin.disconnect();
    await server.stop();
  });

  const setTokens = async (...tokens: string[]) =>
    admin.call(
      "ACL",
      "SETUSER",
      USER,
      "reset",
      "on",
      ...tokens.map((t) => `>${t}`),
      "~orders:*",
      "+@all",
      "-@dangerous",
    );

  it("a plain createCache() in an IAM service signs a token from the environment", async () => {
    // The environment ServiceCacheAccess gives an IAM function (credentials are the Lambda's).
    const now = Date.now();
    const tokens = await Promise.all([0, 1000, 2000, 3000].map((d) => envTokenAt(now + d)));
    await setTokens(...tokens);
    const cache = createCache({
      ...RELAXED,
      throwOnError: true,
      env: {
        REDIS_SECRET: JSON.stringify({
          host: server.host,
          port: server.port,
          username: USER,
          keyspace: "orders",
          tls: false,
          auth: "iam",
        }),
        REDIS_AUTH_MODE: "iam",
        REDIS_IAM_CACHE_NAME: "dev-shared",
        REDIS_IAM_USER_ID: USER,
        AWS_REGION: "eu-west-1",
        AWS_ACCESS_KEY_ID: CREDENTIALS.accessKeyId,
        AWS_SECRET_ACCESS_KEY: CREDENTIALS.secretAccessKey,
      },
    });
    try {
      await cache.set("plain", "yes");
      assert.equal(await cache.get("plain"), "yes");
    } finally {
      await cache.close();
    }
  });

  it("refreshes the token before 15 minutes and re-authenticates before 12 hours, without caller errors", async () => {
    let now = T0;
    const timers = manualTimers();
    const provider = new IamAuthTokenProvider({
      cacheName: "dev-shared",
      userId: USER,
      region: "eu-west-1",
      credentials: CREDENTIALS,
      now: () => now,
    });
    await setTokens(await tokenAt(T0));
    const errors: unknown[] = [];
    const cache: CacheService = createCache({
      ...RELAXED,
      throwOnError: true,
      secret: {
        host: server.host,
        port: server.port,
        username: USER,
        keyspace: "orders",
        tls: false,
        auth: "iam",
      },
      iamAuth: provider,
      iamReauth: { timers },
    });
    const call = async (i: number) => {
      try {
        await cache.set(`k${i}`, i);
        assert.equal(await cache.get(`k${i}`), i);
      } catch (error) {
        errors.push(error);
      }
    };
    try {
      await call(0);
      const ids = await connectionIds(admin);
      assert.equal(ids.length, 1);

      // 14 minutes on: the token is due for renewal (2 minutes before its 15). ElastiCache accepts
      // only unexpired tokens, so the server now knows the new one only.
      now = T0 + 14 * MINUTE;
      const fresh = await tokenAt(now);
      await setTokens(fresh);
      await timers.fire();
      // A reconnect (network blip) must use the fresh token.
      await admin.call("CLIENT", "KILL", "USER", USER);
      let reconnected = false;
      for (let i = 0; i < 200 && !reconnected; i++) {
        reconnected = await cache.get("k0").then(
          (v) => v === 0,
          () => false,
        );
        if (!reconnected) await sleep(25);
      }
      assert.ok(reconnected, "reconnected with the refreshed token");
      const afterBlip = await connectionIds(admin);
      assert.equal(afterBlip.length, 1);

      // Hours pass, tokens keep being renewed; before the 12-hour mark every open connection
      // authenticates again with a fresh token, while callers keep calling.
      const authBefore = await authCalls(admin);
      // (The reconnect at 14 minutes authenticated afresh: the 11-hour mark is counted from there.)
      for (let t = 15; t <= 11 * 60 + 30; t += 15) {
        now = T0 + t * MINUTE;
        await setTokens(await tokenAt(now));
        await Promise.all([timers.fire(), call(t), call(t + 1)]);
      }
      const authAfter = await authCalls(admin);
      assert.ok(authAfter.calls > authBefore.calls, "AUTH was sent on the open connection");
      assert.equal(authAfter.failed - authBefore.failed, 0, "with a token the server accepted");
      assert.deepEqual(await connectionIds(admin), afterBlip, "the same connection: no reconnect");
      assert.deepEqual(errors, [], "no caller saw an error");

      // Only once per 11 hours: the next checks do not AUTH again.
      const settled = await authCalls(admin);
      now += 30 * MINUTE;
      await setTokens(await tokenAt(now));
      await timers.fire();
      assert.equal((await authCalls(admin)).calls, settled.calls);
    } finally {
      await cache.close();
    }
  });
});

/** The token a provider built from the environment signs at `at` (same credentials, region, cache, user). */
function envTokenAt(at: number): Promise<string> {
  return new IamAuthTokenProvider({
    cacheName: "dev-shared",
    userId: USER,
    region: "eu-west-1",
    credentials: CREDENTIALS,
    now: () => Math.floor(at / 1000) * 1000,
  }).getToken();
}
