/**
 * The platform the attack matrix attacks: three services provisioned by the real provisioner (a
 * read-write service, a read-only one, and a read-write one with `scripting: true`), and for each a
 * set of canaries: keys of every type holding a value marker, a channel and a sharded channel with a
 * live subscriber, and for scripting services a cached script. An attack that reads a value marker,
 * changes a canary, or lists a canary name is a breach or a leak.
 */
import { randomBytes } from "node:crypto";
import { type PlatformConfig, parseConfig, type ResolvedService, type ServiceInput } from "@cacheplane/core";
import type { SecretPayload } from "@cacheplane/core/secret";
import { scriptLibrary } from "@cacheplane/core/server-scripts";
import { applyPlatform, FileSecretStore, RedisAclTarget } from "@cacheplane/provisioner";
import type { Cluster, Redis } from "ioredis";

/** The services of the matrix: every preset, and scripting. */
export const MATRIX_SERVICES: ServiceInput[] = [
  { name: "alpha", keyspace: "alpha", access: "read-write" },
  { name: "beta", keyspace: "beta", access: "read-only" },
  { name: "gamma", keyspace: "gamma", access: "read-write", scripting: true },
];

/** The matrix platform; with the scanner identity, so namespaced gateway tokens can enumerate. */
export function matrixConfig(services: ServiceInput[] = MATRIX_SERVICES): PlatformConfig {
  return parseConfig({ stage: "matrix", region: "local", scanner: true, services });
}

/** Provisions `config` with the provisioner (verified users, script library, secrets). */
export async function provisionMatrix(
  config: PlatformConfig,
  adminUrl: string,
  cluster: boolean,
  secretsDir: string,
): Promise<Record<string, SecretPayload>> {
  const store = new FileSecretStore(secretsDir);
  const target = await RedisAclTarget.connect({ urls: [adminUrl], cluster });
  try {
    await applyPlatform(config, target, store);
  } finally {
    await target.close();
  }
  const secrets: Record<string, SecretPayload> = {};
  for (const service of config.services) {
    const stored = await store.get(service);
    if (!stored) throw new Error(`no secret for ${service.name}`);
    secrets[service.name] = stored.payload;
  }
  return secrets;
}

/** Names and values that identify one service's data in any reply. */
export interface Canaries {
  service: ResolvedService;
  /** The hash tag every canary (and every attacker scratch key) carries: one cluster slot. */
  tag: string;
  keys: { str: string; hash: string; list: string; zset: string; set: string; stream: string };
  /** Appears in every canary value; seen in a reply = a breach. */
  valueMarker: string;
  /** Appears in every canary name; listed in a reply = a leak. */
  nameMarkers: string[];
  channel: string;
  shardChannel: string;
  /** SHA1 of the script the service loaded (scripting services only). */
  scriptSha?: string;
  /** CLIENT ID of the service's subscriber connection on the node holding the canaries. */
  clientId?: number;
}

/** A fresh marker for one matrix run. */
export function runToken(): string {
  return randomBytes(4).toString("hex");
}

export function canariesFor(service: ResolvedService, token: string): Canaries {
  const ks = service.keyspace;
  const tag = `{mx${token}}`;
  const base = `${ks}:${tag}`;
  return {
    service,
    tag,
    keys: {
      str: `${base}:str`,
      hash: `${base}:hash`,
      list: `${base}:list`,
      zset: `${base}:zset`,
      set: `${base}:set`,
      stream: `${base}:stream`,
    },
    valueMarker: `VALUE-${ks}-${token}`,
    nameMarkers: [base, `${ks}:chan:${token}`],
    channel: `${ks}:chan:${token}`,
    shardChannel: `${base}:schan`,
  };
}

/** Scratch keys of the attacker (same slot as the canaries, so multi-key attacks are not CROSSSLOT). */
export function scratch(attacker: ResolvedService, token: string, name: string): string {
  return `${attacker.keyspace}:{mx${token}}:${name}`;
}

type Admin = Redis | Cluster;

/** Writes every canary (admin identity): the state every attack is judged against. */
export async function seedCanaries(admin: Admin, c: Canaries): Promise<void> {
  const v = c.valueMarker;
  const removed = await admin.del(...Object.values(c.keys));
  const left = await admin.exists(...Object.values(c.keys));
  if (left !== 0)
    throw new Error(`seeding ${c.service.name}: ${left} canaries still exist after DEL (${removed} removed)`);
  await admin.set(c.keys.str, `${v}-str`);
  await admin.hset(c.keys.hash, "f", `${v}-hash`);
  await admin.rpush(c.keys.list, `${v}-list`);
  await admin.zadd(c.keys.zset, 1, `${v}-zset`);
  await admin.sadd(c.keys.set, `${v}-set`);
  await admin.xadd(c.keys.stream, "1-1", "f", `${v}-stream`);
}

/** What the canaries must read; a mismatch names the key. One pipelined round of reads. */
export async function checkCanaries(admin: Admin, c: Canaries): Promise<string[]> {
  const v = c.valueMarker;
  const keys = Object.values(c.keys);
  const [str, hash, list, zset, set, stream, ...ttls] = await Promise.all([
    admin.get(c.keys.str),
    admin.hgetall(c.keys.hash),
    admin.lrange(c.keys.list, 0, -1),
    admin.zrange(c.keys.zset, 0, -1),
    admin.smembers(c.keys.set),
    admin.xlen(c.keys.stream),
    ...keys.map((key) => admin.pttl(key)),
  ]);
  const problems: string[] = [];
  const expect = (key: string, actual: unknown, wanted: unknown) => {
    if (JSON.stringify(actual) !== JSON.stringify(wanted))
      problems.push(`${key} is ${JSON.stringify(actual)}`);
  };
  expect(c.keys.str, str, `${v}-str`);
  expect(c.keys.hash, hash, { f: `${v}-hash` });
  expect(c.keys.list, list, [`${v}-list`]);
  expect(c.keys.zset, zset, [`${v}-zset`]);
  expect(c.keys.set, set, [`${v}-set`]);
  expect(c.keys.stream, stream, 1);
  ttls.forEach((ttl, i) => {
    if (ttl !== -1) problems.push(`${keys[i]} has TTL ${ttl}`);
  });
  return problems;
}

/** Loads the platform library on `admin` when an attack removed it (only a breach can). */
export async function ensureLibrary(admin: Redis): Promise<boolean> {
  const libs = (await admin.call("FUNCTION", "LIST", "LIBRARYNAME", scriptLibrary().name)) as unknown[];
  if (libs.length > 0) return true;
  await admin.call("FUNCTION", "LOAD", scriptLibrary().code);
  return false;
}

/** The script a scripting service caches: its return value is the service's value marker. */
export function victimScript(c: Canaries): string {
  return `return '${c.valueMarker}-script'`;
}
