/**
 * Per-service gateway tokens. Each service has a read-write and a read-only token, and the same two
 * in namespaced mode (a virtual database: keys and channels without the keyspace prefix, see
 * namespace.ts), written for the service's owners to `<secretsDir>/<service>.token.json` as
 * `{"readWrite": "...", "readOnly": "...", "namespacedReadWrite": "...", "namespacedReadOnly": "..."}`
 * (mode 0600; scripts rely on this path and on `readWrite`/`readOnly`; a file from before namespaced
 * tokens gets the two new ones added, keeping the others). The gateway itself only ever reads
 * `<secretsDir>/gateway-tokens.json`, which holds SHA-256 hashes: which service, kind and mode a hash
 * belongs to, when it was issued, and — for tokens rotated out — until when it stays valid.
 */
import { createHash, randomBytes } from "node:crypto";
import { constants } from "node:fs";
import { access, chmod, readdir, readFile, rm, stat } from "node:fs/promises";
import { dirname, join } from "node:path";
import { withFileLock } from "./file-lock.js";
import { readJsonFileIfPresent, writeFileAtomic } from "./file-utils.js";

/** What a token may do: everything the service's Redis user may, or read commands only. */
export type TokenKind = "read-write" | "read-only";

/** The tokens of a service, as written to `<service>.token.json`. */
export interface ServiceTokens {
  readWrite: string;
  readOnly: string;
  /** Read-write, namespaced: the service sees its keyspace as a whole database (`foo` is `<keyspace>:foo`). */
  namespacedReadWrite: string;
  /** Read-only, namespaced. */
  namespacedReadOnly: string;
}

/** The fields of a token file, with the kind and mode of each. */
export const TOKEN_SLOTS: readonly { field: keyof ServiceTokens; kind: TokenKind; namespaced: boolean }[] = [
  { field: "readWrite", kind: "read-write", namespaced: false },
  { field: "readOnly", kind: "read-only", namespaced: false },
  { field: "namespacedReadWrite", kind: "read-write", namespaced: true },
  { field: "namespacedReadOnly", kind: "read-only", namespaced: true },
];

function newTokens(): ServiceTokens {
  return {
    readWrite: generateToken(),
    readOnly: generateToken(),
    namespacedReadWrite: generateToken(),
    namespacedReadOnly: generateToken(),
  };
}

/**
 * The registry's `service` of the gateway's admin token (operator view, `admin-token.ts`). Not a
 * possible service name (services cannot contain parentheses), and never a service's identity.
 */
export const ADMIN_TOKEN_SERVICE = "(admin)";

/** One registry entry: the hash of a token, never the token. */
export interface TokenRecord {
  service: string;
  /** A service token's kind, or `admin` for the gateway's admin token (operator view only). */
  kind: TokenKind | "admin";
  /** A namespaced token (virtual database); absent for plain tokens. */
  namespaced?: true;
  /** SHA-256 of the token (UTF-8), lowercase hex. */
  hash: string;
  /** ISO 8601 time the token was issued. */
  createdAt: string;
  /** ISO 8601 time a rotated-out token stops working; absent for current tokens. */
  expiresAt?: string;
}

/** The registry file `<secretsDir>/gateway-tokens.json`. */
export interface TokenRegistryDocument {
  version: 1;
  tokens: TokenRecord[];
}

/** Options shared by {@link ensureServiceTokens} and {@link rotateServiceTokens}. */
export interface TokenFileOptions {
  /** Clock, for tests. @default () => new Date() */
  now?: () => Date;
}

/** Options of {@link rotateServiceTokens}. */
export interface RotateTokensOptions extends TokenFileOptions {
  /** How long the previous tokens keep working after the rotation. `0` revokes them at once. @default 3600 */
  graceSeconds?: number;
}

/** The new tokens of a rotation, and until when the previous ones still work. */
export interface RotatedServiceTokens extends ServiceTokens {
  /** ISO 8601 time the previous tokens stop working. */
  previousValidUntil: string;
}

