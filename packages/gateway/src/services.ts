/**
 * The services a gateway serves: name, keyspaces, the service's own Redis credentials (its secret
 * payload, as the provisioner wrote it) and its ACL access string. `loadGatewayServices` builds them
 * from a platform config and a secrets directory holding `<service>.json` files.
 */
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import {
  type PlatformConfig,
  type PlatformConfigInput,
  parseConfig,
  type ResolvedService,
  SCANNER_NAME,
} from "@cacheplane/core";
import { parseSecretPayload, type SecretPayload } from "@cacheplane/core/secret";
import type { ScannerIdentity } from "./gateway-options.js";

/** One service behind the gateway. */
export interface GatewayService {
  /** Service name as in the config; tokens and the registry refer to it. */
  name: string;
  /** The service's keyspace: its keys are `<keyspace>:...`. */
  keyspace: string;
  /** Extra keyspaces the service may touch (e.g. `common`). */
  sharedKeyspaces: readonly string[];
  /** The service's Redis user and where to reach Redis. The gateway connects as this user. */
  secret: SecretPayload;
  /**
   * The service's ACL access string, used for clearer pre-checks (scripting). When absent, Redis's
   * ACL alone decides.
   */
  accessString?: string;
  /**
   * Whether the service may run its own Lua (`scripting: true` in the config). Without it EVAL and
   * friends get a 403 naming the fix. @default decided from `accessString`
   */
  scripting?: boolean;
  /**
   * Reads the secret again; called when Redis rejects the password (after a rotation), so the
   * gateway picks up the new one without a restart. @default the secret never changes
   */
  reloadSecret?: () => Promise<SecretPayload>;
}

/** Where Redis is, overriding every secret's host/port/tls (e.g. `redis://127.0.0.1:6380`). */
export type RedisTarget = string | { host: string; port: number; tls?: boolean; cluster?: boolean };

/** Options of {@link loadGatewayServices}. */
export interface LoadGatewayServicesOptions {
  /**
   * Connect to this Redis instead of the host/port/tls in the secrets. Credentials in a URL are
   * ignored: the gateway always connects as each service's own user. @default the secrets' endpoint
   */
  target?: RedisTarget;
  /** Serve only these services (by name). @default every enabled service of the config */
  only?: readonly string[];
  /** Skip services without a secret file instead of failing. @default false */
  skipMissingSecrets?: boolean;
}

function isResolved(config: PlatformConfig | PlatformConfigInput): config is PlatformConfig {
  const services = (config as { services?: unknown }).services;
  return (
    "exports" in config &&
    "scanner" in config &&
    Array.isArray(services) &&
    services.every((s) => typeof (s as Partial<ResolvedService>).accessString === "string")
  );
}

/** Parses `redis://host:port` / `rediss://...` (TLS) or takes an object as it is. */
export function parseRedisTarget(target: RedisTarget): {
  host: string;
  port: number;
  tls?: boolean;
  cluster?: boolean;
} {
  if (typeof target !== "string") return target;
  let url: URL;
  try {
    url = new URL(target);
  } catch {
    throw new Error("Redis target must be a URL such as redis://127.0.0.1:6379 or rediss://host:6379");
  }
  if (url.protocol !== "redis:" && url.protocol !== "rediss:") {
    throw new Error(`Redis target must use redis:// or rediss://, got ${url.protocol}//`);
  }
  const host = url.hostname.replace(/^\[|\]$/g, "");
  return { host, port: url.port ? Number(url.port) : 6379, tls: url.protocol === "rediss:" };
}

async function readSecretFile(paths: string[]): Promise<{ text: string; path: string } | undefined> {
  for (const path of paths) {
    try {
      return { text: await readFile(path, "utf8"), path };
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== "ENOENT") throw error;
    }
  }
  return undefined;
}

/** Candidate secret files of a service: `<name>.json`, then `<userId>.json`. */
export function serviceSecretPaths(
  secretsDir: string,
  service: Pick<ResolvedService, "name" | "userId">,
): string[] {
  const names = [...new Set([service.name, service.userId])].filter(
    (n) => n.length > 0 && !/[/\\\0]/.test(n) && !n.startsWith("."),
  );
  return names.map((n) => join(secretsDir, `${n}.json`));
}

