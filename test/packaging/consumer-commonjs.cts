// Type-checked by test/packaging.test.ts: the CommonJS side (`require` condition, `dist-cjs` types).
import client = require("@cacheplane/client");
import core = require("@cacheplane/core");
import connection = require("@cacheplane/client/connection");

const cache: client.CacheService = client.createCache({ storage: "memory" });
const config: core.PlatformConfig = core.parseConfig({ stage: "dev", region: "local", services: [] });
// @ts-expect-error `ttl` is a number of seconds
cache.set("greeting", "hello", { ttl: "a minute" });

const timeout: number | undefined = connection.redisOptionsFromSecret({
  host: "127.0.0.1",
  port: 6380,
  username: "u",
  password: "p",
  keyspace: "k",
  tls: false,
}).commandTimeout;

export = { cache, config, timeout };
