/**
 * The Secrets Manager rotation steps on the real local path: the secret's current version is the
 * file of the file secret store (what a service reads through REDIS_SECRET_FILE), users live on a real
 * redis-server (the Redis ACL target), and testSecret really authenticates. A running client keeps
 * working through two rotations: after the second one its original password is no longer valid, and
 * it recovers by re-reading its secret on WRONGPASS.
 */
import assert from "node:assert/strict";
import { after, describe, it } from "node:test";
import { setTimeout as sleep } from "node:timers/promises";
import { stopAll } from "@cacheplane/testkit";
import { clearSecretCache, closeAllRedisConnections, createCache } from "../../client/src/index.js";
import { decodeSecretDocument, encodeSecretDocument } from "../src/secrets-manager-document.js";
import {
  type RotationSecrets,
  type RotationUsers,
  rotationUserId,
  runRotationStep,
  SecretRotationError,
} from "../src/secrets-manager-rotation.js";
import { canAuthenticate, readSecretFile, standaloneProvisioning, testConfig } from "./helpers.js";

after(() => stopAll());

describe("rotation steps on the local path (file secret store, real redis-server)", () => {
  const config = testConfig();
  const service = config.services[0]!;
  after(() => closeAllRedisConnections());
  const fx = standaloneProvisioning({ apply: config });

  /** Secret versions whose AWSCURRENT is the service's secret file. */
  function fileVersions(): RotationSecrets & { begin(token: string): void } {
    let currentId = "v0";
    const pending = new Map<string, string | undefined>();
    return {
      begin: (token) => {
        if (!pending.has(token) && token !== currentId) pending.set(token, undefined);
      },
      async describe() {
        const versions: Record<string, string[]> = { [currentId]: ["AWSCURRENT"] };
        for (const id of pending.keys()) versions[id] = ["AWSPENDING"];
        return { rotationEnabled: true, versions };
      },
      async read(_secretId, stage, versionId) {
        if (stage === "AWSPENDING") return versionId !== undefined ? pending.get(versionId) : undefined;
        const stored = await fx.store.get(service);
        return stored ? encodeSecretDocument(stored.payload, {}) : undefined;
      },
      async putPending(_secretId, versionId, secretString) {
        pending.set(versionId, secretString);
      },
      async promote(secretId, versionId) {
        const text = pending.get(versionId);
        if (text === undefined) throw new Error(`no pending version ${versionId}`);
        await fx.store.put(service, decodeSecretDocument(text, secretId).payload);
        pending.delete(versionId);
        currentId = versionId;
      },
    };
  }

  const users: RotationUsers = {
    setPasswords: (userId, passwords) => fx.target.modifyUser(userId, { passwords }),
    async test(userId, payload) {
      if (!(await canAuthenticate(fx.server.host, fx.server.port, userId, payload.password))) {
        throw new SecretRotationError(`the new password of ${userId} is refused by the server`);
      }
    },
  };

  it("rotates twice without cutting off a running client; the client re-reads its secret on WRONGPASS", async () => {
    const secrets = fileVersions();
    const rotate = async (token: string) => {
      secrets.begin(token);
      for (const Step of ["createSecret", "setSecret", "testSecret", "finishSecret"] as const) {
        await runRotationStep(
          { Step, SecretId: fx.store.locate(service), ClientRequestToken: token },
          { secrets, users },
        );
      }
    };
    const original = await readSecretFile(fx.store.locate(service));
    clearSecretCache();
    const cache = createCache({
      secretFile: fx.store.locate(service),
      secretMinRefreshIntervalMs: 0,
      commandTimeoutMs: 10_000,
      connectTimeoutMs: 10_000,
      breaker: false,
      throwOnError: false,
    });
    try {
      await cache.set("k", "before");

      await rotate("r1");
      const first = await readSecretFile(fx.store.locate(service));
      assert.notEqual(first.password, original.password);
      assert.equal(first.previousPassword, original.password);
      assert.ok(
        await canAuthenticate(fx.server.host, fx.server.port, service.userId, original.password),
        "old still valid",
      );
      assert.ok(
        await canAuthenticate(fx.server.host, fx.server.port, service.userId, first.password),
        "new valid",
      );
      assert.equal(await cache.get("k"), "before", "the running client was not cut off");

      await rotate("r2");
      const second = await readSecretFile(fx.store.locate(service));
      assert.equal(second.previousPassword, first.password);
      assert.equal(
        await canAuthenticate(fx.server.host, fx.server.port, service.userId, original.password),
        false,
        "the oldest password is gone after the next rotation",
      );

      // The client still holds the original password: drop its connection; the reconnect is refused
      // (WRONGPASS), the client re-reads the secret file and carries on with the current password.
      await fx.admin.call("CLIENT", "KILL", "USER", rotationUserId(original));
      let value: unknown;
      for (let i = 0; i < 200 && value !== "before"; i++) {
        value = await cache.get("k");
        if (value !== "before") await sleep(25);
      }
      assert.equal(value, "before", "recovered with the rotated password");
    } finally {
      await cache.close();
    }
  });
});
