// Run with plain `node` in the packaging test's fresh project: the CommonJS builds load with `require`
// (what Lambda handlers bundled or written as CommonJS use), and the client works.
const assert = require("node:assert/strict");
const { createCache } = require("@cacheplane/client");

const checks = [
  ["@cacheplane/core", "parseConfig"],
  ["@cacheplane/core/secret", "parseSecretPayload"],
  ["@cacheplane/client/connection", "RedisConnection"],
  ["@cacheplane/client/local", "localTier"],
  ["@cacheplane/client/rate-limits", "createRateLimiter"],
  ["@cacheplane/client/sessions", "createSessionStore"],
  ["@cacheplane/client/pubsub", "createPubSub"],
  ["@cacheplane/core/server-scripts/store", "scriptFunctionName"],
  ["@cacheplane/provisioner", "applyPlatform"],
  ["@cacheplane/provisioner/aws", "ElastiCacheTarget"],
  ["@cacheplane/gateway", "startGatewayServer"],
  ["@cacheplane/cdk", "ServiceCacheAccess"],
];
for (const [name, key] of checks) {
  const mod = require(name);
  assert.equal(typeof mod[key], "function", `${name} exports ${key}`);
  assert.match(require.resolve(name), /[/\\]dist-cjs[/\\]/, `${name} resolves to its CommonJS build`);
}
(async () => {
  const cache = createCache({ storage: "memory" });
  await cache.set("greeting", "hello");
  assert.equal(await cache.get("greeting"), "hello");
  await cache.close();
  console.log("commonjs ok");
})().catch((error) => {
  console.error(error);
  process.exit(1);
});
