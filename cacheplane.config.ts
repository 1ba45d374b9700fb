// The example platform `npm run dev` starts locally: a redis-server with ACLs and these services.
// Each service gets its own Redis user, keyspace and secret file under .cacheplane/secrets/.
import { defineConfig } from "@cacheplane/core";

export default defineConfig({
  stage: "dev",
  region: "local",
  engine: "valkey",
  services: [
    {
      name: "orders-api",
      keyspace: "orders",
      access: "read-write",
      sharedKeyspaces: ["common"],
      owner: "team-orders",
      description: "Order API: cache-aside reads, idempotency keys, rate limits.",
    },
    {
      name: "catalog",
      access: "read-only",
      owner: "team-catalog",
      description: "Reads the product catalog another job writes.",
    },
    {
      name: "sessions",
      access: "read-write",
      owner: "team-identity",
      description: "Web sessions with sliding expiry.",
    },
  ],
});
