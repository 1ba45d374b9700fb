// Namespaced tokens on a 3-master Redis Cluster (testkit), provisioned by the real provisioner with
// the scanner identity: SCAN's cursor walks every master (stable across calls), KEYS/DBSIZE/FLUSHDB
// see every master's share of the keyspace and nothing else, and @upstash/redis works unchanged.
import assert from "node:assert/strict";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { keySlot } from "@cacheplane/client";
import { parseConfig } from "@cacheplane/core";
import { applyPlatform, FileSecretStore, RedisAclTarget } from "@cacheplane/provisioner";
import { type RedisCluster, startCluster, stopAll } from "@cacheplane/testkit";
import { Redis as Upstash } from "@upstash/redis";
import { type GatewayServer, startGatewayServer } from "../src/node-server.js";
import { ensureServiceTokens, type ServiceTokens } from "../src/tokens.js";
import { post } from "./helpers/fixture.js";

let cluster: RedisCluster;
let server: GatewayServer;
let secretsDir: string;
let tokens: ServiceTokens;
let other: ServiceTokens;

before(async () => {
  cluster = await startCluster({ masters: 3 });
  const config = parseConfig({
    stage: "test",
    region: "local",
    scanner: true,
    services: [
      { name: "orders", access: "read-write" },
      { name: "billing", access: "read-write" },
    ],
  });
  secretsDir = await mkdtemp(join(tmpdir(), "cacheplane-ns-cluster-"));
  const target = await RedisAclTarget.connect({ urls: [cluster.url], cluster: true });
  try {
    await applyPlatform(config, target, new FileSecretStore(secretsDir));
  } finally {
    await target.close();
  }
  server = await startGatewayServer({ config, secretsDir, port: 0, logger: () => undefined });
  tokens = await ensureServiceTokens(secretsDir, "orders");
  other = await ensureServiceTokens(secretsDir, "billing");
  const admin = cluster.client();
  for (let i = 0; i < 30; i++) await admin.set(`billing:k${i}`, "billing-private");
  admin.disconnect();
});
after(async () => {
  await server?.close();
  await cluster?.stop();
  await stopAll();
  if (secretsDir) await rm(secretsDir, { recursive: true, force: true });
});

const result = (json: unknown) => (json as { result?: unknown }).result;

describe("namespaced tokens on a cluster", () => {
  test("SCAN walks every master with one cursor; KEYS and DBSIZE see the whole keyspace", async () => {
    const token = tokens.namespacedReadWrite;
    const names = Array.from({ length: 60 }, (_, i) => `item:${i}`);
    for (const name of names)
      assert.deepEqual((await post(server.url, "/", ["SET", name, "v"], token)).json, { result: "OK" });
    // The names really are spread over the three masters.
    const masters = new Set(
      names.map((n) => {
        const s = keySlot(`orders:${n}`);
        return s <= 5460 ? 0 : s <= 10922 ? 1 : 2;
      }),
    );
    assert.equal(masters.size, 3);

    const seen = new Set<string>();
    const cursors: string[] = [];
    let cursor = "0";
    do {
      const [next, batch] = result(
        (await post(server.url, "/", ["SCAN", cursor, "COUNT", "7"], token)).json,
      ) as [string, string[]];
      for (const name of batch) seen.add(name);
      cursors.push(next);
      cursor = next;
    } while (cursor !== "0" && cursors.length < 10_000);
    assert.deepEqual([...seen].sort(), [...names].sort());
    assert.ok(cursors.length >= 3, "at least one call per master");
    for (const c of cursors) assert.match(c, /^\d+$/);

    const keys = result((await post(server.url, "/", ["KEYS", "item:*"], token)).json) as string[];
    assert.deepEqual(keys.sort(), [...names].sort());
    assert.deepEqual((await post(server.url, "/", ["DBSIZE"], token)).json, { result: 60 });
    // The other service's namespaced token sees only its own 30.
    assert.deepEqual((await post(server.url, "/", ["DBSIZE"], other.namespacedReadWrite)).json, {
      result: 30,
    });
  });

  test("transactions: one slot runs (hash tags survive the prefix), several slots are a 400", async () => {
    const token = tokens.namespacedReadWrite;
    const ok = await post(
      server.url,
      "/multi-exec",
      [
        ["SET", "{u1}:a", "1"],
        ["INCR", "{u1}:a"],
      ],
      token,
    );
    assert.deepEqual(ok.json, [{ result: "OK" }, { result: 2 }]);
    const cross = await post(
      server.url,
      "/multi-exec",
      [
        ["SET", "a", "1"],
        ["SET", "b", "2"],
      ],
      token,
    );
    assert.equal(cross.status, 400);
    assert.match(String((cross.json as { error: string }).error), /^CROSSSLOT/);
  });

  test("@upstash/redis works unchanged; FLUSHDB empties this keyspace on every master, nothing else", async () => {
    const redis = new Upstash({ url: server.url, token: tokens.namespacedReadWrite, enableTelemetry: false });
    await redis.set("foo", "bar");
    assert.equal(await redis.get("foo"), "bar");
    assert.deepEqual(await redis.mget("{t}1", "{t}2"), [null, null]);
    assert.ok((await redis.keys("*")).includes("foo"));
    assert.equal(await redis.flushdb(), "OK");
    assert.equal(await redis.dbsize(), 0);
    assert.deepEqual((await post(server.url, "/", ["DBSIZE"], other.namespacedReadWrite)).json, {
      result: 30,
    });
    const admin = cluster.client();
    try {
      assert.equal(await admin.get("billing:k0"), "billing-private");
    } finally {
      admin.disconnect();
    }
  });
});
