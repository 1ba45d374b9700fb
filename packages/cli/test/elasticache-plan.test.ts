/**
 * `cacheplane plan --elasticache`: the ElastiCache target through the AWS API (the SDK client mocked
 * class-wide by the hand-written fake), and ElastiCache's 100-users-per-group quota checked at plan time.
 */
import assert from "node:assert/strict";
import { readdir } from "node:fs/promises";
import { after, describe, it } from "node:test";
import { ElastiCacheClient } from "@aws-sdk/client-elasticache";
import { mockClient } from "aws-sdk-client-mock";
import { FakeElastiCache } from "../../provisioner/test/elasticache-fake.js";
import { cli, tempDir, writeConfig } from "./helpers.js";

const stub = mockClient(ElastiCacheClient);
after(() => stub.restore());

function platform(serviceCount: number) {
  return {
    stage: "dev",
    region: "eu-west-1",
    engine: "redis",
    services: Array.from({ length: serviceCount }, (_, i) => ({ name: `svc${i}`, access: "read-only" })),
  };
}

function seed(): FakeElastiCache {
  stub.reset();
  const fake = new FakeElastiCache(stub);
  fake.transitionPolls = 0;
  fake.addUser({
    UserId: "dev-shared-default",
    UserName: "default",
    Engine: "redis",
    AccessString: "off -@all",
  });
  fake.addGroup({ UserGroupId: "dev-shared-users", Engine: "redis", UserIds: ["dev-shared-default"] });
  return fake;
}

const env = { PATH: process.env.PATH, AWS_ACCESS_KEY_ID: "AKIDTEST", AWS_SECRET_ACCESS_KEY: "test" };

describe("cacheplane plan --elasticache", () => {
  it("plans 99 services (plus the default user: 100 members)", async (t) => {
    const fake = seed();
    const dir = await tempDir(t);
    const config = await writeConfig(dir, platform(99));
    const run = await cli(
      ["plan", "--config", config, "--elasticache", "--region", "eu-west-1", "--secrets-dir", dir, "--json"],
      { env, cwd: dir },
    );
    assert.equal(run.code, 0, run.stderr);
    const actions = JSON.parse(run.stdout) as { type: string }[];
    assert.equal(actions.filter((a) => a.type === "add-to-group").length, 99);
    assert.ok(fake.callsOf("DescribeUserGroups").length > 0, "read through the AWS API");
  });

  it("fails a plan that would put a 101st user into the group, naming the numbers and the fix", async (t) => {
    const fake = seed();
    const dir = await tempDir(t);
    const config = await writeConfig(dir, platform(100));
    const run = await cli(
      ["plan", "--config", config, "--elasticache", "--region", "eu-west-1", "--secrets-dir", dir],
      { env, cwd: dir },
    );
    assert.equal(run.code, 1);
    assert.match(
      run.stderr,
      /user group dev-shared-users would hold 101 users, ElastiCache allows 100 per group/,
    );
    assert.match(run.stderr, /default user counts/);
    assert.match(run.stderr, /another platform/);
    assert.equal(
      fake.callsOf("CreateUser").length + fake.callsOf("ModifyUserGroup").length,
      0,
      "nothing changed",
    );
  });

  it("apply checks the same quota before its first change: no user, no secret, no membership", async (t) => {
    const fake = seed();
    const dir = await tempDir(t);
    const config = await writeConfig(dir, platform(100));
    const run = await cli(
      ["apply", "--config", config, "--elasticache", "--region", "eu-west-1", "--secrets-dir", dir],
      { env, cwd: dir },
    );
    assert.equal(run.code, 1);
    assert.match(run.stderr, /would hold 101 users, ElastiCache allows 100 per group/);
    assert.equal(
      fake.callsOf("CreateUser").length + fake.callsOf("ModifyUserGroup").length,
      0,
      "nothing changed on AWS",
    );
    const written = (await readdir(dir)).filter((f) => f.startsWith("svc"));
    assert.deepEqual(written, [], "no secret written");
  });

  it("refuses --elasticache together with --target, and --secrets-manager with --secrets-dir", async (t) => {
    seed();
    const dir = await tempDir(t);
    const config = await writeConfig(dir, platform(1));
    const both = await cli(
      [
        "plan",
        "--config",
        config,
        "--elasticache",
        "--target",
        "redis://x:y@localhost:1",
        "--secrets-dir",
        dir,
      ],
      { env, cwd: dir },
    );
    assert.equal(both.code, 2);
    assert.match(both.stderr, /--elasticache and --target exclude each other/);
    const stores = await cli(
      ["plan", "--config", config, "--elasticache", "--secrets-manager", "--secrets-dir", dir],
      { env, cwd: dir },
    );
    assert.equal(stores.code, 2);
    assert.match(stores.stderr, /--secrets-manager and --secrets-dir exclude each other/);
  });
});