/** Random bytes per token (base64url encoded: 43 characters). */
export const TOKEN_BYTES = 32;
const REGISTRY_FILE = "gateway-tokens.json";
const TOKEN_FILE_SUFFIX = ".token.json";

/** The files written under the registry's lock (for the lock's cleanup of temp files left by a crash). */
function writtenUnderLock(name: string): boolean {
  return name === REGISTRY_FILE || name.endsWith(TOKEN_FILE_SUFFIX) || name === ADMIN_TOKEN_FILE;
}

/**
 * `<secretsDir>/.gateway-admin-token.json`: the admin token (`{"admin": "..."}`, 0600). Hidden and
 * without the `.token.json` suffix: it can be neither a service's secret nor its token file.
 */
export const ADMIN_TOKEN_FILE = ".gateway-admin-token.json";

/** A fresh random token: 32 bytes from `crypto.randomBytes`, base64url. */
export function generateToken(): string {
  return randomBytes(TOKEN_BYTES).toString("base64url");
}

/** SHA-256 of a token, lowercase hex: what the registry stores. */
export function hashToken(token: string): string {
  return createHash("sha256").update(token, "utf8").digest("hex");
}

function checkServiceName(service: string): void {
  if (
    service.length === 0 ||
    /[/\\\0]/.test(service) ||
    service.startsWith(".") ||
    service === ADMIN_TOKEN_SERVICE
  ) {
    throw new Error(
      `Invalid service name ${JSON.stringify(service)} for a token file: no slashes, no leading dot`,
    );
  }
}

/** `<secretsDir>/<service>.token.json`: where a service's tokens are written. */
export function serviceTokenPath(secretsDir: string, service: string): string {
  checkServiceName(service);
  return join(secretsDir, `${service}${TOKEN_FILE_SUFFIX}`);
}

/** `<secretsDir>/gateway-tokens.json`: the hash registry the gateway reads. */
export function tokenRegistryPath(secretsDir: string): string {
  return join(secretsDir, REGISTRY_FILE);
}

function isRecord(value: unknown): value is TokenRecord {
  if (typeof value !== "object" || value === null) return false;
  const r = value as Record<string, unknown>;
  return (
    typeof r.service === "string" &&
    (r.kind === "read-write" ||
      r.kind === "read-only" ||
      (r.kind === "admin" && r.service === ADMIN_TOKEN_SERVICE)) &&
    typeof r.hash === "string" &&
    /^[0-9a-f]{64}$/.test(r.hash) &&
    typeof r.createdAt === "string" &&
    (r.expiresAt === undefined || typeof r.expiresAt === "string") &&
    (r.namespaced === undefined || r.namespaced === true)
  );
}

/**
 * Parses registry JSON text. Throws naming the file on malformed content; entries that are not valid
 * records are skipped.
 */
export function parseTokenRegistry(text: string, source = REGISTRY_FILE): TokenRecord[] {
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    throw new Error(`Token registry ${source} is not valid JSON`);
  }
  const tokens = (parsed as { tokens?: unknown } | null)?.tokens;
  if (!Array.isArray(tokens)) throw new Error(`Token registry ${source} has no "tokens" array`);
  return tokens.filter(isRecord).map((r) => {
    const record: TokenRecord = { service: r.service, kind: r.kind, hash: r.hash, createdAt: r.createdAt };
    if (r.namespaced === true) record.namespaced = true;
    if (r.expiresAt !== undefined) record.expiresAt = r.expiresAt;
    return record;
  });
}

/** The records of a registry file; `[]` when the file does not exist. */
export async function readTokenRegistry(path: string): Promise<TokenRecord[]> {
  let text: string;
  try {
    text = await readFile(path, "utf8");
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "ENOENT") return [];
    throw error;
  }
  return parseTokenRegistry(text, path);
}

/**
 * The tokens of a token file. A file written before namespaced tokens existed (only `readWrite` and
 * `readOnly`) comes back with `complete: false` and fresh namespaced tokens, to be written back.
 */
