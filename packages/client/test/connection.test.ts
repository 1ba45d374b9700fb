import assert from "node:assert/strict";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, afterEach, before, describe, it } from "node:test";
import { setTimeout as sleep } from "node:timers/promises";
import { GetSecretValueCommand, SecretsManagerClient } from "@aws-sdk/client-secrets-manager";
import { type RedisServer, startRedis } from "@cacheplane/testkit";
import { mockClient } from "aws-sdk-client-mock";
import type { Redis } from "ioredis";
import {
  CacheConfigError,
  type CacheService,
  clearSecretCache,
  closeAllRedisConnections,
  createCache,
  IamAuthTokenProvider,
  SecretLoadError,
  SecretPayloadError,
  SecretSource,
} from "../src/index.js";
import { createServiceUser, RELAXED, SERVICE_USER, secretFor } from "./helpers/redis.js";

const PASSWORD = "Conn-Secret-Pw-93847561";
const KEYSPACE = "orders";

function assertNoPassword(err: unknown, password: string): true {
  assert.ok(err instanceof Error);
  assert.ok(!err.message.includes(password), "password in message");
  assert.ok(!(err.stack ?? "").includes(password), "password in stack");
  assert.ok(!JSON.stringify(err).includes(password), "password in JSON");
  return true;
}

/** Connections of a user (CLIENT LIST has no USER filter before Redis 7.2). */
async function serviceConnections(admin: Redis, user = SERVICE_USER): Promise<number> {
  const list = (await admin.call("CLIENT", "LIST")) as string;
  return list.split("\n").filter((line) => line.includes(` user=${user} `)).length;
}

