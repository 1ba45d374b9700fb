import assert from "node:assert/strict";
import { readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { after, before, test } from "node:test";
import { buildAccessString } from "@cacheplane/core";
import { generateTlsCertificates, type RedisServer, startRedis, stopAll } from "@cacheplane/testkit";
import { cli, SAMPLE_CONFIG, tempDir, writeConfig } from "./helpers.js";

after(() => stopAll());

let server: RedisServer;
let secretsDir: string;
let workDir: string;

before(async () => {
  server = await startRedis();
  const { mkdtemp } = await import("node:fs/promises");
  const { tmpdir } = await import("node:os");
  workDir = await mkdtemp(join(tmpdir(), "cacheplane-doctor-"));
  secretsDir = join(workDir, "secrets");
  const config = await writeConfig(workDir, SAMPLE_CONFIG);
  const applied = await cli([
    "apply",
    "--config",
    config,
    "--target",
    server.url,
    "--secrets-dir",
    secretsDir,
  ]);
  assert.equal(applied.code, 0, applied.stderr);
});
after(async () => {
  const { rm } = await import("node:fs/promises");
  await rm(workDir, { recursive: true, force: true });
});

test("doctor passes every check for a good read-write secret, one ✓ line per check", async () => {
  const secret = join(secretsDir, "orders-api.json");
  const run = await cli(["doctor", "--secret", secret]);
  assert.equal(run.code, 0, run.stdout + run.stderr);
  for (const name of ["secret", "tls", "auth", "ping", "keyspace", "isolation", "flushall", "keys", "scan"]) {
    assert.match(run.stdout, new RegExp(`^✓ ${name}: `, "m"));
  }
  assert.match(run.stdout, /^✓ auth: authenticated as ordersapi$/m);
  assert.match(run.stdout, /^✓ keyspace: wrote, read and deleted orders:cacheplane:doctor:[0-9a-f]+$/m);
  assert.match(run.stdout, /^All 9 checks passed\.$/m);
  assert.doesNotMatch(run.stdout, /✗/);
  const { password } = JSON.parse(await readFile(secret, "utf8")) as { password: string };
  assert.ok(!run.stdout.includes(password));
});

test("doctor reads REDIS_SECRET_FILE, knows read-only users, and --json prints one object", async () => {
  const env = { PATH: process.env.PATH, REDIS_SECRET_FILE: join(secretsDir, "catalog.json") };
  const run = await cli(["doctor", "--json"], { env });
  assert.equal(run.code, 0, run.stdout);
  const report = JSON.parse(run.stdout) as {
    ok: boolean;
    secret: { password: string; username: string };
    checks: Array<{ name: string; ok: boolean; detail: string }>;
  };
  assert.equal(report.ok, true);
  assert.equal(report.secret.password, "***");
  assert.equal(report.secret.username, "catalog");
  assert.match(
    report.checks.find((c) => c.name === "keyspace")!.detail,
    /^read-only user: GET .* writes are refused$/,
  );
});

test("a wrong password fails AUTH with exit 1 and a ✗ line, never printing the password", async (t) => {
  const dir = await tempDir(t);
  const good = JSON.parse(await readFile(join(secretsDir, "sessions.json"), "utf8")) as Record<
    string,
    unknown
  >;
  const wrongPassword = "WrongPassword0123456789abcdef";
  const file = join(dir, "wrong.json");
  await writeFile(file, JSON.stringify({ ...good, password: wrongPassword }));
  for (const args of [
    ["--secret", file],
    ["--secret-json", JSON.stringify({ ...good, password: wrongPassword })],
  ]) {
    const run = await cli(["doctor", ...args]);
    assert.equal(run.code, 1);
    assert.match(run.stdout, /^✓ secret: valid: user sessions/m);
    assert.match(run.stdout, /^✗ auth: AUTH as sessions refused: WRONGPASS/m);
    assert.match(run.stdout, /^- ping: skipped: not authenticated$/m);
    assert.match(run.stdout, /^1 check failed, 6 skipped\.$/m);
    const all = run.stdout + run.stderr;
    assert.ok(!all.includes(wrongPassword), "wrong password printed");
    assert.ok(!all.includes(String(good.password)), "real password printed");
  }
});

test("doctor flags a user that is not confined: isolation, FLUSHALL and KEYS ✗ — and flushes nothing", async (t) => {
  const dir = await tempDir(t);
  const admin = server.client();
  await admin.call("ACL", "SETUSER", "wideopen", "on", ">wide-open-password-123", "~*", "&*", "+@all");
  t.after(() => admin.call("ACL", "DELUSER", "wideopen"));
  await admin.set("someone-else:key", "precious");
  const file = join(dir, "wide.json");
  await writeFile(
    file,
    JSON.stringify({
      host: "127.0.0.1",
      port: server.port,
      username: "wideopen",
      password: "wide-open-password-123",
      keyspace: "wide",
      tls: false,
    }),
  );
  const run = await cli(["doctor", "--secret", file]);
  assert.equal(run.code, 1);
  assert.match(run.stdout, /^✓ keyspace: /m);
  assert.match(
    run.stdout,
    /^✗ isolation: read cacheplane-doctor-outside-[0-9a-f]+:probe outside the keyspace/m,
  );
  assert.match(run.stdout, /^✗ flushall: FLUSHALL is allowed for wideopen \(probe flushed nothing\)$/m);
  assert.match(run.stdout, /^✗ keys: KEYS is allowed for wideopen/m);
  assert.match(run.stdout, /^✗ scan: SCAN is allowed for wideopen: it lists every service's key names/m);
  assert.equal(await admin.get("someone-else:key"), "precious", "the doctor must never flush");
  assert.ok(!run.stdout.includes("wide-open-password-123"));
});

test("a malformed secret is a ✗ secret line naming the bad fields; a missing file is exit 2", async (t) => {
  const dir = await tempDir(t);
  const file = join(dir, "bad.json");
  await writeFile(
    file,
    JSON.stringify({ host: "127.0.0.1", port: "nope", username: "x", password: "hunter2hunter2" }),
  );
  const run = await cli(["doctor", "--secret", file]);
  assert.equal(run.code, 1);
  assert.match(
    run.stdout,
    /^✗ secret: Redis secret in .*bad\.json is invalid: port: .*keyspace: is required/m,
  );
  assert.ok(!run.stdout.includes("hunter2hunter2"));
  const missing = await cli(["doctor", "--secret", join(dir, "nope.json")]);
  assert.equal(missing.code, 2);
  assert.match(missing.stderr, /^error: cannot read secret file .*nope\.json: no such file\n$/);
  const none = await cli(["doctor"]);
  assert.equal(none.code, 2);
  assert.match(none.stderr, /no secret: pass --secret <file>/);
});

test("TLS: verified with --tls-ca, ✗ tls with a hint without it", async (t) => {
  const tlsServer = await startRedis({ tls: true });
  t.after(() => tlsServer.stop());
  const dir = await tempDir(t);
  const admin = tlsServer.client();
  const access = buildAccessString({ keyspace: "tls", access: "read-write" });
  await admin.call("ACL", "SETUSER", "tlsuser", "reset", ...access.split(" "), ">tls-user-password-123");
  const file = join(dir, "tls.json");
  await writeFile(
    file,
    JSON.stringify({
      host: "localhost",
      port: tlsServer.port,
      username: "tlsuser",
      password: "tls-user-password-123",
      keyspace: "tls",
      tls: true,
    }),
  );
  const ca = join(dir, "ca.pem");
  await writeFile(ca, tlsServer.tls!.ca);
  const ok = await cli(["doctor", "--secret", file, "--tls-ca", ca]);
  assert.equal(ok.code, 0, ok.stdout);
  assert.match(ok.stdout, /^✓ tls: TLS \(TLSv1\.[23]\) as the secret says, certificate verified$/m);

  const unverified = await cli(["doctor", "--secret", file]);
  assert.equal(unverified.code, 1);
  assert.match(
    unverified.stdout,
    /^✗ tls: cannot connect to localhost:\d+ with TLS: .*\(pass --tls-ca <file>\)$/m,
  );

  const otherCa = join(dir, "other-ca.pem");
  await writeFile(otherCa, (await generateTlsCertificates()).ca);
  const wrongCa = await cli(["doctor", "--secret", file, "--tls-ca", otherCa]);
  assert.equal(wrongCa.code, 1);
});