async function readServiceTokenFile(
  path: string,
): Promise<{ tokens: ServiceTokens; complete: boolean } | undefined> {
  const parsed = await readJsonFileIfPresent(path, "Token file", "delete it to issue new tokens");
  if (parsed === undefined) return undefined;
  const p = parsed as Partial<Record<string, unknown>> | null;
  const fresh = newTokens();
  const hasNamespaced = p?.namespacedReadWrite !== undefined || p?.namespacedReadOnly !== undefined;
  const tokens: Record<string, unknown> = {
    readWrite: p?.readWrite,
    readOnly: p?.readOnly,
    namespacedReadWrite: hasNamespaced ? p?.namespacedReadWrite : fresh.namespacedReadWrite,
    namespacedReadOnly: hasNamespaced ? p?.namespacedReadOnly : fresh.namespacedReadOnly,
  };
  const values = Object.values(tokens);
  if (
    p === null ||
    typeof p !== "object" ||
    !values.every((v) => typeof v === "string" && v.length >= 32) ||
    new Set(values).size !== values.length
  ) {
    throw new Error(
      `Token file ${path} must hold {"readWrite": "...", "readOnly": "...", "namespacedReadWrite": "...", "namespacedReadOnly": "..."} (different tokens of 32+ characters; the namespaced two may be missing); delete it to issue new tokens`,
    );
  }
  return { tokens: tokens as unknown as ServiceTokens, complete: hasNamespaced };
}

/** Lock options of every write under the registry's lock (also `admin-token.ts`). */
export const LOCK_OPTIONS = { leftovers: writtenUnderLock };

function serializeTokens(tokens: ServiceTokens): string {
  const ordered = Object.fromEntries(TOKEN_SLOTS.map((slot) => [slot.field, tokens[slot.field]]));
  return `${JSON.stringify(ordered, null, 2)}\n`;
}

/** The registry key of a token's kind and mode. */
function slotKey(kind: TokenKind | "admin", namespaced: boolean | undefined): string {
  return namespaced ? `${kind}+namespaced` : kind;
}

function recordOf(
  service: string,
  slot: (typeof TOKEN_SLOTS)[number],
  token: string,
  createdAt: string,
): TokenRecord {
  const record: TokenRecord = { service, kind: slot.kind, hash: hashToken(token), createdAt };
  if (slot.namespaced) record.namespaced = true;
  return record;
}

/** The registry document's text. */
export function serializeRegistry(records: TokenRecord[]): string {
  const doc: TokenRegistryDocument = { version: 1, tokens: records };
  return `${JSON.stringify(doc, null, 2)}\n`;
}

/** True when a rotated-out record's grace period is over. */
export function isExpired(record: TokenRecord, now: Date): boolean {
  return record.expiresAt !== undefined && Date.parse(record.expiresAt) <= now.getTime();
}

/**
 * Makes the registry agree with the service's current tokens: both hashes present and not expiring,
 * every other non-expiring record of the service removed (the token file is the truth), expired
 * records pruned. Returns the new list, or `undefined` when nothing changed.
 */
function reconcile(
  records: TokenRecord[],
  service: string,
  current: ServiceTokens,
  now: Date,
): TokenRecord[] | undefined {
  const wanted = new Map(
    TOKEN_SLOTS.map((slot) => [slotKey(slot.kind, slot.namespaced), hashToken(current[slot.field])]),
  );
  const next: TokenRecord[] = [];
  for (const record of records) {
    if (isExpired(record, now)) continue;
    if (record.service === service && record.kind !== "admin") {
      const isCurrent = wanted.get(slotKey(record.kind, record.namespaced)) === record.hash;
      if (!isCurrent && record.expiresAt === undefined) continue; // superseded by the token file
      if (isCurrent && record.expiresAt !== undefined) {
        const kept: TokenRecord = {
          service,
          kind: record.kind,
          hash: record.hash,
          createdAt: record.createdAt,
        };
        if (record.namespaced) kept.namespaced = true;
        next.push(kept);
        continue;
      }
    }
    next.push(record);
  }
  for (const slot of TOKEN_SLOTS) {
    const hash = wanted.get(slotKey(slot.kind, slot.namespaced));
    const present = next.some(
      (r) =>
        r.service === service &&
        slotKey(r.kind, r.namespaced) === slotKey(slot.kind, slot.namespaced) &&
        r.hash === hash,
    );
    if (!present) next.push(recordOf(service, slot, current[slot.field], now.toISOString()));
  }
  const changed = JSON.stringify(next) !== JSON.stringify(records);
  return changed ? next : undefined;
}

