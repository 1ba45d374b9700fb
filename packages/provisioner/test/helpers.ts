// Shared test helpers: configs, temp secret dirs, service connections, isolation checks.
import assert from "node:assert/strict";
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before } from "node:test";
import {
  type PlatformConfig,
  type PlatformConfigInput,
  parseConfig,
  parseSecretPayload,
  type SecretPayload,
} from "@cacheplane/core";
import { type RedisServer, startRedis } from "@cacheplane/testkit";
import { Cluster, Redis } from "ioredis";
import { applyPlatform, FileSecretStore, type ProvisioningTarget, RedisAclTarget } from "../src/index.js";

/** Two read-write services with keyspaces `a` and `b` (users `svca`, `svcb`), plus any extra services. */
export function testConfig(extra: PlatformConfigInput["services"] = [], drop: string[] = []): PlatformConfig {
  const services = [
    { name: "svc-a", keyspace: "a", access: "read-write" as const },
    { name: "svc-b", keyspace: "b", access: "read-write" as const },
    ...extra,
  ].filter((s) => !drop.includes(s.name));
  return parseConfig({ stage: "test", region: "local", services });
}

/** A fresh temp directory (removed by the returned cleanup). */
export async function tempDir(
  prefix = "cacheplane-secrets-",
): Promise<{ dir: string; cleanup: () => Promise<void> }> {
  const base = await mkdtemp(join(tmpdir(), prefix));
  // The store creates its own directory below, so its mode can be checked.
  return { dir: join(base, "secrets"), cleanup: () => rm(base, { recursive: true, force: true }) };
}

/** What `standaloneProvisioning` sets up; its fields are set once the enclosing suite's `before` ran. */
export interface StandaloneProvisioning {
  server: RedisServer;
  /** The server's admin connection. */
  admin: Redis;
  target: RedisAclTarget;
  store: FileSecretStore;
}

/**
 * Registers `before`/`after` hooks on the enclosing suite: a fresh ACL-enabled redis-server, a
 * RedisAclTarget on it and a file secret store in a temp directory, with `apply` applied first when
 * given. Everything is stopped and removed after the suite.
 */
export function standaloneProvisioning(options: { apply?: PlatformConfig } = {}): StandaloneProvisioning {
  const fixture = {} as StandaloneProvisioning;
  let cleanup: (() => Promise<void>) | undefined;
  before(async () => {
    fixture.server = await startRedis();
    fixture.admin = fixture.server.client();
    fixture.target = await RedisAclTarget.connect({ urls: [fixture.server.url] });
    const temp = await tempDir();
    cleanup = temp.cleanup;
    fixture.store = new FileSecretStore(temp.dir);
    if (options.apply) await applyPlatform(options.apply, fixture.target, fixture.store);
  });
  after(async () => {
    await fixture.target?.close();
    await fixture.server?.stop();
    await cleanup?.();
  });
  return fixture;
}

/** Reads and validates a secret file the way a client would (REDIS_SECRET_FILE). */
export async function readSecretFile(path: string): Promise<SecretPayload> {
  return parseSecretPayload(await readFile(path, "utf8"), path);
}

const quiet = {
  lazyConnect: true,
  enableReadyCheck: false,
  maxRetriesPerRequest: 0,
  retryStrategy: () => null,
} as const;

/** A connection as a service user (INFO is denied to services, hence no ready check). */
export async function connectAs(
  host: string,
  port: number,
  username: string,
  password: string,
): Promise<Redis> {
  const client = new Redis({ host, port, username, password, ...quiet });
  client.on("error", () => undefined);
  await client.connect();
  return client;
}

/** Whether `username`/`password` can authenticate on host:port right now (a fresh connection). */
export async function canAuthenticate(
  host: string,
  port: number,
  username: string,
  password: string,
): Promise<boolean> {
  const client = new Redis({ host, port, ...quiet });
  client.on("error", () => undefined);
  try {
    await client.connect();
    await client.call("AUTH", username, password);
    return true;
  } catch (error) {
    if (/WRONGPASS/.test(String(error))) return false;
    throw error;
  } finally {
    client.disconnect();
  }
}

/** An ioredis Cluster client as a service user. */
export async function clusterClientAs(
  seeds: { host: string; port: number }[],
  username: string,
  password: string,
): Promise<Cluster> {
  const client = new Cluster(seeds, {
    enableReadyCheck: false,
    lazyConnect: true,
    redisOptions: { username, password, enableReadyCheck: false, maxRetriesPerRequest: 1 },
    clusterRetryStrategy: () => null,
  });
  client.on("error", () => undefined);
  await client.connect();
  return client;
}

type Commander = Pick<Redis, "call">;

/**
 * The isolation contract of a read-write service user with keyspace `own`: its keys work, another
 * service's keys and every administrative or keyspace-wide command are refused with NOPERM.
 */
export async function assertIsolated(client: Commander, own: string, other: string): Promise<void> {
  for (let i = 0; i < 5; i++) {
    assert.equal(await client.call("SET", `${own}:key${i}`, `v${i}`), "OK");
    assert.equal(await client.call("GET", `${own}:key${i}`), `v${i}`);
  }
  assert.equal(await client.call("DEL", `${own}:key0`), 1);
  const refused: string[][] = [
    ["SET", `${other}:key`, "x"],
    ["GET", `${other}:key`],
    ["GET", "nokeyspace"],
    ["FLUSHALL"],
    ["FLUSHDB"],
    ["CONFIG", "GET", "maxmemory"],
    ["KEYS", "*"],
    ["ACL", "LIST"],
    ["ACL", "SETUSER", "intruder", "on", ">intruder-password", "~*", "+@all"],
    ["ACL", "GETUSER", "admin"],
    ["SHUTDOWN"],
  ];
  for (const args of refused) {
    await assert.rejects(
      client.call(args[0]!, ...args.slice(1)),
      /NOPERM/,
      `${args.join(" ")} must be refused`,
    );
  }
}

/** Wraps a target so that one method fails once for one user id (a crash between two writes). */
export function failingOnce(
  target: ProvisioningTarget,
  method: "createUser" | "modifyUser",
  userId: string,
): ProvisioningTarget & { failures: number } {
  let armed = true;
  const crash = (id: string) => {
    if (!armed || id !== userId) return;
    armed = false;
    wrapper.failures++;
    throw new Error("simulated crash before the server was changed");
  };
  const wrapper: ProvisioningTarget & { failures: number } = {
    failures: 0,
    kind: target.kind,
    supportsGroups: target.supportsGroups,
    connectionInfo: () => target.connectionInfo(),
    readActual: (config, managed) => target.readActual(config, managed),
    canonicalizeAccess: (strings) => target.canonicalizeAccess(strings),
    createUser: async (action, passwords) => {
      if (method === "createUser") crash(action.userId);
      return target.createUser(action, passwords);
    },
    modifyUser: async (id, change) => {
      if (method === "modifyUser") crash(id);
      return target.modifyUser(id, change);
    },
    addToGroup: (groupId, id) => target.addToGroup(groupId, id),
    removeFromGroup: (groupId, id) => target.removeFromGroup(groupId, id),
    deleteUser: (id) => target.deleteUser(id),
    close: () => target.close(),
  };
  return wrapper;
}
