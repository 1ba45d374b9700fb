// Type-checked by test/packaging.test.ts in a fresh project against the installed packages' types
// (ES module side: the `import` condition). `@ts-expect-error` lines prove the types are real: were an
// export typed `any`, the expected error would be missing and tsc would fail.
import { CachePlatform, ServiceCacheAccess } from "@cacheplane/cdk";
import { runCli } from "@cacheplane/cli";
import { type CacheService, createCache } from "@cacheplane/client";
import { type RedisUnavailableError, redisOptionsFromSecret } from "@cacheplane/client/connection";
import { defineConfig, type PlatformConfig, parseConfig } from "@cacheplane/core";
import { parseSecretPayload, type SecretPayload } from "@cacheplane/core/secret";
import { startGatewayServer } from "@cacheplane/gateway";
import { applyPlatform, planAgainst } from "@cacheplane/provisioner";
import { ElastiCacheTarget } from "@cacheplane/provisioner/aws";

const cache: CacheService = createCache({ storage: "memory" });
const value: string | undefined = await cache.get<string>("greeting");
// @ts-expect-error `storage` accepts "redis", "dynamodb" or "memory" only
createCache({ storage: "postgres" });

const config: PlatformConfig = parseConfig(
  defineConfig({ stage: "dev", region: "local", services: [{ name: "orders", access: "read-write" }] }),
);
// @ts-expect-error `access` is "read-write" or "read-only"
defineConfig({ stage: "dev", region: "local", services: [{ name: "orders", access: "everything" }] });

const payload: SecretPayload = parseSecretPayload("{}");
const offlineQueue: boolean | undefined = redisOptionsFromSecret(payload).enableOfflineQueue;
const reason: RedisUnavailableError["reason"] = "down";
// @ts-expect-error the reasons are "down", "failed" and "timeout"
const wrongReason: RedisUnavailableError["reason"] = "gone";
const exitCode: Promise<number> = runCli(["--help"]);

export const used = [
  value,
  config,
  payload,
  offlineQueue,
  reason,
  wrongReason,
  exitCode,
  startGatewayServer,
  applyPlatform,
  planAgainst,
  ElastiCacheTarget,
];
export const constructs = [CachePlatform, ServiceCacheAccess];
