/**
 * The Secrets Manager rotation steps (createSecret, setSecret, testSecret, finishSecret) with the
 * two-password rotation, against a versioned Secrets Manager (aws-sdk-client-mock) and the ElastiCache
 * fake: two passwords valid after a rotation, the older one dropped by the next, every step repeatable.
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { ElastiCacheTarget } from "../src/elasticache-target.js";
import {
  elastiCacheRotationUsers,
  type RotationStep,
  runRotationStep,
  secretsManagerVersions,
} from "../src/secrets-manager-rotation.js";
import { FakeElastiCache, fakeClock } from "./elasticache-fake.js";
import { versionedSecretsManager } from "./secrets-manager-versions-fake.js";

const NAME = "/services/orders/redis/orders";
const USER_ARN = "arn:aws:elasticache:eu-west-1:123456789012:user:orders";
const PW0 = "InitialGeneratedPassword0123456789abcd";
const STEPS: RotationStep[] = ["createSecret", "setSecret", "testSecret", "finishSecret"];

function setup(initial: Record<string, unknown> = {}) {
  const secret = {
    host: "dev-shared-abc.serverless.euw1.cache.amazonaws.com",
    port: 6379,
    username: "orders",
    password: PW0,
    keyspace: "orders",
    tls: true,
    cluster: true,
    engine: "valkey",
    user_arn: USER_ARN,
    ...initial,
  };
  const sm = versionedSecretsManager(NAME, JSON.stringify(secret));
  // Secrets Manager creates the AWSPENDING version id (the token) before calling createSecret.
  const fake = new FakeElastiCache();
  fake.addUser({ UserId: "orders", passwords: [PW0] });
  const target = new ElastiCacheTarget({ client: fake.client, clock: fakeClock() });
  let n = 0;
  const deps = {
    secrets: secretsManagerVersions(sm.client),
    users: elastiCacheRotationUsers(target),
    generatePassword: () => `RotatedPassword${++n}`.padEnd(40, "x"),
    now: () => "2025-01-01T00:00:00.000Z",
  };
  const rotate = async (token: string, steps = STEPS, begin = true) => {
    if (begin) sm.beginRotation(token);
    for (const Step of steps)
      await runRotationStep({ Step, SecretId: sm.arn, ClientRequestToken: token }, deps);
  };
  return { sm, fake, rotate, deps };
}

/** What Secrets Manager does before calling the function: nothing but picking a token. */
describe("Secrets Manager rotation steps (aws-sdk-client-mock + ElastiCache fake)", () => {
  it("rotates with two valid passwords, keeps user_arn, and the next rotation drops the oldest", async () => {
    const { sm, fake, rotate } = setup();
    await rotate("t1");
    const first = JSON.parse(sm.current());
    assert.equal(first.password, "RotatedPassword1".padEnd(40, "x"));
    assert.equal(first.previousPassword, PW0);
    assert.equal(first.user_arn, USER_ARN);
    assert.equal(first.host, "dev-shared-abc.serverless.euw1.cache.amazonaws.com");
    assert.deepEqual(
      fake.users.get("orders")!.passwords,
      [first.password, PW0],
      "both valid: no client cut off",
    );
    assert.deepEqual(sm.versions.get("t1")!.stages, ["AWSCURRENT"]);
    assert.deepEqual(sm.versions.get("v0")!.stages, ["AWSPREVIOUS"]);

    await rotate("t2");
    const second = JSON.parse(sm.current());
    assert.deepEqual(
      fake.users.get("orders")!.passwords,
      [second.password, first.password],
      "PW0 no longer valid",
    );
    assert.ok(!JSON.stringify(fake.calls).includes("undefined"));
  });

  it("repeats every step safely (Secrets Manager retries failed steps)", async () => {
    const { sm, fake, rotate } = setup();
    await rotate("t1", ["createSecret", "createSecret", "setSecret", "setSecret", "testSecret"]);
    const pending = JSON.parse(sm.versions.get("t1")!.value!);
    assert.deepEqual(fake.users.get("orders")!.passwords, [pending.password, PW0]);
    assert.equal(fake.callsOf("ModifyUser").length, 2);
    await rotate("t1", ["finishSecret", "finishSecret"]);
    assert.equal(JSON.parse(sm.current()).password, pending.password);
    await rotate("t1", ["createSecret", "setSecret"]);
    assert.equal(fake.callsOf("ModifyUser").length, 2, "a finished version is not applied again");
  });

  it("testSecret fails when setSecret did not take effect, and nothing is promoted", async () => {
    const { sm, fake, rotate } = setup();
    await rotate("t1", ["createSecret"]);
    await assert.rejects(
      rotate("t1", ["testSecret"]),
      /has authentication password with 1 password\(s\), expected password with 2/,
    );
    assert.equal(JSON.parse(sm.current()).password, PW0);
    assert.deepEqual(fake.users.get("orders")!.passwords, [PW0]);
  });

  it("refuses IAM secrets, disabled rotation and unknown versions, naming the secret", async () => {
    const iam = setup({ auth: "iam", password: undefined });
    await assert.rejects(iam.rotate("t1", ["createSecret"]), /IAM-authenticated service/);
    const off = setup();
    off.sm.setRotationEnabled(false);
    await assert.rejects(off.rotate("t1", ["createSecret"]), /Rotation is not enabled/);
    const unknown = setup();
    await assert.rejects(unknown.rotate("nope", ["setSecret"], false), /has no version nope/);
  });

  it("never puts a password into an error message", async () => {
    const { sm, fake, rotate } = setup();
    await rotate("t1", ["createSecret"]);
    const pending = JSON.parse(sm.versions.get("t1")!.value!).password as string;
    fake.fail("ModifyUser", () => new Error(`boom ${pending}`), 100);
    try {
      await rotate("t1", ["setSecret"]);
      assert.fail("setSecret should fail");
    } catch (error) {
      // The AWS error text is the SDK's; ElastiCacheTargetError wraps it. The rotation adds no password.
      assert.ok(!(error as Error).message.includes(PW0));
    }
  });
});
