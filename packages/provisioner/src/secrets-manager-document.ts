/**
 * The JSON document a Secrets Manager secret holds: the service's secret payload (what clients read)
 * plus a `cacheplane` field with the store's bookkeeping (service, user, last write, rotation). Keeping
 * the bookkeeping inside the secret value makes a write atomic: a rotation marker can never disagree
 * with the passwords next to it. Clients ignore the extra field (`parseSecretPayload` keeps known fields).
 */
import { parseSecretPayload, type SecretPayload } from "@cacheplane/core";

/** Bookkeeping stored next to the payload. */
export interface SecretBookkeeping {
  /** Service the secret belongs to. @default unknown (secrets CloudFormation generated) */
  service?: string;
  /** Redis user of the secret. @default unknown (secrets CloudFormation generated) */
  userId?: string;
  /** ISO time of the last write by the provisioner. @default unknown: the version's creation date is used */
  updatedAt?: string;
  /** ISO time `cacheplane rotate` started. @default absent: no rotation under way */
  rotationStartedAt?: string;
}

/** Field of the secret JSON holding {@link SecretBookkeeping}. */
export const BOOKKEEPING_FIELD = "cacheplane";

/** Serialises payload and bookkeeping into the secret string. */
export function encodeSecretDocument(payload: SecretPayload, bookkeeping: SecretBookkeeping): string {
  const meta: SecretBookkeeping = {};
  if (bookkeeping.service !== undefined) meta.service = bookkeeping.service;
  if (bookkeeping.userId !== undefined) meta.userId = bookkeeping.userId;
  if (bookkeeping.updatedAt !== undefined) meta.updatedAt = bookkeeping.updatedAt;
  if (bookkeeping.rotationStartedAt !== undefined) meta.rotationStartedAt = bookkeeping.rotationStartedAt;
  return JSON.stringify({ ...payload, [BOOKKEEPING_FIELD]: meta });
}

/**
 * Parses a secret string: the payload (validated; errors never show a password) and whatever
 * bookkeeping it carries (none for secrets written by CloudFormation's `generateSecretString`).
 */
export function decodeSecretDocument(
  secretString: string,
  source: string,
): { payload: SecretPayload; bookkeeping: SecretBookkeeping } {
  const payload = parseSecretPayload(secretString, source);
  let bookkeeping: SecretBookkeeping = {};
  try {
    const raw = (JSON.parse(secretString) as Record<string, unknown>)[BOOKKEEPING_FIELD];
    if (typeof raw === "object" && raw !== null && !Array.isArray(raw)) {
      const meta = raw as Record<string, unknown>;
      bookkeeping = {};
      for (const key of ["service", "userId", "updatedAt", "rotationStartedAt"] as const) {
        const value = meta[key];
        if (typeof value === "string") bookkeeping[key] = value;
      }
    }
  } catch {
    // parseSecretPayload has already accepted the JSON; nothing else to report.
  }
  return { payload, bookkeeping };
}
