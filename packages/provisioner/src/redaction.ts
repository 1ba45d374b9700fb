/**
 * Keeping secrets out of messages: every error text that may contain something a server or a socket
 * said goes through `redact` before it reaches a message, a log or a stack trace. The provisioner also
 * masks ACL password rules (`>password`), since it builds `ACL SETUSER` lines.
 */
import { redactedMessage as redactedText, redact as redactText } from "@cacheplane/core";

export { redactUrl } from "@cacheplane/core";

/** `text` without any of `secrets`, URL passwords or ACL password rules. */
export function redact(text: string, secrets: Iterable<string | undefined> = []): string {
  return redactText(text, secrets, { aclPasswordRules: true });
}

/** The message of anything thrown, redacted. */
export function redactedMessage(error: unknown, secrets: Iterable<string | undefined> = []): string {
  return redactedText(error, secrets, { aclPasswordRules: true });
}
