/** Service users and secrets on testkit servers (real redis-server processes, never port 6379). */
import { buildAccessString } from "@cacheplane/core";
import type { SecretPayload } from "@cacheplane/core/secret";
import { scriptLibrary } from "@cacheplane/core/server-scripts";
import type { RedisCluster, RedisServer } from "@cacheplane/testkit";
import type { Cluster, Redis } from "ioredis";

export const SERVICE_USER = "svc";

/**
 * For tests that are not about timeouts: generous limits, so a loaded CI machine (2 shared cores)
 * does not turn into command timeouts and an open breaker.
 */
export const RELAXED = { commandTimeoutMs: 10_000, connectTimeoutMs: 10_000, breaker: false } as const;

/**
 * The rules the platform provisions for a read-write service (core's `buildAccessString`, so INFO,
 * KEYS, SCAN and FLUSHALL are denied as in production), for `ACL SETUSER`. `pattern` replaces the
 * `<keyspace>:*` key and channel patterns when a test needs another one.
 */
export function serviceUserRules(keyspace: string, password: string, pattern = `${keyspace}:*`): string[] {
  const rules = buildAccessString({ keyspace, access: "read-write" })
    .split(" ")
    .map((rule) =>
      rule === `~${keyspace}:*` ? `~${pattern}` : rule === `&${keyspace}:*` ? `&${pattern}` : rule,
    );
  return ["reset", ...rules, `>${password}`];
}

export async function createServiceUser(
  admin: Redis,
  keyspace: string,
  password: string,
  username = SERVICE_USER,
  pattern?: string,
): Promise<void> {
  await admin.call("ACL", "SETUSER", username, ...serviceUserRules(keyspace, password, pattern));
  await loadScriptLibrary(admin);
}

/**
 * Loads the platform's server-script library as `cacheplane apply` does (admin identity; masters
 * only: a replica refuses FUNCTION LOAD and gets the library through replication).
 */
export async function loadScriptLibrary(admin: Redis): Promise<void> {
  try {
    await admin.call("FUNCTION", "LOAD", "REPLACE", scriptLibrary().code);
  } catch (err) {
    if (!(err instanceof Error && err.message.startsWith("READONLY"))) throw err;
  }
}

export async function createClusterServiceUser(
  cluster: RedisCluster,
  keyspace: string,
  password: string,
  username = SERVICE_USER,
  pattern?: string,
): Promise<void> {
  for (const node of cluster.nodes) {
    const admin = node.client();
    try {
      await createServiceUser(admin, keyspace, password, username, pattern);
    } finally {
      admin.disconnect();
    }
  }
}

export function secretFor(
  server: { host: string; port: number },
  keyspace: string,
  password: string,
  extra: Partial<SecretPayload> = {},
): SecretPayload {
  return {
    host: server.host,
    port: server.port,
    username: SERVICE_USER,
    password,
    keyspace,
    tls: false,
    ...extra,
  };
}

export function clusterSecret(cluster: RedisCluster, keyspace: string, password: string): SecretPayload {
  const seed = cluster.seeds[0];
  if (!seed) throw new Error("cluster without seeds");
  return secretFor(seed, keyspace, password, { cluster: true });
}

export type { Cluster, RedisServer };
