/**
 * The frame of the suites that measure the client against one standalone redis-server: the bench
 * process pinned to the load CPU(s), an ACL redis-server on the Redis CPU with the service user, and
 * afterwards every client connection closed, the server stopped and the bench process's own affinity
 * restored (the next suite in the same `npm run bench` lays out the CPUs from it).
 */
import { closeAllRedisConnections } from "@cacheplane/client";
import type { ResolvedService } from "@cacheplane/core";
import type { SecretPayload } from "@cacheplane/core/secret";
import { type RedisServer, startRedis } from "@cacheplane/testkit";
import { createServiceUser } from "./service-user.js";
import { affinityOf, type CpuLayout, pinProcess } from "./system.js";

export async function withPinnedStandalone<T>(
  layout: CpuLayout,
  service: ResolvedService,
  password: string,
  body: (server: RedisServer, secret: SecretPayload) => Promise<T>,
): Promise<T> {
  const ownAffinity = affinityOf(process.pid);
  if (layout.pinned) pinProcess(process.pid, layout.load);
  try {
    const server = await startRedis({ acl: true });
    try {
      if (server.pid !== undefined) pinProcess(server.pid, layout.redis);
      await createServiceUser(server, service, password);
      const secret: SecretPayload = {
        host: server.host,
        port: server.port,
        username: service.userName,
        password,
        keyspace: service.keyspace,
        tls: false,
      };
      return await body(server, secret);
    } finally {
      await closeAllRedisConnections();
      await server.stop();
    }
  } finally {
    if (layout.pinned && ownAffinity) pinProcess(process.pid, ownAffinity);
  }
}
