// /multi-exec on a Redis Cluster (testkit's 3 masters): a transaction whose keys hash to several
// slots can never run, so it is a 400 CROSSSLOT (not a 503 a client would retry) and nothing of it is
// applied, whether the slots are on different masters or on the same one. Same-slot transactions
// (hash tags) run.
import assert from "node:assert/strict";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { keySlot } from "@cacheplane/client";
import { parseConfig } from "@cacheplane/core";
import type { SecretPayload } from "@cacheplane/core/secret";
import { type RedisCluster, randomPassword, startCluster, stopAll } from "@cacheplane/testkit";
import { type GatewayServer, startGatewayServer } from "../src/node-server.js";
import { ensureServiceTokens } from "../src/tokens.js";
import { post } from "./helpers/fixture.js";

let cluster: RedisCluster;
let server: GatewayServer;
let secretsDir: string;
let token: string;

/** Slot ranges of testkit's 3 masters (16384 slots split evenly). */
const masterOf = (slot: number) => (slot <= 5460 ? 0 : slot <= 10922 ? 1 : 2);

/** The first key `orders:<n>` that satisfies `test`. */
function keyWhere(test: (slot: number) => boolean, from = 0): string {
  for (let n = from; ; n++) {
    const key = `orders:${n}`;
    if (test(keySlot(key))) return key;
  }
}

before(async () => {
  cluster = await startCluster({ masters: 3 });
  const config = parseConfig({
    stage: "test",
    region: "local",
    services: [{ name: "orders", access: "read-write" }],
  });
  const service = config.services[0]!;
  const password = randomPassword();
  for (const node of cluster.nodes) {
    const admin = node.client();
    await admin.call(
      "ACL",
      "SETUSER",
      service.userId,
      "reset",
      ...service.accessString.split(" "),
      `>${password}`,
    );
    admin.disconnect();
  }
  secretsDir = await mkdtemp(join(tmpdir(), "cacheplane-gateway-cluster-"));
  const seed = cluster.masters[0]!;
  const secret: SecretPayload = {
    host: seed.host,
    port: seed.port,
    username: service.userName,
    password,
    keyspace: service.keyspace,
    tls: false,
    cluster: true,
  };
  await writeFile(join(secretsDir, "orders.json"), JSON.stringify(secret), { mode: 0o600 });
  server = await startGatewayServer({
    config,
    secretsDir,
    port: 0,
    tokenRefreshIntervalMs: 0,
    logger: () => undefined,
  });
  token = (await ensureServiceTokens(secretsDir, "orders")).readWrite;
});
after(async () => {
  await server?.close();
  await cluster?.stop();
  await stopAll();
  if (secretsDir) await rm(secretsDir, { recursive: true, force: true });
});

async function exists(...keys: string[]): Promise<number> {
  const admin = cluster.client();
  let n = 0;
  for (const key of keys) n += await admin.exists(key);
  return n;
}

describe("cluster /multi-exec", () => {
  test("keys on two masters: 400 CROSSSLOT, nothing applied", async () => {
    const a = keyWhere((s) => masterOf(s) === 0);
    const b = keyWhere((s) => masterOf(s) === 2);
    const res = await post(
      server.url,
      "/multi-exec",
      [
        ["SET", a, "1"],
        ["SET", b, "2"],
      ],
      token,
    );
    assert.equal(res.status, 400, res.text);
    assert.match(
      String((res.json as { error: string }).error),
      /^CROSSSLOT Keys in request don't hash to the same slot \(transaction not run/,
    );
    assert.equal(await exists(a, b), 0, "nothing of the transaction was applied");
  });

  test("two slots on the same master: 400 CROSSSLOT, nothing applied", async () => {
    const a = keyWhere((s) => masterOf(s) === 1);
    const slotA = keySlot(a);
    const b = keyWhere((s) => masterOf(s) === 1 && s !== slotA);
    const res = await post(
      server.url,
      "/multi-exec",
      [
        ["INCR", a],
        ["INCR", b],
      ],
      token,
    );
    assert.equal(res.status, 400, res.text);
    assert.match(String((res.json as { error: string }).error), /^CROSSSLOT /);
    assert.equal(await exists(a, b), 0);
  });

  test("one multi-key command spanning slots: 400 CROSSSLOT, nothing applied", async () => {
    const a = keyWhere((s) => masterOf(s) === 0);
    const b = keyWhere((s) => masterOf(s) === 1);
    const res = await post(server.url, "/multi-exec", [["MSET", a, "1", b, "2"]], token);
    assert.equal(res.status, 400, res.text);
    assert.match(String((res.json as { error: string }).error), /^CROSSSLOT /);
    assert.equal(await exists(a, b), 0);
  });

  test("keys sharing a hash tag run as one transaction", async () => {
    const res = await post(
      server.url,
      "/multi-exec",
      [
        ["SET", "orders:{7}:a", "1"],
        ["INCR", "orders:{7}:n"],
        ["GET", "orders:{7}:a"],
      ],
      token,
    );
    assert.equal(res.status, 200, res.text);
    assert.deepEqual(res.json, [{ result: "OK" }, { result: 1 }, { result: "1" }]);
  });

  test("a pipeline still routes each command to its own master", async () => {
    const a = keyWhere((s) => masterOf(s) === 0, 1000);
    const b = keyWhere((s) => masterOf(s) === 2, 1000);
    const res = await post(
      server.url,
      "/pipeline",
      [
        ["SET", a, "x"],
        ["SET", b, "y"],
        ["MGET", a, b],
      ],
      token,
    );
    assert.equal(res.status, 200, res.text);
    const items = res.json as Array<{ result?: unknown; error?: string }>;
    assert.deepEqual(items.slice(0, 2), [{ result: "OK" }, { result: "OK" }]);
    assert.match(String(items[2]!.error), /^CROSSSLOT /);
  });
});
