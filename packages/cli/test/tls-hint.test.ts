// `redis://` (plain TCP) to a TLS-only port: the server drops the connection during the handshake
// ("write ECONNRESET"); every surface says the server may want TLS (rediss://) instead of only that.
import assert from "node:assert/strict";
import { writeFile } from "node:fs/promises";
import { join } from "node:path";
import { after, before, test } from "node:test";
import { type RedisServer, startRedis, stopAll } from "@cacheplane/testkit";
import { cli, tempDir, writeConfig } from "./helpers.js";

let server: RedisServer;
before(async () => {
  server = await startRedis({ acl: true, tls: true });
});
after(async () => {
  await server?.stop();
  await stopAll();
});

test("plan with redis:// to a TLS-only port says the server may want rediss://", async (t) => {
  const dir = await tempDir(t);
  const config = await writeConfig(dir, {
    stage: "t",
    region: "local",
    services: [{ name: "a", access: "read-write" }],
  });
  const plain = server.url.replace(/^rediss:/, "redis:");
  const run = await cli(["plan", "--config", config, "--target", plain, "--secrets-dir", join(dir, "s")]);
  assert.equal(run.code, 1);
  assert.match(
    run.stderr,
    /^error: Cannot connect to 127\.0\.0\.1:\d+: .*it may want TLS; use rediss:\/\/ instead of redis:\/\/ in the admin URL\.$/m,
  );
  assert.ok(!run.stderr.includes(server.admin.password));
});

test("doctor with a tls: false secret for a TLS-only port says the server may want TLS", async (t) => {
  const dir = await tempDir(t);
  const secret = join(dir, "a.json");
  await writeFile(
    secret,
    JSON.stringify({
      host: "127.0.0.1",
      port: server.port,
      username: "a",
      password: "a-password-123456",
      keyspace: "a",
      tls: false,
    }),
  );
  const run = await cli(["doctor", "--secret", secret]);
  assert.equal(run.code, 1);
  assert.match(run.stdout, /^✗ tls: cannot connect to 127\.0\.0\.1:\d+ over plain TCP: .*it may want TLS/m);
});
