// Run with plain `node` in the packaging test's fresh project, after `cacheplane apply` wrote the
// service secrets: the installed gateway (ES module and CommonJS builds) serves its browser console
// from the package's console/ folder, its operator view (page from operator/, the uPlot chart library
// from the installed uplot package, data sampled with the admin URL in OPERATOR_TARGET), and runs a
// command for a service token against the real Redis.
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
  const server = await gateway.startGatewayServer({
    config,
    secretsDir: ".cacheplane/secrets",
    port: 0,
    operator: { admin: { urls: [process.env.OPERATOR_TARGET] }, intervalMs: 200 },
  });
  try {
    const page = await fetch(`${server.url}/console/`);
    assert.equal(page.status, 200, `${dialect}: GET /console/ answers 200`);
    assert.match(await page.text(), /<html/i, `${dialect}: the console page is HTML`);
    const script = await fetch(`${server.url}/console/app.js`);
    assert.equal(script.status, 200, `${dialect}: GET /console/app.js answers 200`);
    for (const [path, type] of [
      ["/operator/", /text\/html/],
      ["/operator/operator.js", /javascript/],
      ["/operator/vendor/uPlot.iife.min.js", /javascript/],
      ["/operator/vendor/uPlot.min.css", /css/],
    ]) {
      const asset = await fetch(`${server.url}${path}`);
      assert.equal(asset.status, 200, `${dialect}: GET ${path} answers 200`);
      assert.match(asset.headers.get("content-type") ?? "", type, `${dialect}: ${path} content type`);
    }
    const { admin } = JSON.parse(await readFile(server.adminTokenFile, "utf8"));
    let state;
    for (let i = 0; i < 100 && !(state?.sampler.samples >= 1); i++) {
      const answer = await fetch(`${server.url}/operator/api/state`, {
        headers: { authorization: `Bearer ${admin}` },
      });
      assert.equal(answer.status, 200, `${dialect}: the admin token opens the operator view`);
      state = await answer.json();
      if (!(state.sampler.samples >= 1)) await new Promise((r) => setTimeout(r, 100));
    }
    assert.equal(state.sampler.lastError, undefined, `${dialect}: sampling works (provisioner loaded)`);
    assert.deepEqual(
      state.services.map((s) => s.name),
      ["orders-api"],
    );
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
