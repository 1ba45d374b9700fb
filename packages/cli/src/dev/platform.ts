/**
 * The local platform behind `cacheplane dev`, independent of the command line: a real redis-server
 * with ACLs (`default` off, an `admin` user), the config applied with the Redis ACL target and the file
 * secret store, and the gateway hook. Everything lives in one directory that survives restarts:
 *
 *   <dir>/admin.json   admin credentials (0600), reused on every start
 *   <dir>/dev.json     last port and pid
 *   <dir>/redis.conf   generated on every start
 *   <dir>/users.acl    ACL file (passwords as SHA-256 hashes); service users survive restarts
 *   <dir>/redis.log    the server's log
 *   <dir>/secrets/     one secret file per service (0600)
 */
import { mkdir, writeFile } from "node:fs/promises";
import { join, resolve } from "node:path";
import type { PlanAction, PlatformConfig, ResolvedService } from "@cacheplane/core";
import {
  checkAdminToken,
  checkServiceTokens,
  currentProcessRecord,
  processStartIdentity,
  pruneServiceTokens,
} from "@cacheplane/gateway";
import { type ApplyProgress, applyPlatform, FileSecretStore, RedisAclTarget } from "@cacheplane/provisioner";
import { CliError } from "../errors.js";
import {
  type AdminCredentials,
  DEV_FILES,
  loadOrCreateAdmin,
  readDevState,
  writeDevState,
} from "./dev-state.js";
import { type DevGateway, startGatewayIfAvailable } from "./gateway-hook.js";
import { getFreePort, isPortFree } from "./ports.js";
import { findRedisServerBinary } from "./redis-binary.js";
import { devRedisConf, writeDevAclFile } from "./redis-config.js";
import { PortInUseError, type RedisProcess, redisServerVersion, spawnRedisServer } from "./redis-process.js";
import { takeOverStaleServer } from "./stale-server.js";

/** Options of {@link startDevPlatform}. */
export interface DevPlatformOptions {
  /** The validated platform config to apply. */
  config: PlatformConfig;
  /** State directory; created when missing. @default ".cacheplane" (relative to `cwd`) */
  dir?: string;
  /** Port for redis-server. @default the previous run's port when free, else a free port */
  port?: number;
  /** Environment for `REDIS_SERVER_BIN` and `PATH`. @default process.env */
  env?: Record<string, string | undefined>;
  /** Base for a relative `dir`. @default process.cwd() */
  cwd?: string;
  /** Progress lines (stderr in the CLI). */
  log?: (line: string) => void;
  /** Apply progress events, one per action. */
  onProgress?: (event: ApplyProgress) => void;
  /** Called with every password the platform handles, so callers can mask it in output. */
  onSecret?: (secret: string) => void;
  /** Port of the HTTP gateway; `0` picks a free one; `false` starts no gateway. @default 0 */
  gatewayPort?: number | false;
}

/** One provisioned service and where its secret is. */
export interface DevService {
  name: string;
  userId: string;
  keyspace: string;
  sharedKeyspaces: string[];
  /** `read-write`, `read-only` or `custom`. */
  access: string;
  /** Absolute path of the service's secret file. */
  secretFile: string;
}

/** The running local platform. */
export interface DevPlatform {
  host: "127.0.0.1";
  port: number;
  /** Absolute state directory. */
  dir: string;
  adminFile: string;
  secretsDir: string;
  logFile: string;
  redisPid: number;
  redisVersion: string;
  services: DevService[];
  /** What this start changed (empty when the previous run's users were already in place). */
  applied: PlanAction[];
  gateway?: DevGateway;
  /** Resolves if redis-server exits by itself (crash, kill); `stop()` also settles it. */
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  /** Stops the gateway and redis-server; keeps the directory (secrets, users, admin). Idempotent. */
  stop(): Promise<void>;
}

const MAX_PORT_ATTEMPTS = 5;

function accessLabel(service: ResolvedService): string {
  return typeof service.access === "string" ? service.access : "custom";
}

/** Picks the port: explicit, else the last run's if still free, else any free one. */
async function choosePort(explicit: number | undefined, previous: number | undefined): Promise<number> {
  if (explicit !== undefined) return explicit;
  if (previous !== undefined && (await isPortFree(previous))) return previous;
  return getFreePort();
}

/** Starts redis-server, retrying on another port when an automatically chosen one was taken meanwhile. */
async function startServer(
  bin: string,
  dir: string,
  admin: AdminCredentials,
  explicitPort: number | undefined,
  previousPort: number | undefined,
): Promise<RedisProcess> {
  const confFile = join(dir, DEV_FILES.conf);
  const logFile = join(dir, DEV_FILES.log);
  const aclFile = join(dir, DEV_FILES.acl);
  await writeDevAclFile(aclFile, admin);
  let previous = previousPort;
  for (let attempt = 1; ; attempt++) {
    const port = await choosePort(explicitPort, previous);
    await writeFile(confFile, devRedisConf({ port, dir, logFile, aclFile }), { mode: 0o600 });
    try {
      return await spawnRedisServer({ bin, confFile, logFile, port, admin });
    } catch (error) {
      const retry =
        error instanceof PortInUseError && explicitPort === undefined && attempt < MAX_PORT_ATTEMPTS;
      if (!retry) {
        if (error instanceof PortInUseError && explicitPort !== undefined) {
          throw new CliError(
            `--port ${explicitPort}: port already in use on 127.0.0.1; pick another or omit --port`,
          );
        }
        throw error;
      }
      previous = undefined;
    }
  }
}

