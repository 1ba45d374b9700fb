// Run with plain `node` in the packaging test's fresh project: every public package and subpath loads
// as an ES module, and the client works (memory store, no Redis needed).
import assert from "node:assert/strict";
import * as cdk from "@cacheplane/cdk";
import * as cli from "@cacheplane/cli";
import { createCache } from "@cacheplane/client";
import * as connection from "@cacheplane/client/connection";
import * as local from "@cacheplane/client/local";
import * as pubsub from "@cacheplane/client/pubsub";
import { createRateLimiter } from "@cacheplane/client/rate-limits";
import * as sessions from "@cacheplane/client/sessions";
import * as core from "@cacheplane/core";
import * as secret from "@cacheplane/core/secret";
import * as storeScripts from "@cacheplane/core/server-scripts/store";
import * as gateway from "@cacheplane/gateway";
import * as provisioner from "@cacheplane/provisioner";
import * as aws from "@cacheplane/provisioner/aws";

const cache = createCache({ storage: "memory" });
await cache.set("greeting", "hello");
assert.equal(await cache.get("greeting"), "hello");
// The patterns in their own entry points work on the installed client (decision 0024).
const limiter = createRateLimiter(cache, { limit: 1, window: 60 });
assert.equal((await limiter.limit("user-1")).allowed, true);
assert.equal((await limiter.limit("user-1")).allowed, false);
await cache.close();
for (const [name, mod, key] of [
  ["@cacheplane/core", core, "parseConfig"],
  ["@cacheplane/client/connection", connection, "RedisConnection"],
  ["@cacheplane/client/local", local, "localTier"],
  ["@cacheplane/client/sessions", sessions, "createSessionStore"],
  ["@cacheplane/client/pubsub", pubsub, "createPubSub"],
  ["@cacheplane/core/server-scripts/store", storeScripts, "scriptFunctionName"],
  ["@cacheplane/core/secret", secret, "parseSecretPayload"],
  ["@cacheplane/provisioner", provisioner, "applyPlatform"],
  ["@cacheplane/provisioner/aws", aws, "ElastiCacheTarget"],
  ["@cacheplane/gateway", gateway, "startGatewayServer"],
  ["@cacheplane/cdk", cdk, "ServiceCacheAccess"],
  ["@cacheplane/cli", cli, "runCli"],
]) {
  assert.equal(typeof mod[key], "function", `${name} exports ${key}`);
}
console.log("esm ok");
