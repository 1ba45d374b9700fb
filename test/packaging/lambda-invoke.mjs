// Run with plain `node` in the packaging test's fresh project: loads the esbuild bundle of
// examples/lambda-handlers (built from the installed packages) and invokes its handler like API
// Gateway would. The secret comes from REDIS_SECRET_FILE (written by `cacheplane apply`), so the
// calls reach the real redis-server; the test then looks for the cached key with an admin connection.
import assert from "node:assert/strict";
import { resolve } from "node:path";
import { pathToFileURL } from "node:url";

const { handler } = await import(pathToFileURL(resolve(process.argv[2])).href);

function event(path) {
  return {
    version: "2.0",
    routeKey: "$default",
    rawPath: path,
    rawQueryString: "",
    headers: {},
    isBase64Encoded: false,
    requestContext: {
      accountId: "123456789012",
      apiId: "api",
      domainName: "example.test",
      domainPrefix: "example",
      requestId: `r-${Date.now()}`,
      routeKey: "$default",
      stage: "$default",
      time: new Date().toISOString(),
      timeEpoch: Date.now(),
      http: { method: "GET", path, protocol: "HTTP/1.1", sourceIp: "198.51.100.7", userAgent: "packaging" },
    },
  };
}

const first = await handler(event("/products/42"));
assert.equal(first.statusCode, 200, `first call: ${JSON.stringify(first)}`);
assert.equal(first.headers["x-cache"], "miss");
assert.equal(JSON.parse(first.body).name, "Product 42");
const second = await handler(event("/products/42"));
assert.equal(second.statusCode, 200, `second call: ${JSON.stringify(second)}`);
assert.equal(second.headers["x-cache"], "hit", "the second call is served from the cache");
console.log("lambda ok");
// The module-level cache keeps its Redis connection open, as in a warm Lambda: end the process.
process.exit(0);
