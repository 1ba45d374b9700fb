import assert from "node:assert/strict";
import { readdirSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { mkdir } from "node:fs/promises";
import { isAbsolute, join } from "node:path";
import { test } from "node:test";
import { buildSecretPayload, parseSecretPayload } from "@cacheplane/core";
import { FILE_STORE_STATE_FILE, FileSecretStore, SecretStoreError } from "../src/index.js";
import { tempDir, testConfig } from "./helpers.js";

const config = testConfig([{ name: "Orders API", keyspace: "orders", access: "read-only" }]);
const [svcA, svcB, orders] = config.services as [
  (typeof config.services)[0],
  (typeof config.services)[0],
  (typeof config.services)[0],
];
const target = { host: "cache.internal", port: 6380, tls: true };
const payload = (service = svcA, current = "CurrentPassword0123456789", previous?: string) =>
  buildSecretPayload(config, service, target, previous ? { current, previous } : { current });

test("put writes exactly the payload to <dir>/<service>.json (0600, directory 0700); get reads it back", async (t) => {
  const { dir, cleanup } = await tempDir();
  t.after(cleanup);
  const store = new FileSecretStore(dir);
  assert.equal(await store.get(svcA), undefined);
  assert.deepEqual(await store.listManagedUserIds(), []);

  await store.put(svcA, payload());
  const path = store.locate(svcA);
  assert.ok(isAbsolute(path));
  assert.equal(path, join(dir, "svc-a.json"));
  assert.equal(statSync(dir).mode & 0o777, 0o700);
  assert.equal(statSync(path).mode & 0o777, 0o600);
  assert.equal(statSync(join(dir, FILE_STORE_STATE_FILE)).mode & 0o777, 0o600);
  assert.deepEqual(
    parseSecretPayload(readFileSync(path, "utf8")),
    payload(),
    "the file is the payload, nothing else",
  );
  assert.deepEqual(JSON.parse(readFileSync(path, "utf8")), payload());

  const stored = await store.get(svcA);
  assert.equal(stored?.service, "svc-a");
  assert.equal(stored?.userId, "svca");
  assert.deepEqual(stored?.payload, payload());
  assert.ok(!Number.isNaN(Date.parse(stored!.updatedAt)));
  assert.equal(stored?.rotation, undefined);
  assert.equal(store.locate(orders), join(dir, "orders-api.json"), "file names are normalised service names");
  // Atomic writes leave no temp files behind.
  assert.deepEqual(readdirSync(dir).sort(), [FILE_STORE_STATE_FILE, "svc-a.json"]);
});

test("rotation metadata, listing and removal", async (t) => {
  const { dir, cleanup } = await tempDir();
  t.after(cleanup);
  const store = new FileSecretStore(dir);
  const startedAt = "2025-01-02T03:04:05.000Z";
  await store.put(svcA, payload(svcA, "NewPassword0123456789abc", "OldPassword0123456789abc"), {
    rotation: { startedAt },
  });
  await store.put(svcB, payload(svcB));
  await store.put(orders, payload(orders));
  assert.deepEqual((await store.get(svcA))?.rotation, { startedAt });
  assert.deepEqual(await store.listManagedUserIds(), ["ordersapi", "svca", "svcb"]);

  // Files that are not secrets are ignored.
  writeFileSync(join(dir, "notes.json"), '{"hello": "world"}');
  writeFileSync(join(dir, "README.txt"), "hi");
  assert.deepEqual(await store.listManagedUserIds(), ["ordersapi", "svca", "svcb"]);

  await store.remove("svcb");
  await store.remove("nobody");
  assert.equal(await store.get(svcB), undefined);
  assert.deepEqual(await store.listManagedUserIds(), ["ordersapi", "svca"]);
  const state = JSON.parse(readFileSync(join(dir, FILE_STORE_STATE_FILE), "utf8"));
  assert.deepEqual(Object.keys(state.services).sort(), ["Orders API", "svc-a"]);
});

test("without the state file (lost or never written) the payload is enough", async (t) => {
  const { dir, cleanup } = await tempDir();
  t.after(cleanup);
  await mkdir(dir, { recursive: true });
  writeFileSync(
    join(dir, "svc-a.json"),
    JSON.stringify(payload(svcA, "NewPassword0123456789abc", "OldPassword0123456789abc")),
  );
  const store = new FileSecretStore(dir);
  const stored = await store.get(svcA);
  assert.equal(stored?.userId, "svca");
  assert.ok(stored?.rotation?.startedAt, "a previousPassword means a rotation is under way");
  assert.deepEqual(await store.listManagedUserIds(), ["svca"]);
});

test("a broken secret file gives a SecretStoreError naming the file, never the password", async (t) => {
  const { dir, cleanup } = await tempDir();
  t.after(cleanup);
  await mkdir(dir, { recursive: true });
  const store = new FileSecretStore(dir);
  const secret = "LeakedPasswordValue12345";
  writeFileSync(store.locate(svcA), JSON.stringify({ ...payload(svcA, secret), port: "not-a-port" }));
  await assert.rejects(store.get(svcA), (error: unknown) => {
    assert.ok(error instanceof SecretStoreError);
    assert.equal(error.location, store.locate(svcA));
    assert.match(error.message, /port/);
    assert.ok(!error.message.includes(secret) && !String(error.stack).includes(secret));
    return true;
  });
  writeFileSync(store.locate(svcA), `{"password": "${secret}", `);
  await assert.rejects(store.get(svcA), (error: unknown) => {
    assert.ok(error instanceof SecretStoreError);
    assert.match(error.message, /not valid JSON/);
    assert.ok(!error.message.includes(secret));
    return true;
  });
  await assert.rejects(store.put(svcA, { ...payload(svcA, secret), host: "" }), (error: unknown) => {
    assert.ok(error instanceof SecretStoreError && !error.message.includes(secret));
    return true;
  });
});
