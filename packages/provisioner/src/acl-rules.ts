/**
 * Reading `ACL LIST` lines and comparing users' rules. The canonical form of a user's access is its
 * `ACL LIST` line without `user <name>` and without password hashes (`#<sha256>`): the on/off flag,
 * `nopass` if set (a hand-made `nopass` is drift), `sanitize-payload`, key and channel patterns and
 * command rules exactly as the server spells them.
 */

/** Prefix of the short-lived users `canonicalizeAccess` creates; never a service user id (those are alphanumeric). */
export const PROBE_USER_PREFIX = "cacheplane-probe-";

/** One user as `ACL LIST` describes it. */
export interface AclUserEntry {
  name: string;
  /** Canonical access: the rules without `user <name>` and without `#<hash>` passwords. */
  access: string;
  /** SHA-256 hex of the user's passwords. */
  passwordHashes: string[];
}

const HASH_TOKEN = /^#[0-9a-f]{64}$/i;

/** Parses one `ACL LIST` line (`user <name> <rules...>`); undefined for anything else. */
export function parseAclListLine(line: string): AclUserEntry | undefined {
  const tokens = line.trim().split(/\s+/);
  if (tokens[0] !== "user" || tokens.length < 2) return undefined;
  const name = tokens[1]!;
  const rules: string[] = [];
  const passwordHashes: string[] = [];
  for (const token of tokens.slice(2)) {
    if (HASH_TOKEN.test(token)) passwordHashes.push(token.slice(1).toLowerCase());
    else rules.push(token);
  }
  return { name, access: rules.join(" "), passwordHashes };
}

/** Parses a whole `ACL LIST` reply into entries by user name. */
export function parseAclList(reply: unknown): Map<string, AclUserEntry> {
  const users = new Map<string, AclUserEntry>();
  if (!Array.isArray(reply)) return users;
  for (const line of reply) {
    const entry = parseAclListLine(String(line));
    if (entry) users.set(entry.name, entry);
  }
  return users;
}

/**
 * Whether rules leave a user enabled, read left to right the way `ACL SETUSER <u> reset <rules>`
 * applies them: `on` enables, `off` and `reset` disable, and a reset user starts disabled.
 */
export function declaresEnabled(accessString: string): boolean {
  let enabled = false;
  for (const token of accessString.trim().toLowerCase().split(/\s+/)) {
    if (token === "on") enabled = true;
    else if (token === "off" || token === "reset") enabled = false;
  }
  return enabled;
}

/** Replaces the leading on/off flag of a canonical access string. */
export function withEnabledFlag(canonicalAccess: string, enabled: boolean): string {
  const rest = canonicalAccess.replace(/^(on|off)(\s+|$)/, "");
  return [enabled ? "on" : "off", rest].filter((s) => s.length > 0).join(" ");
}

/**
 * True when an access string carries password rules (`>pw`, `<pw`, `#hash`, `!hash`, `nopass`).
 * Passwords come from the service's secret only, so such strings are refused (without echoing them).
 */
export function hasCredentialRule(accessString: string): boolean {
  return accessString
    .trim()
    .split(/\s+/)
    .some((token) => /^[<>#!]/.test(token) || token.toLowerCase() === "nopass");
}

/** The rule tokens of an access string, for `ACL SETUSER`. */
export function ruleTokens(accessString: string): string[] {
  return accessString
    .trim()
    .split(/\s+/)
    .filter((t) => t.length > 0);
}

/**
 * True when two rule strings hold the same rules, ignoring order. Exact for the server's canonical
 * descriptions (`ACL LIST`), which name each command once; used to compare a user with the node's
 * canonical spelling of its declared rules, and nodes with each other.
 */
export function sameRulesIgnoringOrder(a: string, b: string): boolean {
  return ruleTokens(a).sort().join(" ") === ruleTokens(b).sort().join(" ");
}
