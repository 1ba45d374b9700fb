/**
 * Where `cacheplane doctor` reads the service secret from: a file, inline JSON, a Secrets Manager ARN
 * (read as the client reads it, so a Lambda's own `REDIS_SECRET_ARN` works unchanged), or the
 * environment.
 */
import { readFile } from "node:fs/promises";
import { resolve } from "node:path";
import type { SecretsManagerClient } from "@aws-sdk/client-secrets-manager";
import { SecretSource } from "@cacheplane/client/connection";
import { UsageError } from "../errors.js";

/** The raw secret text and a printable description of where it came from (never its content). */
export interface SecretInput {
  text: string;
  source: string;
}

/** Flags that name the secret. */
export interface SecretInputFlags {
  secret?: string;
  secretJson?: string;
  secretArn?: string;
}

/** Injected in tests: the Secrets Manager client for ARN secrets (default: one for the ARN's region). */
export interface SecretInputDeps {
  secretsManager?: SecretsManagerClient;
}

/**
 * Reads the secret from `--secret <file>`, `--secret-json <json>`, `--secret-arn <arn>`, then from the
 * environment as the client does: `$REDIS_SECRET_ARN`, `$REDIS_SECRET_FILE`, `$REDIS_SECRET`.
 * @throws UsageError when none is given, the file cannot be read or Secrets Manager refuses.
 */
export async function readSecretInput(
  flags: SecretInputFlags,
  env: Record<string, string | undefined>,
  cwd: string,
  deps: SecretInputDeps = {},
): Promise<SecretInput> {
  if (flags.secret !== undefined) return readSecretFile(resolve(cwd, flags.secret));
  if (flags.secretJson !== undefined) return { text: flags.secretJson, source: "--secret-json" };
  if (flags.secretArn !== undefined) return readSecretArn(flags.secretArn, deps);
  if (env.REDIS_SECRET_ARN) return readSecretArn(env.REDIS_SECRET_ARN, deps);
  if (env.REDIS_SECRET_FILE) return readSecretFile(resolve(cwd, env.REDIS_SECRET_FILE));
  if (env.REDIS_SECRET) return { text: env.REDIS_SECRET, source: "$REDIS_SECRET" };
  throw new UsageError(
    "no secret: pass --secret <file>, --secret-json <json> or --secret-arn <arn>, or set $REDIS_SECRET_ARN, $REDIS_SECRET_FILE or $REDIS_SECRET",
  );
}

async function readSecretFile(path: string): Promise<SecretInput> {
  try {
    return { text: await readFile(path, "utf8"), source: path };
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    throw new UsageError(
      `cannot read secret file ${path}${code === "ENOENT" ? ": no such file" : code ? ` (${code})` : ""}`,
    );
  }
}

/** The secret at `arn`, read with the caller's AWS credentials (`secretsmanager:GetSecretValue`). */
async function readSecretArn(arn: string, deps: SecretInputDeps): Promise<SecretInput> {
  const source = new SecretSource(
    { kind: "arn", arn, ...(deps.secretsManager ? { client: deps.secretsManager } : {}) },
    { maxAgeMs: 0, minRefreshIntervalMs: 0 },
  );
  try {
    return { text: JSON.stringify(await source.get({ forceRefresh: true })), source: arn };
  } catch (error) {
    // SecretLoadError messages name the ARN and the AWS error, never the secret.
    throw new UsageError(
      `${error instanceof Error ? error.message : String(error)}; check the ARN, the region and that your credentials may call secretsmanager:GetSecretValue on it`,
    );
  }
}
