/**
 * The flags every command that talks to a cache shares (`--target`, `--cluster`, `--tls-ca`,
 * `--insecure`, `--secrets-dir`), turned into a connected provisioning target and a secret store.
 */
import { readFile } from "node:fs/promises";
import { resolve } from "node:path";
import { redactUrl } from "@cacheplane/core";
import {
  ElastiCacheTarget,
  FileSecretStore,
  type ProvisioningTarget,
  RedisAclTarget,
  type SecretStore,
  SecretsManagerStore,
} from "@cacheplane/provisioner";
import type { Command } from "commander";
import { UsageError } from "./errors.js";
import type { CommandContext } from "./io.js";

/** Environment variable that may hold the target URL(s), so the admin password stays out of shell history. */
export const TARGET_ENV = "CACHEPLANE_TARGET";

/** Parsed target flags, as commander hands them over. */
export interface TargetFlags {
  target: string[];
  cluster?: boolean;
  tlsCa?: string;
  insecure?: boolean;
  secretsDir?: string;
  /** The target is Amazon ElastiCache (through the AWS API) instead of a Redis URL. */
  elasticache?: boolean;
  /** Service secrets live in AWS Secrets Manager instead of `--secrets-dir`. */
  secretsManager?: boolean;
  /** AWS region of `--elasticache` and `--secrets-manager`. */
  region?: string;
}

function collect(value: string, previous: string[]): string[] {
  return [...previous, value];
}

/**
 * Adds the target and secret-store flags to a command. Commands that only read a Redis/Valkey server
 * as the admin (`usage`, `audit`) pass `{ secretsDir: false }`: they get the Redis target flags only.
 */
export function addTargetOptions(command: Command, options: { secretsDir?: boolean } = {}): Command {
  const redis = command
    .option(
      "--target <redis-url>",
      `admin URL of a node, e.g. rediss://admin:<password>@host:6379; repeat for more seed nodes (default: $${TARGET_ENV})`,
      collect,
      [],
    )
    .option("--cluster", "the target is a Redis Cluster: apply ACLs on every node", false)
    .option("--tls-ca <file>", "PEM file of the CA that signed the server certificate")
    .option("--insecure", "TLS without verifying the server certificate (never in production)", false);
  if (options.secretsDir === false) return redis;
  return redis
    .option(
      "--elasticache",
      "the target is Amazon ElastiCache: users and the config's user group through the AWS API " +
        "(credentials from the AWS SDK's usual sources), instead of --target",
      false,
    )
    .option("--secrets-manager", "service secrets are in AWS Secrets Manager instead of --secrets-dir", false)
    .option("--region <region>", "AWS region for --elasticache and --secrets-manager (default: the SDK's)")
    .option("--secrets-dir <dir>", "directory of the service secret files (created when missing)");
}

/**
 * The target URLs from `--target` flags, else from `$CACHEPLANE_TARGET` (comma or space separated).
 * Each must be `redis://` or `rediss://`. Their passwords are registered with the redactor.
 * @throws UsageError when none is given or one is malformed (the message never holds the password).
 */
export function targetUrls(flags: TargetFlags, ctx: CommandContext): string[] {
  const fromEnv = ctx.io.env[TARGET_ENV];
  const urls =
    flags.target.length > 0
      ? flags.target
      : (fromEnv ?? "")
          .split(/[\s,]+/)
          .map((s) => s.trim())
          .filter((s) => s.length > 0);
  if (urls.length === 0) {
    throw new UsageError(
      `no target: pass --target redis://<user>:<password>@<host>:<port> or set $${TARGET_ENV}`,
    );
  }
  for (const url of urls) {
    let parsed: URL;
    try {
      parsed = new URL(url);
    } catch {
      throw new UsageError(
        `--target ${redactUrl(url)} is not a URL; expected redis://<user>:<password>@<host>:<port>`,
      );
    }
    ctx.redactor.add(parsed.password);
    ctx.redactor.add(url.match(/^[a-z]+:\/\/[^:@/]*:([^@/]*)@/i)?.[1]);
    if (parsed.protocol !== "redis:" && parsed.protocol !== "rediss:") {
      throw new UsageError(
        `--target ${redactUrl(url)} must start with redis:// or rediss:// (got ${parsed.protocol})`,
      );
    }
    if (parsed.hostname === "") throw new UsageError(`--target ${redactUrl(url)} has no host`);
  }
  return urls;
}

/** Connects the target the flags describe (Redis ACL, or ElastiCache). The caller closes it. */
export async function connectTarget(flags: TargetFlags, ctx: CommandContext): Promise<ProvisioningTarget> {
  if (flags.elasticache) {
    if (flags.target.length > 0) {
      throw new UsageError(
        "--elasticache and --target exclude each other: ElastiCache is reached through the AWS API",
      );
    }
    ctx.log(`Using Amazon ElastiCache${flags.region ? ` in ${flags.region}` : ""} through the AWS API`);
    return new ElastiCacheTarget(flags.region !== undefined ? { region: flags.region } : {});
  }
  return connectRedisTarget(flags, ctx);
}

/** Connects the Redis ACL target of `--target`/`$CACHEPLANE_TARGET`. The caller closes it. */
export async function connectRedisTarget(flags: TargetFlags, ctx: CommandContext): Promise<RedisAclTarget> {
  const urls = targetUrls(flags, ctx);
  let ca: string | undefined;
  if (flags.tlsCa !== undefined) {
    const file = resolve(ctx.io.cwd, flags.tlsCa);
    try {
      ca = await readFile(file, "utf8");
    } catch {
      throw new UsageError(`--tls-ca ${flags.tlsCa}: cannot read ${file}`);
    }
  }
  const tls =
    ca !== undefined || flags.insecure
      ? {
          ...(ca !== undefined ? { ca } : {}),
          ...(flags.insecure ? { rejectUnauthorized: false } : {}),
        }
      : undefined;
  ctx.log(
    `Connecting to ${urls.map(redactUrl).join(", ")}${flags.cluster ? " (cluster)" : ""}${
      flags.insecure ? " without verifying TLS certificates" : ""
    }`,
  );
  return RedisAclTarget.connect({
    urls,
    ...(flags.cluster ? { cluster: true } : {}),
    ...(tls ? { tls } : {}),
  });
}

/**
 * The secret store: AWS Secrets Manager with `--secrets-manager`, else the file store in
 * `--secrets-dir`, resolved against the working directory.
 */
export function openSecretStore(flags: TargetFlags, ctx: CommandContext): SecretStore {
  if (flags.secretsManager) {
    if (flags.secretsDir !== undefined) {
      throw new UsageError("--secrets-manager and --secrets-dir exclude each other: pick one secret store");
    }
    return new SecretsManagerStore(flags.region !== undefined ? { region: flags.region } : {});
  }
  if (flags.secretsDir === undefined || flags.secretsDir === "") {
    throw new UsageError(
      "required option '--secrets-dir <dir>' not specified (or pass --secrets-manager for AWS Secrets Manager)",
    );
  }
  return new FileSecretStore(resolve(ctx.io.cwd, flags.secretsDir));
}

/** Connects the target, runs `use`, and always closes the target afterwards. */
export async function withTarget<T>(
  flags: TargetFlags,
  ctx: CommandContext,
  use: (target: ProvisioningTarget) => Promise<T>,
): Promise<T> {
  const target = await connectTarget(flags, ctx);
  try {
    return await use(target);
  } finally {
    await target.close().catch(() => undefined);
  }
}
