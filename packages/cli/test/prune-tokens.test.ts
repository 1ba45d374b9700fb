// `apply --prune` retires a service completely: its user, its secret and its gateway tokens (token
// file and registry hashes). A gateway still running with the old config refuses the pruned
// service's token from its next registry check on.
import assert from "node:assert/strict";
import { existsSync } from "node:fs";
import { readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { after, test } from "node:test";
import { parseConfig } from "@cacheplane/core";
import { readTokenRegistry, startGatewayServer } from "@cacheplane/gateway";
import { startRedis, stopAll } from "@cacheplane/testkit";
import { aclUsers, cli, SAMPLE_CONFIG, tempDir, writeConfig } from "./helpers.js";

after(() => stopAll());

test("apply --prune revokes the retired service's tokens with its user; a running gateway refuses them", async (t) => {
  const server = await startRedis({ acl: true });
  t.after(() => server.stop());
  const dir = await tempDir(t);
  const secrets = join(dir, "secrets");
  const full = await writeConfig(dir, SAMPLE_CONFIG);
  const flags = (config: string) => ["--config", config, "--target", server.url, "--secrets-dir", secrets];
  assert.equal((await cli(["apply", ...flags(full)])).code, 0);
  const catalog = JSON.parse(await readFile(join(secrets, "catalog.token.json"), "utf8")) as {
    readOnly: string;
  };
  const orders = JSON.parse(await readFile(join(secrets, "orders-api.token.json"), "utf8")) as {
    readWrite: string;
  };

  // A gateway started with the full config (as one deployed before the service was retired).
  const gateway = await startGatewayServer({
    config: parseConfig(SAMPLE_CONFIG),
    secretsDir: secrets,
    port: 0,
    tokenRefreshIntervalMs: 0,
    logger: () => undefined,
  });
  t.after(() => gateway.close());
  const get = (key: string, token: string) =>
    fetch(`${gateway.url}/get/${key}`, { headers: { authorization: `Bearer ${token}` } });
  assert.equal((await get("catalog:x", catalog.readOnly)).status, 200);

  const smaller = await writeConfig(
    dir,
    { ...SAMPLE_CONFIG, services: SAMPLE_CONFIG.services.filter((s) => s.name !== "catalog") },
    "smaller.mjs",
  );
  // Without --prune nothing is retired.
  const kept = await cli(["apply", ...flags(smaller)]);
  assert.equal(kept.code, 0);
  assert.ok(existsSync(join(secrets, "catalog.token.json")));
  assert.equal((await get("catalog:x", catalog.readOnly)).status, 200);

  const plan = await cli(["plan", ...flags(smaller), "--prune"]);
  assert.match(plan.stdout, /^- delete user catalog$/m);
  assert.match(plan.stdout, /^- revoke gateway tokens of catalog \(no longer declared\)$/m);

  const pruned = await cli(["apply", ...flags(smaller), "--prune", "--json"]);
  assert.equal(pruned.code, 0, pruned.stderr);
  const result = JSON.parse(pruned.stdout) as { applied: Array<{ type: string }>; revokedTokens: string[] };
  assert.deepEqual(
    result.applied.map((a) => a.type),
    ["delete-user"],
  );
  assert.deepEqual(result.revokedTokens, ["catalog"]);
  assert.ok(!(await aclUsers(server.client())).includes("catalog"));
  assert.ok(!existsSync(join(secrets, "catalog.json")), "secret removed");
  assert.ok(!existsSync(join(secrets, "catalog.token.json")), "token file removed");
  const records = await readTokenRegistry(join(secrets, "gateway-tokens.json"));
  const services = records.filter((r) => r.kind !== "admin").map((r) => r.service);
  assert.deepEqual([...new Set(services)].sort(), ["orders-api", "sessions"]);
  // The gateway's admin token (operator view) belongs to no service: pruning keeps it.
  assert.equal(records.filter((r) => r.kind === "admin").length, 1);

  // The running gateway refuses the revoked token (401: the token, not Redis, is what is refused) ...
  const refused = await get("catalog:x", catalog.readOnly);
  assert.equal(refused.status, 401);
  // ... and keeps serving the others.
  assert.equal((await get("orders:x", orders.readWrite)).status, 200);

  // Idempotent; and a token file left without registry hashes (a crash between the two) is removed.
  await writeFile(
    join(secrets, "ghost.token.json"),
    JSON.stringify({ readWrite: "w".repeat(43), readOnly: "r".repeat(43) }),
  );
  const again = await cli(["apply", ...flags(smaller), "--prune"]);
  assert.equal(again.code, 0, again.stderr);
  assert.match(again.stdout, /^Revoked the gateway tokens of retired services: ghost\.$/m);
  assert.ok(!existsSync(join(secrets, "ghost.token.json")));
  const quiet = await cli(["apply", ...flags(smaller), "--prune"]);
  assert.ok(!quiet.stdout.includes("Revoked"), quiet.stdout);
  assert.equal((await cli(["plan", ...flags(smaller), "--prune", "--detailed-exitcode"])).code, 0);
});
