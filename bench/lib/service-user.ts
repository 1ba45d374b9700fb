/**
 * The benches' Redis service user: made exactly as the platform provisions one, from core's config
 * model (`parseConfig` -> the service's `accessString`, built by core's `buildAccessString`), so
 * the ACL checks Redis runs per command are the production ones. Never a hand-written rule list.
 */
import { type PlatformConfig, parseConfig, type ResolvedService } from "@cacheplane/core";
import { scriptLibrary } from "@cacheplane/core/server-scripts";
import type { RedisCluster, RedisServer } from "@cacheplane/testkit";
import type { Redis } from "ioredis";

/**
 * A read-write service named `name` (its keyspace is `name`) in a bench platform config. `scripting`
 * lets it run its own Lua: the client bench needs it because a peer it measures
 * (rate-limiter-flexible) runs EVALSHA; Cacheplane's own client uses the platform's function library.
 */
export function benchService(
  name = "bench",
  options: { scripting?: boolean } = {},
): { config: PlatformConfig; service: ResolvedService } {
  const config = parseConfig({
    stage: "bench",
    region: "local",
    services: [{ name, access: "read-write", ...(options.scripting ? { scripting: true } : {}) }],
  });
  return { config, service: config.services[0]! };
}

async function setUser(admin: Redis, service: ResolvedService, password: string): Promise<void> {
  await admin.call(
    "ACL",
    "SETUSER",
    service.userName,
    "reset",
    ...service.accessString.split(" "),
    `>${password}`,
  );
  // As `cacheplane apply` does: the platform's script library (masters only; replicas get it
  // through replication and refuse FUNCTION LOAD).
  try {
    await admin.call("FUNCTION", "LOAD", "REPLACE", scriptLibrary().code);
  } catch (err) {
    if (!(err instanceof Error && err.message.startsWith("READONLY"))) throw err;
  }
}

/** Creates the service user on a standalone server (testkit). */
export async function createServiceUser(server: RedisServer, service: ResolvedService, password: string) {
  const admin = server.client();
  try {
    await setUser(admin, service, password);
  } finally {
    admin.disconnect();
  }
}

/** Creates the service user on every node of a cluster (ACLs are per node). */
export async function createClusterServiceUser(
  cluster: RedisCluster,
  service: ResolvedService,
  password: string,
): Promise<void> {
  for (const node of cluster.nodes) await createServiceUser(node, service, password);
}
