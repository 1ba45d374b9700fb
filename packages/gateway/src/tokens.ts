/**
 * Per-service gateway tokens. Each service has a read-write and a read-only token, written for the
 * service's owners to `<secretsDir>/<service>.token.json` as exactly `{"readWrite": "...",
 * "readOnly": "..."}` (mode 0600; scripts rely on this path and shape). The gateway itself only ever
 * reads `<secretsDir>/gateway-tokens.json`, which holds SHA-256 hashes: which service and kind a hash
 * belongs to, when it was issued, and — for tokens rotated out — until when it stays valid.
 */
import { createHash, randomBytes } from "node:crypto";
import { chmod, readFile } from "node:fs/promises";
import { join } from "node:path";
import { withFileLock, writeFileAtomic } from "./file-utils.js";

/** What a token may do: everything the service's Redis user may, or read commands only. */
export type TokenKind = "read-write" | "read-only";

/** The two tokens of a service, as written to `<service>.token.json`. */
export interface ServiceTokens {
  readWrite: string;
  readOnly: string;
}

/** One registry entry: the hash of a token, never the token. */
export interface TokenRecord {
  service: string;
  kind: TokenKind;
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

/** A fresh random token: 32 bytes from `crypto.randomBytes`, base64url. */
export function generateToken(): string {
  return randomBytes(TOKEN_BYTES).toString("base64url");
}

/** SHA-256 of a token, lowercase hex: what the registry stores. */
export function hashToken(token: string): string {
  return createHash("sha256").update(token, "utf8").digest("hex");
}

function checkServiceName(service: string): void {
  if (service.length === 0 || /[/\\\0]/.test(service) || service.startsWith(".")) {
    throw new Error(
      `Invalid service name ${JSON.stringify(service)} for a token file: no slashes, no leading dot`,
    );
  }
}

/** `<secretsDir>/<service>.token.json`: where a service's tokens are written. */
export function serviceTokenPath(secretsDir: string, service: string): string {
  checkServiceName(service);
  return join(secretsDir, `${service}.token.json`);
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
    (r.kind === "read-write" || r.kind === "read-only") &&
    typeof r.hash === "string" &&
    /^[0-9a-f]{64}$/.test(r.hash) &&
    typeof r.createdAt === "string" &&
    (r.expiresAt === undefined || typeof r.expiresAt === "string")
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

async function readServiceTokenFile(path: string): Promise<ServiceTokens | undefined> {
  let text: string;
  try {
    text = await readFile(path, "utf8");
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "ENOENT") return undefined;
    throw error;
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    throw new Error(`Token file ${path} is not valid JSON; delete it to issue new tokens`);
  }
  const p = parsed as Partial<Record<string, unknown>> | null;
  if (
    typeof p?.readWrite !== "string" ||
    typeof p.readOnly !== "string" ||
    p.readWrite.length < 32 ||
    p.readOnly.length < 32 ||
    p.readWrite === p.readOnly
  ) {
    throw new Error(
      `Token file ${path} must hold {"readWrite": "...", "readOnly": "..."} (two different tokens of 32+ characters); delete it to issue new tokens`,
    );
  }
  return { readWrite: p.readWrite, readOnly: p.readOnly };
}

function serializeTokens(tokens: ServiceTokens): string {
  return `${JSON.stringify({ readWrite: tokens.readWrite, readOnly: tokens.readOnly }, null, 2)}\n`;
}

function serializeRegistry(records: TokenRecord[]): string {
  const doc: TokenRegistryDocument = { version: 1, tokens: records };
  return `${JSON.stringify(doc, null, 2)}\n`;
}

function isExpired(record: TokenRecord, now: Date): boolean {
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
  const wanted: Record<TokenKind, string> = {
    "read-write": hashToken(current.readWrite),
    "read-only": hashToken(current.readOnly),
  };
  const next: TokenRecord[] = [];
  for (const record of records) {
    if (isExpired(record, now)) continue;
    if (record.service === service) {
      const isCurrent = wanted[record.kind] === record.hash;
      if (!isCurrent && record.expiresAt === undefined) continue; // superseded by the token file
      if (isCurrent && record.expiresAt !== undefined) {
        next.push({ service, kind: record.kind, hash: record.hash, createdAt: record.createdAt });
        continue;
      }
    }
    next.push(record);
  }
  for (const kind of ["read-write", "read-only"] as const) {
    if (!next.some((r) => r.service === service && r.kind === kind && r.hash === wanted[kind])) {
      next.push({ service, kind, hash: wanted[kind], createdAt: now.toISOString() });
    }
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
  return withFileLock(registryPath, async () => {
    const existing = await readServiceTokenFile(tokenPath);
    const tokens = existing ?? { readWrite: generateToken(), readOnly: generateToken() };
    const records = await readTokenRegistry(registryPath);
    const next = reconcile(records, serviceName, tokens, now);
    if (next) await writeFileAtomic(registryPath, serializeRegistry(next));
    if (existing) await chmod(tokenPath, 0o600);
    else await writeFileAtomic(tokenPath, serializeTokens(tokens));
    return tokens;
  });
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
  return withFileLock(registryPath, async () => {
    const tokens: ServiceTokens = { readWrite: generateToken(), readOnly: generateToken() };
    const records = (await readTokenRegistry(registryPath)).filter((r) => !isExpired(r, now));
    const next: TokenRecord[] = records.map((record) => {
      if (record.service !== serviceName) return record;
      const ends = record.expiresAt === undefined ? Number.POSITIVE_INFINITY : Date.parse(record.expiresAt);
      return ends > until.getTime() ? { ...record, expiresAt: until.toISOString() } : record;
    });
    const created = now.toISOString();
    next.push({
      service: serviceName,
      kind: "read-write",
      hash: hashToken(tokens.readWrite),
      createdAt: created,
    });
    next.push({
      service: serviceName,
      kind: "read-only",
      hash: hashToken(tokens.readOnly),
      createdAt: created,
    });
    const live = graceSeconds === 0 ? next.filter((r) => !isExpired(r, now)) : next;
    await writeFileAtomic(registryPath, serializeRegistry(live));
    await writeFileAtomic(tokenPath, serializeTokens(tokens));
    return { ...tokens, previousValidUntil: until.toISOString() };
  });
}
