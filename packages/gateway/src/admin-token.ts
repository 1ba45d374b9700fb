/**
 * The gateway's admin token: it opens the operator view (`/operator/`) and nothing else. Issued like
 * the service tokens (by `cacheplane apply`, `cacheplane dev` and `startGatewayServer`), written for
 * the operator to `<secretsDir>/.gateway-admin-token.json` as `{"admin": "..."}` (mode 0600), and
 * known to the gateway only by its SHA-256 in `gateway-tokens.json` (`kind: "admin"`, `service:
 * "(admin)"`). The token file is the truth: delete it and issue again to replace the token (the old
 * hash leaves the registry at once).
 *
 * It is no service's token: the data plane (`new TokenVerifier(...)`) never accepts it, so it cannot
 * run a single Redis command; service tokens are never accepted by the operator view.
 */
import { chmod } from "node:fs/promises";
import { join } from "node:path";
import { withFileLock } from "./file-lock.js";
import { readJsonFileIfPresent, writeFileAtomic } from "./file-utils.js";
import {
  ADMIN_TOKEN_FILE,
  ADMIN_TOKEN_SERVICE,
  checkWritableDir,
  generateToken,
  hashToken,
  isExpired,
  LOCK_OPTIONS,
  readTokenRegistry,
  serializeRegistry,
  type TokenFileOptions,
  type TokenRecord,
  tokenRegistryPath,
} from "./tokens.js";

/** `<secretsDir>/.gateway-admin-token.json`: where the admin token is written. */
export function adminTokenPath(secretsDir: string): string {
  return join(secretsDir, ADMIN_TOKEN_FILE);
}

async function readAdminTokenFile(path: string): Promise<string | undefined> {
  const parsed = await readJsonFileIfPresent(
    path,
    "Admin token file",
    "delete it to issue a new admin token",
  );
  if (parsed === undefined) return undefined;
  const token = (parsed as { admin?: unknown } | null)?.admin;
  if (typeof token !== "string" || token.length < 32) {
    throw new Error(
      `Admin token file ${path} must hold {"admin": "..."} (a token of 32+ characters); delete it to issue a new admin token`,
    );
  }
  return token;
}

/** The registry with exactly one admin record, for `token`; `undefined` when it already is so. */
function reconcileAdmin(records: TokenRecord[], token: string, now: Date): TokenRecord[] | undefined {
  const hash = hashToken(token);
  const current = records.find((r) => r.kind === "admin" && r.hash === hash && r.expiresAt === undefined);
  const next = records.filter((r) => r.kind !== "admin" && !isExpired(r, now));
  next.push(current ?? { service: ADMIN_TOKEN_SERVICE, kind: "admin", hash, createdAt: now.toISOString() });
  return JSON.stringify(next) === JSON.stringify(records) ? undefined : next;
}

/**
 * Issues the admin token when there is none yet and makes sure the registry holds its hash (and no
 * other admin hash). Idempotent; serialised with every other registry write through its lock file.
 *
 * @returns the token file's path (print the path, never the token).
 * @throws when an existing admin token file is malformed (it is never silently replaced).
 */
export async function ensureAdminToken(secretsDir: string, options: TokenFileOptions = {}): Promise<string> {
  const path = adminTokenPath(secretsDir);
  const registryPath = tokenRegistryPath(secretsDir);
  const now = (options.now ?? (() => new Date()))();
  await withFileLock(
    registryPath,
    async () => {
      const existing = await readAdminTokenFile(path);
      const token = existing ?? generateToken();
      const next = reconcileAdmin(await readTokenRegistry(registryPath), token, now);
      // Registry first: a crash before the token file is written leaves no usable token behind.
      if (next) await writeFileAtomic(registryPath, serializeRegistry(next));
      if (existing) await chmod(path, 0o600);
      else await writeFileAtomic(path, `${JSON.stringify({ admin: token }, null, 2)}\n`);
    },
    LOCK_OPTIONS,
  );
  return path;
}

/**
 * Checks, without writing anything, that the admin token can be issued in `secretsDir`: a writable
 * directory and, when the token file exists, a well-formed one.
 * @throws naming the file and the fix (never the token).
 */
export async function checkAdminToken(secretsDir: string): Promise<void> {
  await checkWritableDir(secretsDir);
  await readAdminTokenFile(adminTokenPath(secretsDir));
}
