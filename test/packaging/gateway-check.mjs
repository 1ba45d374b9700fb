// Run with plain `node` in the packaging test's fresh project, after `cacheplane apply` wrote the
// service secrets: the installed gateway (ES module and CommonJS builds) serves its browser console
// from the package's console/ folder and runs a command for a service token against the real Redis.
import assert from "node:assert/strict";
import { readFile } from "node:fs/promises";
import { createRequire } from "node:module";
import { parseConfig } from "@cacheplane/core";
import * as esm from "@cacheplane/gateway";

const config = parseConfig({
  stage: "test",
  region: "local",
  services: [{ name: "orders-api", keyspace: "orders", access: "read-write" }],
});
const commonjs = createRequire(import.meta.url)("@cacheplane/gateway");

for (const [dialect, gateway] of [
  ["esm", esm],
  ["commonjs", commonjs],
]) {
  const server = await gateway.startGatewayServer({ config, secretsDir: ".cacheplane/secrets", port: 0 });
  try {
    const page = await fetch(`${server.url}/console/`);
    assert.equal(page.status, 200, `${dialect}: GET /console/ answers 200`);
    assert.match(await page.text(), /<html/i, `${dialect}: the console page is HTML`);
    const script = await fetch(`${server.url}/console/app.js`);
    assert.equal(script.status, 200, `${dialect}: GET /console/app.js answers 200`);
    const { readWrite } = JSON.parse(await readFile(server.tokenFiles["orders-api"], "utf8"));
    const set = await fetch(`${server.url}/set/orders:${dialect}/hello`, {
      headers: { authorization: `Bearer ${readWrite}` },
    });
    assert.deepEqual(await set.json(), { result: "OK" }, `${dialect}: SET through the gateway`);
  } finally {
    await server.close();
  }
}
console.log("gateway ok");