/**
 * Starts the local platform and resolves once redis-server answers, the config is applied and every
 * service has its secret file.
 * @throws CliError when no redis-server binary exists (with install hint), a previous dev server is
 * still running on this directory, the port is taken, or provisioning fails (the server is stopped).
 */
export async function startDevPlatform(options: DevPlatformOptions): Promise<DevPlatform> {
  const log = options.log ?? (() => undefined);
  const env = options.env ?? process.env;
  const dir = resolve(options.cwd ?? process.cwd(), options.dir ?? ".cacheplane");
  const bin = findRedisServerBinary(env);
  await mkdir(dir, { recursive: true, mode: 0o700 });

  const admin = await loadOrCreateAdmin(dir);
  options.onSecret?.(admin.password);
  const secretsDir = join(dir, DEV_FILES.secrets);
  // Checks that could fail once the server runs: token files and registry (the gateway issues tokens).
  if (options.gatewayPort !== false) {
    try {
      await checkServiceTokens(
        secretsDir,
        options.config.services.filter((s) => s.enabled).map((s) => s.name),
      );
      await checkAdminToken(secretsDir);
    } catch (error) {
      throw new CliError(error instanceof Error ? error.message : String(error));
    }
  }
  const state = readDevState(dir);
  await takeOverStaleServer(dir, state, admin, log);

  const version = redisServerVersion(bin);
  const server = await startServer(bin, dir, admin, options.port, state.port);
  const logFile = join(dir, DEV_FILES.log);
  log(
    `cacheplane dev: redis-server ${version} (pid ${server.pid}) on 127.0.0.1:${server.port}, log ${logFile}`,
  );
  const redisStart = processStartIdentity(server.pid);
  await writeDevState(dir, {
    port: server.port,
    pid: server.pid,
    ...(redisStart !== undefined ? { redisStart } : {}),
    owner: currentProcessRecord(),
  });

  let gateway: DevGateway | undefined;
  let stopped: Promise<void> | undefined;
  const stop = (): Promise<void> => {
    stopped ??= (async () => {
      try {
        await gateway?.stop();
      } finally {
        await server.stop();
        await writeDevState(dir, { port: server.port });
      }
    })();
    return stopped;
  };

  try {
    const store = new FileSecretStore(secretsDir);
    const url = `redis://${encodeURIComponent(admin.username)}:${encodeURIComponent(admin.password)}@127.0.0.1:${server.port}`;
    const target = await RedisAclTarget.connect({ urls: [url], aclSave: true });
    let applied: PlanAction[];
    try {
      // The dev server mirrors the config exactly: users of services removed from it are deleted.
      const result = await applyPlatform(options.config, target, store, {
        prune: true,
        ...(options.onProgress ? { onProgress: options.onProgress } : {}),
      });
      applied = result.applied;
    } finally {
      await target.close();
    }
    // ... and services removed from it lose their gateway tokens with their users.
    await pruneServiceTokens(
      secretsDir,
      options.config.services.map((s) => s.name),
    );
    for (const service of options.config.services) {
      const payload = (await store.get(service))?.payload;
      if (payload) options.onSecret?.(payload.password);
      if (payload?.previousPassword !== undefined) options.onSecret?.(payload.previousPassword);
    }
    const services: DevService[] = options.config.services.map((s) => ({
      name: s.name,
      userId: s.userId,
      keyspace: s.keyspace,
      sharedKeyspaces: [...s.sharedKeyspaces],
      access: accessLabel(s),
      secretFile: store.locate(s),
    }));
    if (options.gatewayPort !== false) {
      gateway = await startGatewayIfAvailable({
        config: options.config,
        redis: { host: "127.0.0.1", port: server.port },
        adminUrl: url,
        secrets: Object.fromEntries(services.map((s) => [s.name, s.secretFile])),
        dir,
        port: options.gatewayPort ?? 0,
        ...(options.cwd !== undefined ? { cwd: options.cwd } : {}),
        log,
      });
    }
    const platform: DevPlatform = {
      host: "127.0.0.1",
      port: server.port,
      dir,
      adminFile: join(dir, DEV_FILES.admin),
      secretsDir,
      logFile,
      redisPid: server.pid,
      redisVersion: version,
      services,
      applied,
      exited: server.exited,
      stop,
    };
    if (gateway) platform.gateway = gateway;
    return platform;
  } catch (error) {
    await stop().catch(() => undefined);
    throw error;
  }
}
