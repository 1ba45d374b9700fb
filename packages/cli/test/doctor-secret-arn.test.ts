// `cacheplane doctor --secret-arn` / `$REDIS_SECRET_ARN`: the secret is read from Secrets Manager as the
// client reads it (aws-sdk-client-mock stands in for the AWS API), then every check runs against a real
// redis-server; AWS refusals become a usage error that names the ARN and the permission, never a secret.
import assert from "node:assert/strict";
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, test } from "node:test";
import { GetSecretValueCommand, SecretsManagerClient } from "@aws-sdk/client-secrets-manager";
import { type RedisServer, startRedis, stopAll } from "@cacheplane/testkit";
import { mockClient } from "aws-sdk-client-mock";
import { runDoctorChecks } from "../src/doctor/checks.js";
import { readSecretInput } from "../src/doctor/secret-input.js";
import { UsageError } from "../src/errors.js";
import { cli, SAMPLE_CONFIG, writeConfig } from "./helpers.js";

const ARN = "arn:aws:secretsmanager:eu-west-1:123456789012:secret:/services/orders-api/redis-AbCdEf";
const sm = mockClient(SecretsManagerClient);

let server: RedisServer;
let secretText: string;
let secretFile: string;
let workDir: string | undefined;

before(async () => {
  server = await startRedis();
  const dir = await mkdtemp(join(tmpdir(), "cacheplane-doctor-arn-"));
  workDir = dir;
  const config = await writeConfig(dir, SAMPLE_CONFIG);
  const secrets = join(dir, "secrets");
  const applied = await cli(["apply", "--config", config, "--target", server.url, "--secrets-dir", secrets]);
  assert.equal(applied.code, 0, applied.stderr);
  secretFile = join(secrets, "orders-api.json");
  secretText = await readFile(secretFile, "utf8");
});
after(async () => {
  sm.restore();
  await stopAll();
  if (workDir) await rm(workDir, { recursive: true, force: true });
});

test("--secret-arn reads the secret from Secrets Manager; every doctor check passes with it", async () => {
  sm.reset();
  sm.on(GetSecretValueCommand, { SecretId: ARN }).resolves({ SecretString: secretText });
  const client = new SecretsManagerClient({ region: "eu-west-1" });
  const input = await readSecretInput({ secretArn: ARN }, {}, "/", { secretsManager: client });
  assert.equal(input.source, ARN);
  assert.equal(sm.commandCalls(GetSecretValueCommand).length, 1);
  const report = await runDoctorChecks(input.text, input.source, {});
  assert.ok(report.ok, JSON.stringify(report.checks));
  assert.equal(report.source, ARN);
});

test("$REDIS_SECRET_ARN comes before $REDIS_SECRET_FILE, as in the client; flags come before both", async () => {
  sm.reset();
  sm.on(GetSecretValueCommand).resolves({ SecretString: secretText });
  const client = new SecretsManagerClient({ region: "eu-west-1" });
  const env = { REDIS_SECRET_ARN: ARN, REDIS_SECRET_FILE: secretFile };
  assert.equal((await readSecretInput({}, env, "/", { secretsManager: client })).source, ARN);
  assert.equal(
    (await readSecretInput({ secret: secretFile }, env, "/", { secretsManager: client })).source,
    secretFile,
  );
  assert.equal(sm.commandCalls(GetSecretValueCommand).length, 1, "the flag's file was read, not the ARN");
});

test("an AWS refusal is a usage error naming the ARN and the permission, not an AWS stack trace", async () => {
  sm.reset();
  const denied = Object.assign(new Error("User is not authorized to perform GetSecretValue"), {
    name: "AccessDeniedException",
  });
  sm.on(GetSecretValueCommand).rejects(denied);
  const client = new SecretsManagerClient({ region: "eu-west-1" });
  await assert.rejects(readSecretInput({ secretArn: ARN }, {}, "/", { secretsManager: client }), (error) => {
    assert.ok(error instanceof UsageError, String(error));
    assert.match(error.message, /AccessDeniedException/);
    assert.ok(error.message.includes(ARN));
    assert.match(error.message, /secretsmanager:GetSecretValue/);
    return true;
  });
});

test("a secret that is not a valid payload is refused without echoing it", async () => {
  sm.reset();
  sm.on(GetSecretValueCommand).resolves({ SecretString: '{"password":"hunter2-not-a-payload"}' });
  const client = new SecretsManagerClient({ region: "eu-west-1" });
  await assert.rejects(readSecretInput({ secretArn: ARN }, {}, "/", { secretsManager: client }), (error) => {
    assert.ok(error instanceof UsageError, String(error));
    assert.ok(!error.message.includes("hunter2"), error.message);
    return true;
  });
});

test("without any source the error lists every way to give one", async () => {
  await assert.rejects(readSecretInput({}, {}, "/"), (error) => {
    assert.ok(error instanceof UsageError);
    for (const way of [
      "--secret ",
      "--secret-json",
      "--secret-arn",
      "$REDIS_SECRET_ARN",
      "$REDIS_SECRET_FILE",
      "$REDIS_SECRET",
    ]) {
      assert.ok(error.message.includes(way), `${way} in: ${error.message}`);
    }
    return true;
  });
});