/**
 * Issues the service's tokens when it has none yet and makes sure the registry holds their hashes.
 * Idempotent: a second call returns the same tokens and writes nothing. Concurrent calls (also from
 * other processes) are serialised through a lock file next to the registry.
 *
 * @returns the service's current tokens (give them to the service's owners; never log them).
 * @throws when an existing token file is malformed (it is never silently replaced).
 */
export async function ensureServiceTokens(
  secretsDir: string,
  serviceName: string,
  options: TokenFileOptions = {},
): Promise<ServiceTokens> {
  const tokenPath = serviceTokenPath(secretsDir, serviceName);
  const registryPath = tokenRegistryPath(secretsDir);
  const now = (options.now ?? (() => new Date()))();
  return withFileLock(
    registryPath,
    async () => {
      const existing = await readServiceTokenFile(tokenPath);
      const tokens = existing?.tokens ?? newTokens();
      const records = await readTokenRegistry(registryPath);
      const next = reconcile(records, serviceName, tokens, now);
      if (next) await writeFileAtomic(registryPath, serializeRegistry(next));
      if (existing?.complete) await chmod(tokenPath, 0o600);
      else await writeFileAtomic(tokenPath, serializeTokens(tokens));
      return tokens;
    },
    LOCK_OPTIONS,
  );
}

/**
 * Issues new tokens for a service and keeps the previous ones valid for `graceSeconds` (their
 * registry records get an `expiresAt`), so clients can switch over without downtime. The registry is
 * written before the token file: a crash in between leaves the previous tokens working.
 */
export async function rotateServiceTokens(
  secretsDir: string,
  serviceName: string,
  options: RotateTokensOptions = {},
): Promise<RotatedServiceTokens> {
  const graceSeconds = options.graceSeconds ?? 3600;
  if (!Number.isFinite(graceSeconds) || graceSeconds < 0) {
    throw new Error(`graceSeconds must be a number >= 0, got ${graceSeconds}`);
  }
  const tokenPath = serviceTokenPath(secretsDir, serviceName);
  const registryPath = tokenRegistryPath(secretsDir);
  const now = (options.now ?? (() => new Date()))();
  const until = new Date(now.getTime() + graceSeconds * 1000);
  return withFileLock(
    registryPath,
    async () => {
      const tokens = newTokens();
      const records = (await readTokenRegistry(registryPath)).filter((r) => !isExpired(r, now));
      const next: TokenRecord[] = records.map((record) => {
        if (record.service !== serviceName) return record;
        const ends = record.expiresAt === undefined ? Number.POSITIVE_INFINITY : Date.parse(record.expiresAt);
        return ends > until.getTime() ? { ...record, expiresAt: until.toISOString() } : record;
      });
      const created = now.toISOString();
      for (const slot of TOKEN_SLOTS) next.push(recordOf(serviceName, slot, tokens[slot.field], created));
      const live = graceSeconds === 0 ? next.filter((r) => !isExpired(r, now)) : next;
      await writeFileAtomic(registryPath, serializeRegistry(live));
      await writeFileAtomic(tokenPath, serializeTokens(tokens));
      return { ...tokens, previousValidUntil: until.toISOString() };
    },
    LOCK_OPTIONS,
  );
}

/** Services that have a token file in `secretsDir` (`<service>.token.json`). */
async function tokenFileServices(secretsDir: string): Promise<string[]> {
  let entries: string[];
  try {
    entries = await readdir(secretsDir);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "ENOENT") return [];
    throw error;
  }
  return entries
    .filter((name) => name.endsWith(TOKEN_FILE_SUFFIX) && name.length > TOKEN_FILE_SUFFIX.length)
    .map((name) => name.slice(0, -TOKEN_FILE_SUFFIX.length));
}

