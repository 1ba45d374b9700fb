import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { ConfigError, formatPlan } from "@cacheplane/core";
import { type RedisServer, startRedis, stopAll } from "@cacheplane/testkit";
import type { Redis } from "ioredis";
import {
  applyPlatform,
  FileSecretStore,
  finishRotation,
  planAgainst,
  RedisAclTarget,
  RotationError,
  startRotation,
} from "../src/index.js";
import { canAuthenticate, connectAs, failingOnce, readSecretFile, tempDir, testConfig } from "./helpers.js";

after(() => stopAll());

describe("two-password rotation on a standalone server", () => {
  let server: RedisServer;
  let target: RedisAclTarget;
  let store: FileSecretStore;
  let cleanup: () => Promise<void>;
  const config = testConfig();
  const svcA = config.services[0]!;
  const svcB = config.services[1]!;
  const auth = (username: string, password: string) =>
    canAuthenticate(server.host, server.port, username, password);

  before(async () => {
    server = await startRedis();
    target = await RedisAclTarget.connect({ urls: [server.url] });
    const temp = await tempDir();
    cleanup = temp.cleanup;
    store = new FileSecretStore(temp.dir);
    await applyPlatform(config, target, store);
  });
  after(async () => {
    await target?.close();
    await server?.stop();
    await cleanup?.();
  });

  test("start: old and new both work, running clients keep working; finish: only the new one authenticates", async () => {
    const before = await readSecretFile(store.locate(svcA));
    const old = before.password;
    const running: Redis = await connectAs(server.host, server.port, "svca", old);
    try {
      await running.set("a:through-rotation", "1");

      const started = await startRotation(config, "svc-a", target, store);
      assert.equal(started.status, "started");
      assert.equal(started.secret, store.locate(svcA));
      const during = await readSecretFile(store.locate(svcA));
      assert.notEqual(during.password, old);
      assert.equal(during.previousPassword, old);
      const stored = await store.get(svcA);
      assert.equal(stored?.rotation?.startedAt, started.startedAt);

      assert.equal(await running.get("a:through-rotation"), "1", "an authenticated connection keeps working");
      assert.equal(
        await auth("svca", old),
        true,
        "a new connection with the old password still authenticates",
      );
      assert.equal(await auth("svca", during.password), true, "the new password works");
      assert.deepEqual(
        (await planAgainst(config, target, store)).actions,
        [],
        "during a rotation the plan is empty",
      );

      // A second start continues the same rotation: the old password is not lost.
      const again = await startRotation(config, "svc-a", target, store);
      assert.equal(again.status, "resumed");
      assert.equal(again.startedAt, started.startedAt);
      assert.deepEqual(await readSecretFile(store.locate(svcA)), during);

      const finished = await finishRotation(config, "svc-a", target, store);
      assert.equal(finished.status, "finished");
      const after = await readSecretFile(store.locate(svcA));
      assert.equal(after.password, during.password);
      assert.equal(after.previousPassword, undefined);
      assert.equal((await store.get(svcA))?.rotation, undefined);
      assert.equal(await auth("svca", old), false, "new AUTH with the old password fails after finish");
      assert.equal(await auth("svca", after.password), true);
      // Redis checks passwords on AUTH only: a connection authenticated before finish stays usable until it
      // reconnects. Services must reconnect (re-reading their secret) between start and finish.
      assert.equal(await running.get("a:through-rotation"), "1");
      assert.deepEqual((await planAgainst(config, target, store)).actions, []);

      assert.equal((await finishRotation(config, "svc-a", target, store)).status, "already-finished");
    } finally {
      running.disconnect();
    }
  });

  test("a start that crashed after writing the secret is completed by running start again", async () => {
    const old = (await readSecretFile(store.locate(svcB))).password;
    const crashing = failingOnce(target, "modifyUser", "svcb");
    await assert.rejects(startRotation(config, "svc-b", crashing, store), /simulated crash/);
    const written = await readSecretFile(store.locate(svcB));
    assert.equal(written.previousPassword, old);
    assert.equal(
      await auth("svcb", written.password),
      false,
      "the server does not know the new password yet",
    );
    const { actions } = await planAgainst(config, target, store);
    assert.deepEqual(
      actions.map((a) => (a.type === "modify-user" ? a.changes : a.type)),
      [["passwords"]],
      formatPlan(actions),
    );

    const resumed = await startRotation(config, "svc-b", target, store);
    assert.equal(resumed.status, "resumed");
    assert.deepEqual(await readSecretFile(store.locate(svcB)), written);
    assert.equal(await auth("svcb", written.password), true);
    assert.equal(await auth("svcb", old), true);
  });

  test("a finish that crashed after writing the secret is completed by running finish again", async () => {
    const during = await readSecretFile(store.locate(svcB));
    const crashing = failingOnce(target, "modifyUser", "svcb");
    await assert.rejects(finishRotation(config, "svc-b", crashing, store), /simulated crash/);
    assert.equal((await readSecretFile(store.locate(svcB))).previousPassword, undefined);
    assert.equal(await auth("svcb", during.previousPassword!), true, "not revoked on the server yet");

    assert.equal((await finishRotation(config, "svc-b", target, store)).status, "already-finished");
    assert.equal(await auth("svcb", during.previousPassword!), false);
    assert.equal(await auth("svcb", during.password), true);
    assert.deepEqual((await planAgainst(config, target, store)).actions, []);
  });

  test("rotation needs a declared service with a secret and a user", async () => {
    await assert.rejects(startRotation(config, "nope", target, store), ConfigError);
    const grown = testConfig([{ name: "svc-new", keyspace: "new", access: "read-only" }]);
    await assert.rejects(startRotation(grown, "svc-new", target, store), (error: unknown) => {
      assert.ok(error instanceof RotationError);
      assert.equal(error.service, "svc-new");
      assert.match(error.message, /no secret .*run apply first/);
      return true;
    });
    // A secret without a user (deleted by hand): refused before anything is written.
    await applyPlatform(grown, target, store);
    const newService = grown.services[2]!;
    const before = await readSecretFile(store.locate(newService));
    const admin = server.client();
    await admin.call("ACL", "DELUSER", "svcnew");
    await assert.rejects(
      startRotation(grown, "svc-new", target, store),
      /does not exist on the target; run apply first/,
    );
    assert.deepEqual(await readSecretFile(store.locate(newService)), before);
  });
});