describe("createCache: configuration from options and environment", () => {
  it("defaults to memory without a secret, and to redis with one", () => {
    assert.equal(createCache({ env: {} }).store.kind, "memory");
    const secret = JSON.stringify(secretFor({ host: "127.0.0.1", port: 1 }, KEYSPACE, PASSWORD));
    const cache = createCache({ env: { REDIS_SECRET: secret } });
    assert.equal(cache.store.kind, "redis");
    void cache.close();
    assert.equal(
      createCache({ env: { REDIS_SECRET: secret, CACHE_STORAGE_TYPE: "memory" } }).store.kind,
      "memory",
    );
    // options override the environment
    assert.equal(
      createCache({ env: { CACHE_STORAGE_TYPE: "redis" }, storage: "memory" }).store.kind,
      "memory",
    );
  });

  it("names the field at fault", () => {
    assert.throws(
      () => createCache({ env: { CACHE_STORAGE_TYPE: "mongo" } }),
      (err: unknown) => err instanceof CacheConfigError && err.fields.includes("CACHE_STORAGE_TYPE"),
    );
    assert.throws(
      () => createCache({ env: { CACHE_STORAGE_TYPE: "redis" } }),
      (err: unknown) => err instanceof CacheConfigError && err.fields.includes("REDIS_SECRET_ARN"),
    );
    assert.throws(
      () => createCache({ env: { CACHE_STORAGE_TYPE: "dynamodb" } }),
      (err: unknown) => err instanceof CacheConfigError && err.fields.includes("CACHE_TABLE_NAME"),
    );
  });

  it("rejects a malformed inline secret naming the fields, never echoing the password", () => {
    const bad = { host: "127.0.0.1", port: "not-a-port", username: "", password: PASSWORD, keyspace: "a:b" };
    let caught: unknown;
    try {
      createCache({ env: { REDIS_SECRET: JSON.stringify(bad) } });
    } catch (err) {
      caught = err;
    }
    assert.ok(caught instanceof SecretPayloadError);
    assert.deepStrictEqual([...caught.fields].sort(), ["keyspace", "port", "username"]);
    assert.equal(caught.source, "REDIS_SECRET");
    assertNoPassword(caught, PASSWORD);

    // not JSON at all (the text contains the password)
    assert.throws(
      () => createCache({ env: { REDIS_SECRET: `{"password": "${PASSWORD}", oops` } }),
      (err: unknown) => err instanceof SecretPayloadError && assertNoPassword(err, PASSWORD),
    );
    // wrong password type
    assert.throws(
      () => createCache({ secret: { ...bad, port: 6380, username: "u", keyspace: "k", password: 12345 } }),
      (err: unknown) => err instanceof SecretPayloadError && err.fields.includes("password"),
    );
  });

  it("a malformed secret file fails the first call with the field named (never swallowed as a miss)", async () => {
    const dir = await mkdtemp(join(tmpdir(), "cp-secret-"));
    try {
      const file = join(dir, "secret.json");
      await writeFile(
        file,
        JSON.stringify({ host: "127.0.0.1", password: PASSWORD, keyspace: "k", username: "u" }),
      );
      const cache = createCache({ env: { REDIS_SECRET_FILE: file } });
      await assert.rejects(
        cache.get("x"),
        (err: unknown) =>
          err instanceof SecretPayloadError && err.fields.includes("port") && assertNoPassword(err, PASSWORD),
      );
      await cache.close();
      const missing = createCache({ secretFile: join(dir, "nope.json") });
      await assert.rejects(
        missing.get("x"),
        (err: unknown) => err instanceof Error && /nope\.json/.test(err.message),
      );
      await missing.close();
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});

describe("SecretSource cache", () => {
  const sm = mockClient(SecretsManagerClient);
  const arn = "arn:aws:secretsmanager:eu-west-1:123456789012:secret:orders-redis-AbCdEf";
  afterEach(() => {
    sm.reset();
    clearSecretCache();
  });
  after(() => sm.restore());

  it("reads Secrets Manager once per max age, module-wide, and again on a forced refresh", async () => {
    let password = "first-Password-123456";
    sm.on(GetSecretValueCommand, { SecretId: arn }).callsFake(async () => ({
      SecretString: JSON.stringify(secretFor({ host: "10.0.0.1", port: 7379 }, KEYSPACE, password)),
    }));
    let now = 1_000_000;
    const a = new SecretSource(
      { kind: "arn", arn },
      { maxAgeMs: 300_000, minRefreshIntervalMs: 1000, now: () => now },
    );
    const b = new SecretSource({ kind: "arn", arn }, { maxAgeMs: 300_000, now: () => now });
    const [p1, p2] = await Promise.all([a.get(), b.get()]);
    assert.equal(p1.password, "first-Password-123456");
    assert.equal(p2.password, "first-Password-123456");
    assert.equal(sm.commandCalls(GetSecretValueCommand).length, 1);
    now += 299_000;
    await a.get();
    assert.equal(sm.commandCalls(GetSecretValueCommand).length, 1);
    now += 2_000;
    password = "rotated-Password-654321";
    assert.equal((await a.get()).password, "rotated-Password-654321");
    assert.equal(sm.commandCalls(GetSecretValueCommand).length, 2);
    // a forced refresh re-reads, but not twice within the min interval
    password = "third-Password-000000";
    now += 1_000;
    assert.equal((await a.get({ forceRefresh: true })).password, "third-Password-000000");
    assert.equal((await a.get({ forceRefresh: true })).password, "third-Password-000000");
    assert.equal(sm.commandCalls(GetSecretValueCommand).length, 3);
    assert.equal(sm.commandCalls(GetSecretValueCommand)[0]?.args[0].input.SecretId, arn);
  });

  it("reports Secrets Manager failures by ARN, and malformed secrets by field, without the password", async () => {
    sm.on(GetSecretValueCommand).rejectsOnce(
      Object.assign(new Error("denied"), { name: "AccessDeniedException" }),
    );
    const source = new SecretSource({ kind: "arn", arn });
    await assert.rejects(
      source.get(),
      (err: unknown) => err instanceof SecretLoadError && err.message.includes(arn) && err.permanent,
    );
    // a permanent error reaches the caller of a cache call; a transient one is a miss
    sm.reset();
    sm.on(GetSecretValueCommand).rejects(
      Object.assign(new Error("denied"), { name: "AccessDeniedException" }),
    );
    const denied = createCache({ secretArn: arn, breaker: false });
    await assert.rejects(denied.get("k"), SecretLoadError);
    await denied.close();
    clearSecretCache();
    sm.reset();
    sm.on(GetSecretValueCommand).rejects(
      Object.assign(new Error("slow down"), { name: "ThrottlingException" }),
    );
    const throttled = createCache({ secretArn: arn, breaker: false });
    assert.equal(await throttled.get("k"), undefined);
    await throttled.close();
    clearSecretCache();
    sm.reset();
    sm.on(GetSecretValueCommand).resolves({
      SecretString: JSON.stringify({ password: PASSWORD, host: "h" }),
    });
    await assert.rejects(
      source.get(),
      (err: unknown) =>
        err instanceof SecretPayloadError &&
        err.source === arn &&
        err.fields.includes("port") &&
        assertNoPassword(err, PASSWORD),
    );
  });

  it("createCache reads REDIS_SECRET_ARN through Secrets Manager", async () => {
    sm.on(GetSecretValueCommand).resolves({
      SecretString: JSON.stringify(secretFor({ host: "127.0.0.1", port: 1 }, "from-arn", PASSWORD)),
    });
    const cache = createCache({ env: { REDIS_SECRET_ARN: arn }, connectTimeoutMs: 200, breaker: false });
    assert.equal(cache.store.kind, "redis");
    // port 1 refuses connections: the call is a miss, not an error, and the secret was read
    assert.equal(await cache.get("k"), undefined);
    assert.equal(cache.store.keyspace, "from-arn");
    assert.equal(sm.commandCalls(GetSecretValueCommand).length, 1);
    await cache.close();
  });
});

describe("redis connection from a secret (real redis-server, ACL service user)", () => {
  let server: RedisServer;
  let admin: Redis;
  let dir: string;
  const caches: CacheService[] = [];
  const track = (cache: CacheService) => {
    caches.push(cache);
    return cache;
  };

  before(async () => {
    server = await startRedis({ acl: true, tls: false });
    admin = server.client();
    await createServiceUser(admin, KEYSPACE, PASSWORD);
    dir = await mkdtemp(join(tmpdir(), "cp-conn-"));
  });
  after(async () => {
    await Promise.allSettled(caches.map((c) => c.close()));
    await closeAllRedisConnections();
    await server.stop();
    await rm(dir, { recursive: true, force: true });
  });

  it("connects lazily, prefixes keys with the keyspace, and shares one connection across createCache calls", async () => {
    const secret = JSON.stringify(secretFor(server, KEYSPACE, PASSWORD));
    const a = track(createCache({ env: { REDIS_SECRET: secret }, ...RELAXED }));
    const b = track(createCache({ env: { REDIS_SECRET: secret }, ...RELAXED }));
    assert.equal(await serviceConnections(admin), 0, "nothing connects before the first call");
    await a.set("lazy", { ok: true });
    assert.deepStrictEqual(await b.get("lazy"), { ok: true });
    assert.equal(await admin.exists("orders:lazy"), 1);
    assert.equal(await serviceConnections(admin), 1, "warm invocations reuse one connection");
    await a.close();
    assert.deepStrictEqual(await b.get("lazy"), { ok: true }, "still open while another cache holds it");
    await b.close();
    await sleep(50);
    assert.equal(await serviceConnections(admin), 0);
  });

  it("the service user cannot reach other keyspaces (ACL enforced, no KEYS)", async () => {
    const cache = track(
      createCache({
        secret: secretFor(server, KEYSPACE, PASSWORD),
        keyspace: "billing",
        throwOnError: true,
        breaker: false,
      }),
    );
    await assert.rejects(cache.set("x", 1), /NOPERM/);
  });

  it("picks up a rotated password from the secret file after an auth failure", async () => {
    const file = join(dir, "rotating.json");
    const user = "rotating";
    const first = "first-Rotation-Pw-111111";
    const second = "second-Rotation-Pw-222222";
    await createServiceUser(admin, KEYSPACE, first, user);
    await writeFile(file, JSON.stringify({ ...secretFor(server, KEYSPACE, first), username: user }));
    const cache = track(
      createCache({ secretFile: file, secretMinRefreshIntervalMs: 0, breaker: false, connectTimeoutMs: 500 }),
    );
    assert.equal(await cache.set("rot", 1), true);

    // rotate: new password only, drop the old connections, publish the new secret
    await admin.call("ACL", "SETUSER", user, "resetpass", `>${second}`);
    await writeFile(file, JSON.stringify({ ...secretFor(server, KEYSPACE, second), username: user }));
    await admin.call("CLIENT", "KILL", "USER", user);

    let value: unknown;
    for (let attempt = 0; attempt < 100 && value === undefined; attempt++) {
      value = await cache.get("rot");
      if (value === undefined) await sleep(50);
    }
    assert.equal(value, 1, "the cache works again with the new password");
    assert.equal(await serviceConnections(admin, user), 1);
  });

  it("IAM auth: the connection authenticates as the IAM user with the presigned token as password", async () => {
    // A Redis user whose password is the token the provider builds for a fixed clock and credentials
    // stands in for ElastiCache's IAM check.
    const provider = new IamAuthTokenProvider({
      cacheName: "orders-cache",
      userId: "iam-orders",
      region: "eu-west-1",
      credentials: { accessKeyId: "AKIDEXAMPLE", secretAccessKey: "secret/KEY" },
      now: () => Date.UTC(2024, 0, 1),
    });
    const token = await provider.getToken();
    await admin.call(
      "ACL",
      "SETUSER",
      "iam-orders",
      "reset",
      "on",
      `>${token}`,
      "~orders:*",
      "+@all",
      "-@dangerous",
    );
    const cache = track(
      createCache({
        secret: secretFor(server, KEYSPACE, "not-used-with-iam"),
        iamAuth: provider,
        throwOnError: true,
        breaker: false,
      }),
    );
    await cache.set("iam", "ok");
    assert.equal(await cache.get("iam"), "ok");
    assert.equal(await serviceConnections(admin, "iam-orders"), 1);
  });

  it("fails fast while the server is unreachable: a miss, an error event, no throw", async () => {
    const cache = track(
      createCache({
        secret: secretFor({ host: "127.0.0.1", port: 1 }, KEYSPACE, PASSWORD),
        connectTimeoutMs: 200,
        breaker: false,
      }),
    );
    const errors: string[] = [];
    cache.on("error", (e) => errors.push(e.operation));
    assert.equal(await cache.get("x"), undefined);
    assert.equal(await cache.set("x", 1), false);
    assert.deepStrictEqual(errors, ["get", "set"]);
    assert.equal(cache.getStats().errors, 2);
  });
});

describe("TLS (testkit CA)", () => {
  let server: RedisServer;
  before(async () => {
    server = await startRedis({ acl: true, tls: true });
    const admin = server.client();
    await createServiceUser(admin, KEYSPACE, PASSWORD);
    admin.disconnect();
  });
  after(async () => {
    await closeAllRedisConnections();
    await server.stop();
  });

  it("TLS is on by default and verifies the server with the given CA", async () => {
    const ca = server.tls?.ca;
    assert.ok(ca);
    const { tls: _off, ...secret } = secretFor({ host: "localhost", port: server.port }, KEYSPACE, PASSWORD);
    const cache = createCache({ secret, tls: { ca }, throwOnError: true, ...RELAXED });
    await cache.set("tls", "secure");
    assert.equal(await cache.get("tls"), "secure");
    assert.equal((await cache.health()).status, "ok");
    await cache.close();
  });

  it("without the CA the connection is refused (certificate not trusted) and calls miss", async () => {
    const cache = createCache({
      secret: secretFor({ host: "localhost", port: server.port }, KEYSPACE, PASSWORD, { tls: true }),
      connectTimeoutMs: 500,
      breaker: false,
    });
    const errors: unknown[] = [];
    cache.on("error", (e) => errors.push(e.error));
    assert.equal(await cache.get("tls"), undefined);
    assert.equal(errors.length, 1);
    await cache.close();
  });
});
