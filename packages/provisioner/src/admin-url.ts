/** Admin connection URLs: `redis://user:password@host:port` and `rediss://...` (TLS). */
import { TargetError } from "./errors.js";

/** A node's address. */
export interface NodeAddress {
  host: string;
  port: number;
}

/** What an admin URL says, split into parts. */
export interface AdminEndpoint extends NodeAddress {
  /** `undefined` authenticates with the password only (the `default` user). */
  username?: string;
  password?: string;
  /** True for `rediss://`. */
  tls: boolean;
}

const DEFAULT_PORT = 6379;

/** `host:port`, with IPv6 hosts in brackets. Never contains credentials. */
export function formatAddress(address: NodeAddress): string {
  return address.host.includes(":") ? `[${address.host}]:${address.port}` : `${address.host}:${address.port}`;
}

/**
 * Parses one admin URL. The port defaults to 6379; user name and password are percent-decoded.
 * @throws TargetError that never repeats the URL (it may hold a password), only its position.
 */
export function parseAdminUrl(url: string, position = 1): AdminEndpoint {
  const expected = "expected redis://user:password@host:port or rediss://user:password@host:port";
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    // Neither the URL nor the parser's error (which quotes its input) may appear in the message.
    throw new TargetError(`Admin URL #${position} is not a valid URL; ${expected}.`);
  }
  if (parsed.protocol !== "redis:" && parsed.protocol !== "rediss:") {
    throw new TargetError(
      `Admin URL #${position} has the scheme "${parsed.protocol.replace(/:$/, "")}"; ${expected}.`,
    );
  }
  const host = parsed.hostname.replace(/^\[(.*)\]$/, "$1");
  if (host.length === 0) throw new TargetError(`Admin URL #${position} has no host; ${expected}.`);
  const port = parsed.port === "" ? DEFAULT_PORT : Number(parsed.port);
  if (!Number.isInteger(port) || port < 1 || port > 65535) {
    throw new TargetError(`Admin URL #${position} has an invalid port; ${expected}.`);
  }
  const endpoint: AdminEndpoint = { host, port, tls: parsed.protocol === "rediss:" };
  try {
    if (parsed.username !== "") endpoint.username = decodeURIComponent(parsed.username);
    if (parsed.password !== "") endpoint.password = decodeURIComponent(parsed.password);
  } catch {
    throw new TargetError(
      `Admin URL #${position} (${formatAddress(endpoint)}) has badly percent-encoded credentials; encode special characters with encodeURIComponent.`,
      { node: formatAddress(endpoint) },
    );
  }
  return endpoint;
}
