/**
 * The adoption checklist a service team follows to move onto the shared cache, filled in for one
 * service: every step names the value to use and the construct or command that does it.
 */
import type { PlatformConfig, ResolvedService } from "./config.js";

export interface MigrationStep {
  title: string;
  detail: string[];
}

export function migrationChecklist(config: PlatformConfig, service: ResolvedService): MigrationStep[] {
  const user = service.userId;
  return [
    {
      title: "Create the service's Redis user and generated secret",
      detail: [
        `Redis user: ${user} (keyspace ${service.keyspace}:*, access ${typeof service.access === "string" ? service.access : "custom"})`,
        `Secret: ${service.secretName}`,
        "AWS: add a ServiceCacheAccess construct (@cacheplane/cdk) for this service to its application stack.",
        `Anywhere else: cacheplane apply --config <config> --target <admin-url> --secrets-dir <dir>`,
      ],
    },
    {
      title: "Inject REDIS_SECRET_ARN into the consuming Lambda functions",
      detail: [
        "ServiceCacheAccess sets REDIS_SECRET_ARN on the functions you pass it.",
        "Outside AWS, set REDIS_SECRET_FILE to the secret file `cacheplane apply` wrote.",
      ],
    },
    {
      title: "Grant the Lambda role read access to only that secret",
      detail: [
        `secretsmanager:GetSecretValue on ${service.secretName} and nothing else (ServiceCacheAccess grants exactly this).`,
      ],
    },
    {
      title: "Switch the client to @cacheplane/client",
      detail: [
        'import { createCache } from "@cacheplane/client"; const cache = createCache();',
        `Keys are prefixed "${service.keyspace}:" for you; drop any hand-made prefix.`,
        config.engine === "valkey" || config.endpoint?.cluster
          ? "The shared cache runs in cluster mode; the client handles slots and multi-key calls."
          : "The client connects with TLS unless the secret says tls: false.",
      ],
    },
    {
      title: "Add the cache to the service's health path",
      detail: [
        "const health = await cache.health(); // ping plus write/read/delete in the keyspace",
        `Check it from outside: cacheplane doctor --secret <secret file of ${service.name}>`,
      ],
    },
    {
      title: "Remove the old Redis configuration after the deployment is stable",
      detail: [
        "Delete old REDIS_URL/REDIS_PASSWORD variables, the shared credential and any VPC rule only it used.",
        `Once nobody uses the old credential, rotate: cacheplane rotate --service ${service.name} ... then --finish.`,
      ],
    },
  ];
}

/** The checklist as numbered Markdown-ish text for a terminal. */
export function formatMigrationChecklist(config: PlatformConfig, service: ResolvedService): string {
  const steps = migrationChecklist(config, service);
  const lines = [`Migration checklist for service "${service.name}" (${config.stage}, ${config.region})`, ""];
  steps.forEach((step, i) => {
    lines.push(`${String(i + 1).padStart(2, "0")}. [ ] ${step.title}`);
    for (const d of step.detail) lines.push(`      ${d}`);
    lines.push("");
  });
  return lines.join("\n").trimEnd();
}
