/**
 * Deterministic names derived from a service: Redis/ElastiCache user id, keyspace, secret name.
 * ElastiCache user ids: 1-40 characters, start with a letter, letters/digits/hyphens. We use
 * lowercase alphanumerics only, so the same id is valid on ElastiCache, Redis and Valkey alike.
 */

/** ElastiCache's limit on a user id. */
export const MAX_USER_ID_LENGTH = 40;
/** Keyspaces are short prefixes; long ones waste memory in every key. */
export const MAX_KEYSPACE_LENGTH = 64;
/** User names no service may take: the engine's own and the admin's. */
export const RESERVED_USER_IDS: ReadonlySet<string> = new Set(["default", "admin", "root"]);

/**
 * The Redis user id (also the user name) of a service: its name lowercased, with every character
 * that is not a-z or 0-9 dropped, prefixed with `svc` when it would not start with a letter, and
 * cut to {@link MAX_USER_ID_LENGTH}. `"Orders-API"` -> `"ordersapi"`. Returns `""` when the name has no
 * letters or digits at all (config validation reports that).
 */
export function userIdFor(serviceName: string, prefix = ""): string {
  const body = (prefix + serviceName).toLowerCase().replace(/[^a-z0-9]/g, "");
  if (body.length === 0) return "";
  const id = /^[a-z]/.test(body) ? body : `svc${body}`;
  return id.slice(0, MAX_USER_ID_LENGTH);
}

/**
 * A keyspace in canonical form: lowercase, runs of characters outside `[a-z0-9_.-]` become one `-`,
 * no leading/trailing `-`, `.` or `_`. Never contains `:` (the separator) nor glob characters, so
 * `~<keyspace>:*` matches exactly that keyspace. Idempotent. May return `""` (validation reports it).
 */
export function normalizeKeyspace(raw: string): string {
  return raw
    .toLowerCase()
    .replace(/[^a-z0-9_.-]+/g, "-")
    .replace(/-{2,}/g, "-")
    .replace(/^[-._]+|[-._]+$/g, "")
    .slice(0, MAX_KEYSPACE_LENGTH)
    .replace(/[-._]+$/g, "");
}

/** The key prefix a service's keys carry: `<keyspace>:`. */
export function keyPrefix(keyspace: string): string {
  return `${keyspace}:`;
}

/** The secret of a service: `/services/<service>/redis/<keyspace>`, service normalised like a keyspace. */
export function secretNameFor(serviceName: string, keyspace: string): string {
  return `/services/${normalizeKeyspace(serviceName)}/redis/${keyspace}`;
}

/** A name safe for ElastiCache ids (user group, cache): lowercase letters, digits and single hyphens. */
export function normalizeResourceName(raw: string, maxLength = 40): string {
  const id = raw
    .toLowerCase()
    .replace(/[^a-z0-9]+/g, "-")
    .replace(/^-+|-+$/g, "")
    .slice(0, maxLength)
    .replace(/-+$/g, "");
  return /^[a-z]/.test(id) ? id : id.length > 0 ? `c-${id}`.slice(0, maxLength).replace(/-+$/g, "") : "";
}
