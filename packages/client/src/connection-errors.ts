/**
 * Connection failures in words an operator can act on. ioredis reports what the socket saw (`write
 * ECONNRESET`, `self-signed certificate`, `connect ECONNREFUSED`); these functions add what it
 * probably means and what to change: a plain connection to a TLS-only port is dropped during the
 * handshake ("the server may want TLS"), a TLS connection to a plain port fails its handshake, an
 * unknown CA needs the CA file, and so on. Messages never contain a password: they are built from
 * the socket's or the server's words only.
 */

/** What the connection looked like, for the hint. */
export interface ConnectionContext {
  /** Whether the connection used TLS (the secret's `tls`). */
  tls: boolean;
  /** How to turn TLS on or off where the caller is (default: the secret's `tls` field). */
  tlsSetting?: string;
  /** How to pass the CA where the caller is (e.g. `--tls-ca <file>`; default: the `tls.ca` option). */
  caSetting?: string;
}

/** The socket's or server's message of `error` (first line only: ioredis may append more). */
export function errorMessage(error: unknown): string {
  const message = error instanceof Error ? error.message : String(error);
  return message.split("\n")[0] ?? "";
}

/** True when `message` looks like a plain-TCP connection dropped by a TLS-only server. */
function droppedAtOnce(message: string): boolean {
  return /ECONNRESET|EPIPE|Connection is closed|socket hang up/i.test(message);
}

/**
 * A hint for a failed connection (starting with a space), or `""` when there is nothing to add.
 *
 * @example
 * connectionHint("write ECONNRESET", { tls: false })
 * // " (the server closed the connection at once: it may want TLS; set tls: true in the secret, or use rediss://)"
 */
export function connectionHint(message: string, context: ConnectionContext): string {
  const tlsSetting = context.tlsSetting ?? "tls: true in the secret, or use rediss://";
  if (/WRONGPASS|invalid username-password/i.test(message))
    return " (wrong password, unknown user or user disabled; was the password rotated?)";
  if (/NOAUTH/i.test(message)) return " (the server requires a password)";
  if (/ECONNREFUSED/i.test(message)) return " (is the server running, and are host and port right?)";
  if (/ENOTFOUND|EAI_AGAIN/i.test(message)) return " (the host name does not resolve)";
  if (!context.tls && droppedAtOnce(message))
    return ` (the server closed the connection at once: it may want TLS; set ${tlsSetting})`;
  if (context.tls && /self[- ]signed|unable to (verify|get local issuer)|certificate/i.test(message))
    return ` (pass ${context.caSetting ?? "the CA that signed the server's certificate as the tls.ca option"})`;
  if (context.tls && /wrong version|packet length|EPROTO|ssl|tls|closed|ECONNRESET/i.test(message))
    return " (TLS handshake failed: does the server speak TLS on this port? the secret says tls: true)";
  if (/ETIMEDOUT|timed? ?out/i.test(message))
    return " (no answer in time: check the network path, security groups and the TLS setting)";
  return "";
}

/** `message` of `error` followed by its hint. */
export function describeConnectionError(error: unknown, context: ConnectionContext): string {
  const message = errorMessage(error);
  return `${message}${connectionHint(message, context)}`;
}
