/**
 * Two-password rotation on AWS: the provisioner's `startRotation`/`finishRotation` with the
 * ElastiCache target and the Secrets Manager store (both on mocked SDK clients). Same semantics as on
 * Redis: the secret holds `password` + `previousPassword` while the user accepts both; finishing
 * drops the previous one from the secret first, then from the user.
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { parseConfig } from "@cacheplane/core";
import { applyPlatform } from "../src/apply.js";
import { ElastiCacheTarget } from "../src/elasticache-target.js";
import { finishRotation, startRotation } from "../src/rotation.js";
import { SecretsManagerStore } from "../src/secrets-manager-store.js";
import { FakeElastiCache, fakeClock } from "./elasticache-fake.js";
import { fakeSecretsManager } from "./secrets-manager-fake.js";

const config = parseConfig({
  stage: "dev",
  region: "eu-west-1",
  services: [{ name: "orders", access: "read-write" }],
});
const NEXT = "RotatedPassword0123456789abcdefghij";

describe("rotation on ElastiCache + Secrets Manager", () => {
  it("start: secret has password + previousPassword, user accepts both; finish: only the new one", async () => {
    const fake = new FakeElastiCache();
    fake.addGroup({ UserGroupId: config.userGroupId });
    const sm = fakeSecretsManager();
    const store = new SecretsManagerStore({ client: sm.client, clock: fakeClock() });
    const target = new ElastiCacheTarget({
      client: fake.client,
      clock: fakeClock(),
      endpoint: { host: "dev-shared-abc.serverless.euw1.cache.amazonaws.com" },
    });
    await applyPlatform(config, target, store);
    const secretOf = () => JSON.parse(sm.secrets.get("/services/orders/redis/orders")!.SecretString);
    const first = secretOf().password as string;

    const started = await startRotation(config, "orders", target, store, { generatePassword: () => NEXT });
    assert.equal(started.status, "started");
    assert.equal(secretOf().password, NEXT);
    assert.equal(secretOf().previousPassword, first);
    assert.equal(secretOf().cacheplane.rotationStartedAt, started.startedAt);
    assert.deepEqual(fake.users.get("orders")!.passwords, [NEXT, first]);
    assert.equal((await store.get(config.services[0]!))?.rotation?.startedAt, started.startedAt);

    const again = await startRotation(config, "orders", target, store, { generatePassword: () => "unused" });
    assert.equal(again.status, "resumed", "re-running start resumes, it does not rotate twice");

    const finished = await finishRotation(config, "orders", target, store);
    assert.equal(finished.status, "finished");
    assert.equal(secretOf().previousPassword, undefined);
    assert.equal(secretOf().cacheplane.rotationStartedAt, undefined);
    assert.deepEqual(fake.users.get("orders")!.passwords, [NEXT]);
    const modifies = fake
      .callsOf("ModifyUser")
      .map((c) => (c.AuthenticationMode as { Passwords: string[] }).Passwords.length);
    assert.deepEqual(modifies, [2, 2, 1]);
  });
});
