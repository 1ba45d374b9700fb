/**
 * Deterministic names derived from a service: Redis/ElastiCache user id, keyspace, secret name.
 * ElastiCache user ids: 1-40 characters, start with a letter, letters/digits/hyphens. We use
 * lowercase alphanumerics only, so the same id is valid on ElastiCache, Redis and Valkey alike.
 */

/** ElastiCache's limit on a user id. */
export const MAX_USER_ID_LENGTH = 40;
/** Keyspaces are short prefixes; long ones waste memory in every key. */
export const MAX_KEYSPACE_LENGTH = 64;
/** Longest service name: it names files (`<service>.json`, `<service>.token.json`) and secrets. */
export const MAX_SERVICE_NAME_LENGTH = 64;
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

/** What a service name may look like: it names the service's secret and token files. */
const SERVICE_NAME = /^[A-Za-z0-9](?:[A-Za-z0-9 ._-]*[A-Za-z0-9._-])?$/;

/**
 * Why `name` cannot be a service name, or undefined when it can: a letter or digit first, then
 * letters, digits, spaces, `-`, `_` and `.` (no trailing space), at most
 * {@link MAX_SERVICE_NAME_LENGTH} characters. The name is used as a file name (secret and gateway
 * token files), so slashes, a leading dot, colons and control characters are refused rather than
 * rewritten.
 */
export function serviceNameProblem(name: string): string | undefined {
  if (name.length > MAX_SERVICE_NAME_LENGTH) {
    return `service name ${JSON.stringify(`${name.slice(0, 20)}...`)} is ${name.length} characters long; use at most ${MAX_SERVICE_NAME_LENGTH}`;
  }
  if (SERVICE_NAME.test(name)) return undefined;
  return `service name ${JSON.stringify(name)} is not allowed: start with a letter or digit and use only letters, digits, spaces, "-", "_" and "." (it names the service's secret and token files), e.g. "orders-api"`;
}

/**
 * Why `raw` cannot be a keyspace as written, or undefined when it is already canonical (see
 * {@link normalizeKeyspace}): lowercase letters, digits, `-`, `_` and `.`, starting and ending with a
 * letter or digit, no `--`, at most {@link MAX_KEYSPACE_LENGTH} characters. `:` separates the keyspace
 * from the rest of a key and glob or hash-tag characters (`* ? [ ] { }`) would change which keys the
 * ACL pattern `~<keyspace>:*` covers, so such keyspaces are refused, naming the canonical form,
 * instead of being rewritten silently.
 */
export function keyspaceProblem(raw: string): string | undefined {
  const canonical = normalizeKeyspace(raw);
  if (canonical === raw && raw.length > 0) return undefined;
  const fix = canonical.length > 0 ? `; use "${canonical}"` : "";
  return `keyspace ${JSON.stringify(raw.slice(0, 80))} is not allowed${fix}: only lowercase letters, digits, "-", "_" and ".", a letter or digit first and last, at most ${MAX_KEYSPACE_LENGTH} characters (":" separates a key's keyspace from the rest, and * ? [ ] { } would change which keys the ACL covers)`;
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
