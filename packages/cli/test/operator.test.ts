// The operator view from the command line: `apply` issues the gateway's admin token (its path printed,
// never the token), and `cacheplane gateway --operator-target-file` serves /operator/ sampled with the
// observer URL read from a file (the URL's password never printed, never on the command line).
import assert from "node:assert/strict";
import { readFile, stat, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { after, test } from "node:test";
import { OBSERVER_RULES as OBSERVER } from "@cacheplane/gateway";
import { getFreePort, randomPassword, startRedis, stopAll } from "@cacheplane/testkit";
import { cli, SAMPLE_CONFIG, startServing, tempDir, writeConfig } from "./helpers.js";

after(() => stopAll());

test("apply issues the admin token; gateway --operator-target-file serves the operator view", async (t) => {
  const server = await startRedis({ acl: true });
  t.after(() => server.stop());
  const dir = await tempDir(t);
  const config = await writeConfig(dir, SAMPLE_CONFIG);
  const secrets = join(dir, "secrets");
  const flags = ["--config", config, "--secrets-dir", secrets];

  const applied = await cli(["apply", ...flags, "--target", server.url]);
  assert.equal(applied.code, 0, applied.stderr);
  const tokenFile = join(secrets, ".gateway-admin-token.json");
  const { admin: adminToken } = JSON.parse(await readFile(tokenFile, "utf8")) as { admin: string };
  assert.equal((await stat(tokenFile)).mode & 0o777, 0o600);
  assert.match(
    applied.stdout,
    /^Gateway admin token \(the operator view at \/operator\/ only\): .*\.gateway-admin-token\.json$/m,
  );
  assert.ok(
    !applied.stdout.includes(adminToken) && !applied.stderr.includes(adminToken),
    "admin token printed",
  );
  const json = await cli(["apply", ...flags, "--target", server.url, "--json"]);
  assert.equal(JSON.parse(json.stdout).adminToken, tokenFile);
  assert.equal(JSON.parse(await readFile(tokenFile, "utf8")).admin, adminToken, "kept across applies");

  // An observer user, its URL in a file.
  const password = randomPassword();
  const admin = server.client();
  await admin.call("ACL", "SETUSER", "observer", "reset", "on", `>${password}`, ...OBSERVER);
  admin.disconnect();
  const targetFile = join(dir, "operator-target");
  await writeFile(targetFile, `redis://observer:${password}@127.0.0.1:${server.port}\n`, { mode: 0o600 });

  const missing = await cli(["gateway", ...flags, "--operator-target-file", join(dir, "nope")]);
  assert.equal(missing.code, 2);
  assert.match(missing.stderr, /--operator-target-file .*nope: cannot read/);
  const lonely = await cli(["gateway", ...flags, "--operator-interval", "5"]);
  assert.equal(lonely.code, 2);
  assert.match(lonely.stderr, /need --operator-target-file/);

  const port = String(await getFreePort());
  const gateway = await startServing(
    t,
    [
      "gateway",
      ...flags,
      "--target",
      `redis://127.0.0.1:${server.port}`,
      "--port",
      port,
      "--operator-target-file",
      targetFile,
      "--operator-interval",
      "1",
    ],
    { cwd: dir },
  );
  assert.match(
    gateway.output.stdout,
    /^Operator view: http:\/\/127\.0\.0\.1:\d+\/operator\/ {3}admin token in .*\.gateway-admin-token\.json$/m,
  );
  const url = `http://127.0.0.1:${port}`;
  assert.equal((await fetch(`${url}/operator/api/state`)).status, 401);
  let state: { sampler: { samples: number; lastError?: string }; services: { name: string }[] } | undefined;
  for (let i = 0; i < 200; i++) {
    const answer: Response = await fetch(`${url}/operator/api/state`, {
      headers: { authorization: `Bearer ${adminToken}` },
    });
    assert.equal(answer.status, 200);
    state = (await answer.json()) as typeof state;
    if ((state?.sampler.samples ?? 0) >= 1) break;
    await new Promise((r) => setTimeout(r, 50));
  }
  assert.equal(state?.sampler.lastError, undefined);
  assert.deepEqual(
    state?.services.map((s) => s.name),
    ["orders-api", "catalog", "sessions"],
  );
  for (const text of [gateway.output.stdout, gateway.output.stderr, JSON.stringify(state)]) {
    assert.ok(!text.includes(password), "the observer's password was printed");
    assert.ok(!text.includes(adminToken), "the admin token was printed");
  }
  gateway.stop();
  assert.equal(await gateway.running, 0);
});
