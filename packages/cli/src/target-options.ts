/**
 * The flags every command that talks to a cache shares (`--target`, `--cluster`, `--tls-ca`,
 * `--insecure`, `--secrets-dir`), turned into a connected provisioning target and a secret store.
 */
import { readFile } from "node:fs/promises";
import { resolve } from "node:path";
import { redactUrl } from "@cacheplane/core";
import { FileSecretStore, type ProvisioningTarget, RedisAclTarget } from "@cacheplane/provisioner";
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
}

function collect(value: string, previous: string[]): string[] {
  return [...previous, value];
}

/**
 * Adds the target and secret-store flags to a command. Commands that only read the server as the
 * admin (`usage`, `audit`) pass `{ secretsDir: false }`.
 */
export function addTargetOptions(command: Command, options: { secretsDir?: boolean } = {}): Command {
  const withTarget = command
    .option(
      "--target <redis-url>",
      `admin URL of a node, e.g. rediss://admin:<password>@host:6379; repeat for more seed nodes (default: $${TARGET_ENV})`,
      collect,
      [],
    )
    .option("--cluster", "the target is a Redis Cluster: apply ACLs on every node", false)
    .option("--tls-ca <file>", "PEM file of the CA that signed the server certificate")
    .option("--insecure", "TLS without verifying the server certificate (never in production)", false);
  return options.secretsDir === false
    ? withTarget
    : withTarget.requiredOption(
        "--secrets-dir <dir>",
        "directory of the service secret files (created when missing)",
      );
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

/** Connects the Redis ACL target the flags describe. The caller closes it. */
export async function connectTarget(flags: TargetFlags, ctx: CommandContext): Promise<RedisAclTarget> {
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

/** The file secret store in `--secrets-dir`, resolved against the working directory. */
export function openSecretStore(flags: TargetFlags, ctx: CommandContext): FileSecretStore {
  if (flags.secretsDir === undefined || flags.secretsDir === "") {
    throw new UsageError("--secrets-dir <dir> is required");
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
