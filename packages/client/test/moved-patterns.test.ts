/**
 * The rate limiter, sessions and pub/sub left CacheService for their own entry points (decision
 * 0024). A JavaScript caller of the old methods gets a CacheConfigError naming the replacement, not
 * "cache.rateLimiter is not a function".
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import { CacheConfigError, createCache } from "@cacheplane/client";
import { createPubSub } from "@cacheplane/client/pubsub";
import { createRateLimiter } from "@cacheplane/client/rate-limits";
import { createSessionStore } from "@cacheplane/client/sessions";

test("the moved pattern methods throw a CacheConfigError that names the new function and entry point", async () => {
  const cache = createCache({ storage: "memory" });
  try {
    const cases = [
      [
        "rateLimiter",
        () => cache.rateLimiter({ limit: 1, window: 1 }),
        /createRateLimiter\(cache, options\) from "@cacheplane\/client\/rate-limits"/,
      ],
      [
        "sessions",
        () => cache.sessions({ ttl: 60 }),
        /createSessionStore\(cache, options\) from "@cacheplane\/client\/sessions"/,
      ],
      ["pubsub", () => cache.pubsub(), /createPubSub\(cache\) from "@cacheplane\/client\/pubsub"/],
    ] as const;
    for (const [method, call, message] of cases) {
      assert.throws(call, (error: unknown) => {
        assert.ok(error instanceof CacheConfigError, `${method}: ${String(error)}`);
        assert.match(error.message, message);
        assert.deepEqual(error.fields, [method]);
        return true;
      });
    }
    // The replacements are real functions of those entry points.
    for (const fn of [createRateLimiter, createSessionStore, createPubSub])
      assert.equal(typeof fn, "function");
  } finally {
    await cache.close();
  }
});
