// Run with plain `node` in the packaging test's fresh project: every public package and subpath loads
// as an ES module, and the client works (memory store, no Redis needed).
import assert from "node:assert/strict";
import * as cdk from "@cacheplane/cdk";
import * as cli from "@cacheplane/cli";
import { createCache } from "@cacheplane/client";
import * as connection from "@cacheplane/client/connection";
import * as local from "@cacheplane/client/local";
import * as core from "@cacheplane/core";
import * as secret from "@cacheplane/core/secret";
import * as gateway from "@cacheplane/gateway";
import * as provisioner from "@cacheplane/provisioner";
import * as aws from "@cacheplane/provisioner/aws";

const cache = createCache({ storage: "memory" });
await cache.set("greeting", "hello");
assert.equal(await cache.get("greeting"), "hello");
await cache.close();
for (const [name, mod, key] of [
  ["@cacheplane/core", core, "parseConfig"],
  ["@cacheplane/client/connection", connection, "RedisConnection"],
  ["@cacheplane/client/local", local, "localTier"],
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
