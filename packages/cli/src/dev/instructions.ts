/**
 * What `cacheplane dev` prints once the platform is up: per service, its secret file, the
 * `REDIS_SECRET_FILE` export and a ready-to-paste `redis-cli` command. The commands read passwords
 * from the secret files when they run, so no password is ever printed (nor kept in terminal scrollback
 * or CI logs).
 */
import { relative } from "node:path";
import type { PlatformConfig } from "@cacheplane/core";
import type { DevPlatform, DevService } from "./platform.js";
import { passwordFromFile, shellWord } from "./shell-quote.js";

/** `redis-cli` logged in as `user`, its password read from `file` when the command runs. */
export function redisCliCommand(port: number, user: string, file: string): string {
  return `redis-cli -h 127.0.0.1 -p ${port} --user ${shellWord(user)} --pass ${passwordFromFile(file)} --no-auth-warning`;
}

function keyspaces(service: DevService): string {
  return [service.keyspace, ...service.sharedKeyspaces].map((k) => `${k}:*`).join(", ");
}

/** The instructions block for a running platform (stdout of `cacheplane dev`). */
export function formatDevInstructions(config: PlatformConfig, platform: DevPlatform, cwd: string): string {
  const shown = (path: string) => {
    const rel = relative(cwd, path);
    return rel.startsWith("..") ? path : rel;
  };
  const lines = [
    `Local platform ${config.stage}/${config.region} (${config.engine}) on redis://127.0.0.1:${platform.port}: ${platform.services.length} service${platform.services.length === 1 ? "" : "s"}`,
    "",
  ];
  for (const service of platform.services) {
    lines.push(
      `${service.name}  user ${service.userId}, ${service.access}, keys ${keyspaces(service)}`,
      `  secret  ${shown(service.secretFile)}`,
      `  env     export REDIS_SECRET_FILE=${shellWord(service.secretFile)}`,
      `  try     ${redisCliCommand(platform.port, service.userId, service.secretFile)}`,
      "",
    );
  }
  lines.push(
    `admin (local only, all permissions): credentials in ${shown(platform.adminFile)}`,
    `  try     ${redisCliCommand(platform.port, "admin", platform.adminFile)}`,
  );
  if (platform.gateway) {
    lines.push("", `gateway ${platform.gateway.url} (console: ${platform.gateway.url}/console)`);
    for (const line of platform.gateway.instructions) lines.push(`  ${line}`);
  }
  const adminUrl = `redis://admin:${passwordFromFile(platform.adminFile).slice(1, -1)}@127.0.0.1:${platform.port}`;
  lines.push(
    "",
    `Who uses what (keys, memory, TTL-less keys, connections per service; ACL denials):`,
    `  export CACHEPLANE_TARGET="${adminUrl}"`,
    "  cacheplane usage    cacheplane audit --follow",
  );
  lines.push(
    "",
    `Check a service: cacheplane doctor --secret ${shellWord(shown(platform.services[0]?.secretFile ?? "<secret file>"))}`,
    `Press Ctrl-C to stop; users, secrets and the admin password stay in ${shown(platform.dir)} for the next run.`,
  );
  return lines.join("\n");
}