function withTarget(
  payload: SecretPayload,
  target: ReturnType<typeof parseRedisTarget> | undefined,
): SecretPayload {
  return target
    ? {
        ...payload,
        host: target.host,
        port: target.port,
        tls: target.tls ?? payload.tls,
        ...(target.cluster !== undefined ? { cluster: target.cluster } : {}),
      }
    : payload;
}

/**
 * The platform's scanner identity from `<secretsDir>/cacheplane-scanner.json` (written by `cacheplane
 * apply` for a config with `scanner: true`), for namespaced tokens' KEYS, SCAN, DBSIZE and FLUSHDB.
 * Undefined when the config does not declare it and there is no such file.
 *
 * @throws when the config declares `scanner: true` but the secret is missing (unless
 *   `skipMissingSecrets`), or when the secret is invalid; the message names the file, never a password.
 */
export async function loadScannerIdentity(
  config: PlatformConfig | PlatformConfigInput,
  secretsDir: string,
  options: Pick<LoadGatewayServicesOptions, "target" | "skipMissingSecrets"> = {},
): Promise<ScannerIdentity | undefined> {
  const platform = isResolved(config) ? config : parseConfig(config);
  const target = options.target === undefined ? undefined : parseRedisTarget(options.target);
  const path = join(secretsDir, `${SCANNER_NAME}.json`);
  const found = await readSecretFile([path]);
  if (!found) {
    if (platform.scanner && !options.skipMissingSecrets) {
      throw new Error(
        `No Redis secret for the scanner identity (${path}); provision it first (cacheplane apply with scanner: true) or pass skipMissingSecrets`,
      );
    }
    return undefined;
  }
  return {
    secret: withTarget(parseSecretPayload(found.text, path), target),
    reloadSecret: async () => withTarget(parseSecretPayload(await readFile(path, "utf8"), path), target),
  };
}

/**
 * Reads the secret of every enabled service of `config` from `secretsDir` (`<service>.json`, a
 * SecretPayload written by the provisioner) and returns the services for `createGateway`.
 *
 * @throws when a service has no secret file (unless `skipMissingSecrets`) or a secret is invalid; the
 *   message names the files, never a password.
 */
export async function loadGatewayServices(
  config: PlatformConfig | PlatformConfigInput,
  secretsDir: string,
  options: LoadGatewayServicesOptions = {},
): Promise<GatewayService[]> {
  const platform = isResolved(config) ? config : parseConfig(config);
  const target = options.target === undefined ? undefined : parseRedisTarget(options.target);
  const wanted = options.only ? new Set(options.only) : undefined;
  if (wanted) {
    const unknown = [...wanted].filter((name) => !platform.services.some((s) => s.name === name));
    if (unknown.length > 0) throw new Error(`No such service in the config: ${unknown.join(", ")}`);
  }
  const services: GatewayService[] = [];
  const missing: string[] = [];
  for (const svc of platform.services) {
    if (!svc.enabled || (wanted && !wanted.has(svc.name))) continue;
    const paths = serviceSecretPaths(secretsDir, svc);
    const found = await readSecretFile(paths);
    if (!found) {
      missing.push(`${svc.name} (${paths.join(" or ")})`);
      continue;
    }
    const path = found.path;
    services.push({
      name: svc.name,
      keyspace: svc.keyspace,
      sharedKeyspaces: [...svc.sharedKeyspaces],
      secret: withTarget(parseSecretPayload(found.text, path), target),
      accessString: svc.accessString,
      scripting: svc.scripting,
      reloadSecret: async () => withTarget(parseSecretPayload(await readFile(path, "utf8"), path), target),
    });
  }
  if (missing.length > 0 && !options.skipMissingSecrets) {
    throw new Error(
      `No Redis secret for ${missing.join(", ")}; provision the services first (cacheplane apply) or pass skipMissingSecrets`,
    );
  }
  return services;
}
