/**
 * Keeping secrets out of messages: every error text that may contain something a server or a socket
 * said goes through {@link redact} before it reaches a message, a log or a stack trace.
 */

const URL_CREDENTIALS = /\b([a-z][a-z0-9+.-]*:\/\/)([^@/\s]*)@/gi;
const ACL_PASSWORD_RULE = /(^|\s|')([<>])[^\s']+/g;

/** A URL with its password (and any user info beyond the user name) replaced by `***`. */
export function redactUrl(url: string): string {
  return url.replace(URL_CREDENTIALS, (_all, scheme: string, userInfo: string) => {
    const colon = userInfo.indexOf(":");
    const user = colon === -1 ? userInfo : userInfo.slice(0, colon);
    return colon === -1 && user.length > 0 ? `${scheme}***@` : `${scheme}${user}:***@`;
  });
}

/**
 * `text` without any of `secrets`, without URL credentials and without ACL password rules
 * (`>password`, `<password`). Secrets shorter than 4 characters are left alone (they would mangle
 * ordinary words, and no generated or admin password is that short).
 */
export function redact(text: string, secrets: Iterable<string | undefined> = []): string {
  let out = redactUrl(text).replace(ACL_PASSWORD_RULE, "$1$2***");
  const sorted = [...secrets]
    .filter((s): s is string => typeof s === "string" && s.length >= 4)
    .sort((a, b) => b.length - a.length);
  for (const secret of sorted) {
    out = out.split(secret).join("***");
    const encoded = encodeURIComponent(secret);
    if (encoded !== secret) out = out.split(encoded).join("***");
  }
  return out;
}

/** The message of anything thrown, redacted. */
export function redactedMessage(error: unknown, secrets: Iterable<string | undefined> = []): string {
  const message = error instanceof Error ? error.message : String(error);
  return redact(message, secrets);
}
