import assert from "node:assert/strict";
import { after, describe, test } from "node:test";
import { ConfigError, formatPlan } from "@cacheplane/core";
import { stopAll } from "@cacheplane/testkit";
import type { Redis } from "ioredis";
import { applyPlatform, finishRotation, planAgainst, RotationError, startRotation } from "../src/index.js";
import {
  canAuthenticate,
  connectAs,
  failingOnce,
  readSecretFile,
  standaloneProvisioning,
  testConfig,
} from "./helpers.js";

after(() => stopAll());

describe("two-password rotation on a standalone server", () => {
  const config = testConfig();
  const fx = standaloneProvisioning({ apply: config });
  const svcA = config.services[0]!;
  const svcB = config.services[1]!;
  const auth = (username: string, password: string) =>
    canAuthenticate(fx.server.host, fx.server.port, username, password);

  test("start: old and new both work, running clients keep working; finish: only the new one authenticates", async () => {
    const before = await readSecretFile(fx.store.locate(svcA));
    const old = before.password;
    const running: Redis = await connectAs(fx.server.host, fx.server.port, "svca", old);
    try {
      await running.set("a:through-rotation", "1");

      const started = await startRotation(config, "svc-a", fx.target, fx.store);
      assert.equal(started.status, "started");
      assert.equal(started.secret, fx.store.locate(svcA));
      const during = await readSecretFile(fx.store.locate(svcA));
      assert.notEqual(during.password, old);
      assert.equal(during.previousPassword, old);
      const stored = await fx.store.get(svcA);
      assert.equal(stored?.rotation?.startedAt, started.startedAt);

      assert.equal(await running.get("a:through-rotation"), "1", "an authenticated connection keeps working");
      assert.equal(
        await auth("svca", old),
        true,
        "a new connection with the old password still authenticates",
      );
      assert.equal(await auth("svca", during.password), true, "the new password works");
      assert.deepEqual(
        (await planAgainst(config, fx.target, fx.store)).actions,
        [],
        "during a rotation the plan is empty",
      );

      // A second start continues the same rotation: the old password is not lost.
      const again = await startRotation(config, "svc-a", fx.target, fx.store);
      assert.equal(again.status, "resumed");
      assert.equal(again.startedAt, started.startedAt);
      assert.deepEqual(await readSecretFile(fx.store.locate(svcA)), during);

      const finished = await finishRotation(config, "svc-a", fx.target, fx.store);
      assert.equal(finished.status, "finished");
      const after = await readSecretFile(fx.store.locate(svcA));
      assert.equal(after.password, during.password);
      assert.equal(after.previousPassword, undefined);
      assert.equal((await fx.store.get(svcA))?.rotation, undefined);
      assert.equal(await auth("svca", old), false, "new AUTH with the old password fails after finish");
      assert.equal(await auth("svca", after.password), true);
      // Redis checks passwords on AUTH only: a connection authenticated before finish stays usable until it
      // reconnects. Services must reconnect (re-reading their secret) between start and finish.
      assert.equal(await running.get("a:through-rotation"), "1");
      assert.deepEqual((await planAgainst(config, fx.target, fx.store)).actions, []);

      assert.equal((await finishRotation(config, "svc-a", fx.target, fx.store)).status, "already-finished");
    } finally {
      running.disconnect();
    }
  });

  test("a start that crashed after writing the secret is completed by running start again", async () => {
    const old = (await readSecretFile(fx.store.locate(svcB))).password;
    const crashing = failingOnce(fx.target, "modifyUser", "svcb");
    await assert.rejects(startRotation(config, "svc-b", crashing, fx.store), /simulated crash/);
    const written = await readSecretFile(fx.store.locate(svcB));
    assert.equal(written.previousPassword, old);
    assert.equal(
      await auth("svcb", written.password),
      false,
      "the server does not know the new password yet",
    );
    const { actions } = await planAgainst(config, fx.target, fx.store);
    assert.deepEqual(
      actions.map((a) => (a.type === "modify-user" ? a.changes : a.type)),
      [["passwords"]],
      formatPlan(actions),
    );

    const resumed = await startRotation(config, "svc-b", fx.target, fx.store);
    assert.equal(resumed.status, "resumed");
    assert.deepEqual(await readSecretFile(fx.store.locate(svcB)), written);
    assert.equal(await auth("svcb", written.password), true);
    assert.equal(await auth("svcb", old), true);
  });

  test("a finish that crashed after writing the secret is completed by running finish again", async () => {
    const during = await readSecretFile(fx.store.locate(svcB));
    const crashing = failingOnce(fx.target, "modifyUser", "svcb");
    await assert.rejects(finishRotation(config, "svc-b", crashing, fx.store), /simulated crash/);
    assert.equal((await readSecretFile(fx.store.locate(svcB))).previousPassword, undefined);
    assert.equal(await auth("svcb", during.previousPassword!), true, "not revoked on the server yet");

    assert.equal((await finishRotation(config, "svc-b", fx.target, fx.store)).status, "already-finished");
    assert.equal(await auth("svcb", during.previousPassword!), false);
    assert.equal(await auth("svcb", during.password), true);
    assert.deepEqual((await planAgainst(config, fx.target, fx.store)).actions, []);
  });

  test("rotation needs a declared service with a secret and a user", async () => {
    await assert.rejects(startRotation(config, "nope", fx.target, fx.store), ConfigError);
    const grown = testConfig([{ name: "svc-new", keyspace: "new", access: "read-only" }]);
    await assert.rejects(startRotation(grown, "svc-new", fx.target, fx.store), (error: unknown) => {
      assert.ok(error instanceof RotationError);
      assert.equal(error.service, "svc-new");
      assert.match(error.message, /no secret .*run apply first/);
      return true;
    });
    // A secret without a user (deleted by hand): refused before anything is written.
    await applyPlatform(grown, fx.target, fx.store);
    const newService = grown.services[2]!;
    const before = await readSecretFile(fx.store.locate(newService));
    const admin = fx.server.client();
    await admin.call("ACL", "DELUSER", "svcnew");
    await assert.rejects(
      startRotation(grown, "svc-new", fx.target, fx.store),
      /does not exist on the target; run apply first/,
    );
    assert.deepEqual(await readSecretFile(fx.store.locate(newService)), before);
  });
});
