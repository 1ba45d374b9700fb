import { startCluster, startRedis } from "@cacheplane/testkit";
import { Redis } from "ioredis";
import { closeAllRedisConnections, createCache, RedisStore } from "../src/index.js";
import { storeContract } from "./contract.js";
import {
  clusterSecret,
  createClusterServiceUser,
  createServiceUser,
  RELAXED,
  SERVICE_USER,
} from "./helpers/redis.js";

const PASSWORD = "svc-Password-1234567890";

// The contract creates many keyspaces (all starting with "ct"): the service user may touch `ct*`.
storeContract("redis standalone (ACL service user, own ioredis client)", async () => {
  const server = await startRedis({ acl: true, tls: false });
  const admin = server.client();
  await createServiceUser(admin, "ct", PASSWORD, SERVICE_USER, "ct*");
  const clients: Redis[] = [];
  return {
    makeStore(keyspace) {
      const client = new Redis({
        host: server.host,
        port: server.port,
        username: SERVICE_USER,
        password: PASSWORD,
        enableReadyCheck: false,
        lazyConnect: true,
        enableOfflineQueue: false,
        commandTimeout: RELAXED.commandTimeoutMs,
      });
      clients.push(client);
      return new RedisStore({ client, keyspace, ownsClient: true });
    },
    async teardown() {
      for (const c of clients) c.disconnect();
      await server.stop();
    },
  };
});

storeContract("redis cluster (3 masters, ACL service user, via createCache)", async () => {
  const cluster = await startCluster({ masters: 3 });
  await createClusterServiceUser(cluster, "ct", PASSWORD, SERVICE_USER, "ct*");
  const secret = clusterSecret(cluster, "ct", PASSWORD);
  return {
    // One shared cluster connection (same secret); the keyspace option overrides the prefix.
    makeStore: (keyspace) => createCache({ secret, keyspace, ...RELAXED }).store,
    async teardown() {
      await closeAllRedisConnections();
      await cluster.stop();
    },
  };
});
