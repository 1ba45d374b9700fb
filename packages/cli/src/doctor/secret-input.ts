/** Where `cacheplane doctor` reads the service secret from: a file, inline JSON, or the environment. */
import { readFile } from "node:fs/promises";
import { resolve } from "node:path";
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
}

/**
 * Reads the secret from `--secret <file>`, `--secret-json <json>`, `$REDIS_SECRET_FILE` or
 * `$REDIS_SECRET`, in that order.
 * @throws UsageError when none is given or the file cannot be read.
 */
export async function readSecretInput(
  flags: SecretInputFlags,
  env: Record<string, string | undefined>,
  cwd: string,
): Promise<SecretInput> {
  const file = flags.secret ?? (flags.secretJson === undefined ? env.REDIS_SECRET_FILE : undefined);
  if (file !== undefined && file !== "") {
    const path = resolve(cwd, file);
    try {
      return { text: await readFile(path, "utf8"), source: path };
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code;
      throw new UsageError(
        `cannot read secret file ${path}${code === "ENOENT" ? ": no such file" : code ? ` (${code})` : ""}`,
      );
    }
  }
  if (flags.secretJson !== undefined) return { text: flags.secretJson, source: "--secret-json" };
  if (env.REDIS_SECRET) return { text: env.REDIS_SECRET, source: "$REDIS_SECRET" };
  throw new UsageError("no secret: pass --secret <file>, --secret-json <json> or set $REDIS_SECRET_FILE");
}