/**
 * Services that still have gateway tokens in `secretsDir` (a token file, or hashes in the registry)
 * but are not in `keep`: what {@link pruneServiceTokens} would revoke. Changes nothing.
 */
export async function retiredTokenServices(secretsDir: string, keep: Iterable<string>): Promise<string[]> {
  const kept = new Set(keep);
  // The admin token belongs to no service: it is never retired with one.
  const records = (await readTokenRegistry(tokenRegistryPath(secretsDir))).filter((r) => r.kind !== "admin");
  const names = new Set([...records.map((r) => r.service), ...(await tokenFileServices(secretsDir))]);
  return [...names].filter((name) => !kept.has(name)).sort();
}

/**
 * Revokes the gateway tokens of every service not in `keep` (retired services): their hashes leave
 * the registry first (a running gateway refuses them at its next registry check), then their
 * `<service>.token.json` files are deleted. Idempotent; a crash in between is finished by the next
 * call (a token file without hashes is still found and deleted).
 *
 * @returns the services whose tokens were revoked, sorted.
 */
export async function pruneServiceTokens(secretsDir: string, keep: Iterable<string>): Promise<string[]> {
  const kept = new Set(keep);
  const registryPath = tokenRegistryPath(secretsDir);
  return withFileLock(
    registryPath,
    async () => {
      const retired = await retiredTokenServices(secretsDir, kept);
      if (retired.length === 0) return [];
      const gone = new Set(retired);
      const records = await readTokenRegistry(registryPath);
      const next = records.filter((r) => r.kind === "admin" || !gone.has(r.service));
      if (next.length !== records.length) await writeFileAtomic(registryPath, serializeRegistry(next));
      for (const service of retired) {
        // A name that cannot be a token file (e.g. from a hand-edited registry) has no file to delete.
        if (/[/\\\0]/.test(service) || service.startsWith(".") || service.length === 0) continue;
        await rm(join(secretsDir, `${service}${TOKEN_FILE_SUFFIX}`), { force: true });
      }
      return retired;
    },
    LOCK_OPTIONS,
  );
}

/** Throws naming `dir` unless this process can create files in it (or in the nearest existing parent). */
export async function checkWritableDir(dir: string): Promise<void> {
  let current = dir;
  for (;;) {
    try {
      const info = await stat(current);
      if (!info.isDirectory())
        throw new Error(`${current} is not a directory; the tokens of ${dir} cannot be written`);
      break;
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code;
      if (code !== "ENOENT" && code !== "ENOTDIR") throw error;
      const parent = dirname(current);
      if (parent === current) break;
      current = parent;
    }
  }
  try {
    await access(current, constants.W_OK | constants.X_OK);
  } catch {
    throw new Error(
      `Cannot write to ${current}: the gateway tokens need a writable ${dir}; fix its permissions`,
    );
  }
}

/**
 * Checks, without writing anything, that the tokens of `services` can be issued in `secretsDir`: the
 * names make valid token file names, the directory is writable, the registry (if any) is readable and
 * valid JSON, and every existing token file is readable and well-formed. Run it before changing
 * anything else, so a problem here never leaves a half-applied change behind.
 *
 * @throws the first problem found, naming the file and the fix (never a token).
 */
export async function checkServiceTokens(secretsDir: string, services: readonly string[]): Promise<void> {
  const paths = services.map((service) => serviceTokenPath(secretsDir, service));
  await checkWritableDir(secretsDir);
  try {
    await readTokenRegistry(tokenRegistryPath(secretsDir));
  } catch (error) {
    const message = error instanceof Error ? error.message : String(error);
    throw new Error(
      `${message}; fix it, or delete it: the next apply rebuilds it from the token files (tokens rotated out and still in their grace period then stop working)`,
    );
  }
  for (const path of paths) await readServiceTokenFile(path);
}
