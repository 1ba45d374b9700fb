/**
 * Keeping secrets out of text that leaves the process (logs, errors, CLI output, HTTP responses).
 * One implementation for every package: the provisioner, the CLI and the gateway register the
 * passwords and tokens they handle and pass outgoing text through `redact`.
 */

/** What a secret is replaced with. */
export const REDACTED = "***";

/** Shorter strings are never treated as secrets: masking them would mangle ordinary words. */
export const MIN_SECRET_LENGTH = 4;

const URL_USER_INFO = /\b([a-z][a-z0-9+.-]*:\/\/)([^@/\s]*)@/gi;
const ACL_PASSWORD_RULE = /(^|\s|')([<>])[^\s']+/g;
const PLACEHOLDER = /^<[a-z-]+>$/;

/**
 * `text` with the password of every URL replaced: `redis://admin:***@host:6379`; user info without a
 * colon (a bare token) becomes `***@`. Placeholders such as `<password>` in hints are kept.
 */
export function redactUrl(text: string): string {
  return text.replace(URL_USER_INFO, (all, scheme: string, userInfo: string) => {
    const colon = userInfo.indexOf(":");
    if (colon === -1)
      return userInfo.length > 0 && !PLACEHOLDER.test(userInfo) ? `${scheme}${REDACTED}@` : all;
    const password = userInfo.slice(colon + 1);
    if (password.length === 0 || PLACEHOLDER.test(password)) return all;
    return `${scheme}${userInfo.slice(0, colon)}:${REDACTED}@`;
  });
}

export interface RedactOptions {
  /** Also mask ACL password rules (`>password`, `<password`) as in an `ACL SETUSER` line. @default false */
  aclPasswordRules?: boolean;
}

function safeDecode(value: string): string {
  try {
    return decodeURIComponent(value);
  } catch {
    return value;
  }
}

/** The forms a secret may appear in: as is, URL-encoded and URL-decoded. */
function variants(secret: string): string[] {
  return [secret, encodeURIComponent(secret), safeDecode(secret)].filter(
    (v) => v.length >= MIN_SECRET_LENGTH,
  );
}

/**
 * `text` without any of `secrets` (in plain, URL-encoded or decoded form) and without URL passwords.
 * Longer secrets are replaced first, so one that contains another is masked whole.
 */
export function redact(
  text: string,
  secrets: Iterable<string | undefined> = [],
  options: RedactOptions = {},
): string {
  let out = redactUrl(text);
  if (options.aclPasswordRules) out = out.replace(ACL_PASSWORD_RULE, `$1$2${REDACTED}`);
  const all = [...secrets]
    .filter((s): s is string => typeof s === "string" && s.length >= MIN_SECRET_LENGTH)
    .flatMap(variants)
    .sort((a, b) => b.length - a.length);
  for (const secret of all) if (out.includes(secret)) out = out.split(secret).join(REDACTED);
  return out;
}

/** The message of anything thrown, redacted. */
export function redactedMessage(
  error: unknown,
  secrets: Iterable<string | undefined> = [],
  options: RedactOptions = {},
): string {
  return redact(error instanceof Error ? error.message : String(error), secrets, options);
}

/** A growing set of secrets and a `redact` that masks them (and URL passwords) in any text. */
export class Redactor {
  private readonly secrets = new Set<string>();

  constructor(private readonly options: RedactOptions = {}) {}

  /** Remembers secrets; they are masked in all later text. Strings under 4 characters are ignored. */
  add(...values: (string | undefined)[]): void {
    for (const value of values)
      if (value !== undefined && value.length >= MIN_SECRET_LENGTH) this.secrets.add(value);
  }

  /** `text` with every registered secret and every URL password replaced by `***`. */
  redact(text: string): string {
    return redact(text, this.secrets, this.options);
  }
}
