// Loading services from a config and a secrets directory; the Node server issuing tokens; the
// gateway picking up a rotated Redis password from the secret file; TLS to Redis.
import assert from "node:assert/strict";
import { mkdtemp, readFile, rm, stat, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, test } from "node:test";
import { setTimeout as sleep } from "node:timers/promises";
import { parseConfig } from "@cacheplane/core";
import { randomPassword, startRedis, stopAll } from "@cacheplane/testkit";
import { startGatewayServer } from "../src/node-server.js";
import { loadGatewayServices, parseRedisTarget } from "../src/services.js";
import { post, provisionServices, startFixture } from "./helpers/fixture.js";

after(() => stopAll());

const config = {
  stage: "test",
  region: "local",
  services: [
    { name: "orders", access: "read-write" as const },
    { name: "Legacy App", keyspace: "legacy", access: "read-only" as const, sharedKeyspaces: ["common"] },
    { name: "off", access: "read-write" as const, enabled: false },
  ],
};

describe("loadGatewayServices", () => {
  test("reads <service>.json secrets; target overrides host/port/tls; disabled services are skipped", async () => {
    const dir = await mkdtemp(join(tmpdir(), "cacheplane-services-"));
    try {
      const secret = {
        host: "cache.internal",
        port: 6380,
        username: "orders",
        password: "p".repeat(40),
        keyspace: "orders",
        tls: true,
      };
      await writeFile(join(dir, "orders.json"), JSON.stringify(secret));
      await assert.rejects(
        () => loadGatewayServices(config, dir),
        (error: Error) =>
          /No Redis secret for Legacy App/.test(error.message) && !error.message.includes("p".repeat(40)),
      );
      await writeFile(
        join(dir, "legacyapp.json"),
        JSON.stringify({ ...secret, username: "legacyapp", keyspace: "legacy" }),
      );
      const services = await loadGatewayServices(config, dir);
      assert.deepEqual(
        services.map((s) => [s.name, s.keyspace, s.sharedKeyspaces, s.secret.host, s.secret.tls]),
        [
          ["orders", "orders", [], "cache.internal", true],
          ["Legacy App", "legacy", ["common"], "cache.internal", true],
        ],
      );
      assert.match(services[0]?.accessString ?? "", /^on ~orders:\*/);
      const local = await loadGatewayServices(parseConfig(config), dir, {
        target: "redis://admin:ignored@127.0.0.1:7000",
        only: ["orders"],
      });
      assert.deepEqual(
        [
          local.length,
          local[0]?.secret.host,
          local[0]?.secret.port,
          local[0]?.secret.tls,
          local[0]?.secret.username,
        ],
        [1, "127.0.0.1", 7000, false, "orders"],
      );
      assert.equal((await local[0]?.reloadSecret?.())?.port, 7000);
      await assert.rejects(() => loadGatewayServices(config, dir, { only: ["nope"] }), /No such service/);
      await writeFile(join(dir, "orders.json"), JSON.stringify({ ...secret, port: "x" }));
      await assert.rejects(
        () => loadGatewayServices(config, dir),
        (error: Error) => /port/.test(error.message) && !error.message.includes("p".repeat(40)),
      );
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
    assert.deepEqual(parseRedisTarget("rediss://[::1]:6390"), { host: "::1", port: 6390, tls: true });
    assert.throws(() => parseRedisTarget("http://x"), /redis:\/\//);
  });

  test("startGatewayServer issues missing tokens and serves on 127.0.0.1", async () => {
    const redis = await startRedis({ acl: true });
    const dir = await mkdtemp(join(tmpdir(), "cacheplane-services-"));
    try {
      const parsed = parseConfig({
        stage: "test",
        region: "local",
        services: [{ name: "orders", access: "read-write" }],
      });
      await provisionServices(redis, parsed, dir);
      const server = await startGatewayServer({
        config: parsed,
        secretsDir: dir,
        port: 0,
        logger: () => undefined,
      });
      try {
        assert.match(server.url, /^http:\/\/127\.0\.0\.1:\d+$/);
        assert.deepEqual(server.gateway.services, ["orders"]);
        const file = server.tokenFiles.orders!;
        assert.equal(file, join(dir, "orders.token.json"));
        assert.equal((await stat(file)).mode & 0o777, 0o600);
        const tokens = JSON.parse(await readFile(file, "utf8")) as { readWrite: string };
        assert.deepEqual((await post(server.url, "/", ["PING"], tokens.readWrite)).json, { result: "PONG" });
      } finally {
        await server.close();
      }
    } finally {
      await rm(dir, { recursive: true, force: true });
      await redis.stop();
    }
  });
});

describe("secret rotation and TLS", () => {
  test("a rotated Redis password is picked up from the secret file", async () => {
    const fx = await startFixture({
      services: [{ name: "a", access: "read-write" }],
      gateway: { timeoutMs: 500 },
    });
    try {
      const token = fx.tokens.a!.readWrite;
      assert.deepEqual((await post(fx.url, "/", ["SET", "a:k", "1"], token)).json, { result: "OK" });
      const admin = fx.redis.client();
      const fresh = randomPassword();
      await admin.call("ACL", "SETUSER", "a", "resetpass", `>${fresh}`);
      await writeFile(join(fx.secretsDir, "a.json"), JSON.stringify({ ...fx.secrets.a, password: fresh }));
      await admin.call("CLIENT", "KILL", "USER", "a");
      let last: Awaited<ReturnType<typeof post>> | undefined;
      for (let i = 0; i < 100; i++) {
        last = await post(fx.url, "/", ["GET", "a:k"], token);
        if (last.status === 200) break;
        assert.equal(last.status, 503, last.text);
        await sleep(50);
      }
      assert.deepEqual(last?.json, { result: "1" });
      assert.ok(!JSON.stringify(fx.logs).includes(fresh));
    } finally {
      await fx.close();
    }
  });

  test("TLS connections to Redis with a private CA", async () => {
    const redis = await startRedis({ acl: true, tls: true });
    const dir = await mkdtemp(join(tmpdir(), "cacheplane-services-"));
    try {
      const parsed = parseConfig({
        stage: "test",
        region: "local",
        services: [{ name: "secure", access: "read-write" }],
      });
      const secrets = await provisionServices(redis, parsed, dir);
      await writeFile(join(dir, "secure.json"), JSON.stringify({ ...secrets.secure, tls: true }));
      const server = await startGatewayServer({
        config: parsed,
        secretsDir: dir,
        port: 0,
        tls: { ca: redis.tls!.ca, servername: "localhost" },
        logger: () => undefined,
      });
      try {
        const tokens = JSON.parse(await readFile(server.tokenFiles.secure!, "utf8")) as { readWrite: string };
        assert.deepEqual((await post(server.url, "/", ["SET", "secure:k", "v"], tokens.readWrite)).json, {
          result: "OK",
        });
        assert.deepEqual((await post(server.url, "/", ["GET", "secure:k"], tokens.readWrite)).json, {
          result: "v",
        });
      } finally {
        await server.close();
      }
    } finally {
      await rm(dir, { recursive: true, force: true });
      await redis.stop();
    }
  });
});
