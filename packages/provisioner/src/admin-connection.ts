/**
 * One admin connection to one Redis/Valkey node. ACL state is per node, so the Redis target keeps one
 * of these per node (standalone: one; cluster: every master and replica). Every failure becomes a
 * {@link TargetError} naming the node and the command (never its arguments), with the server's message
 * redacted; the ioredis error itself (which carries the command's arguments) is dropped.
 */
import type { ConnectionOptions } from "node:tls";
import { Redis } from "ioredis";
import { formatAddress, type NodeAddress } from "./admin-url.js";
import { TargetError } from "./errors.js";
import { redactedMessage } from "./redaction.js";

/** How to reach and authenticate to one node. */
export interface AdminConnectionSettings {
  address: NodeAddress;
  username?: string;
  password?: string;
  /** TLS socket options (`ca`, `rejectUnauthorized`, `servername`); undefined for plain TCP. */
  tls?: ConnectionOptions;
  /** @default 5000 */
  connectTimeoutMs?: number;
  /** Budget of one command. @default 15000 */
  commandTimeoutMs?: number;
}

/** Hints appended to messages by the server's error code or socket error. */
function hintFor(message: string, settings: AdminConnectionSettings): string {
  if (/WRONGPASS|invalid password|invalid username-password/i.test(message))
    return " Check the admin user name and password in the admin URL.";
  if (/NOAUTH/i.test(message))
    return " The server requires authentication: put user:password in the admin URL.";
  if (/NOPERM/i.test(message))
    return ` The admin user${settings.username ? ` "${settings.username}"` : ""} lacks a permission; it needs ACL and CLUSTER NODES (e.g. +@admin or +@all).`;
  if (/ECONNREFUSED/i.test(message)) return " Is the server running, and are host and port right?";
  // A TLS-only port drops a plain connection during the handshake (write ECONNRESET, EPIPE, closed).
  if (!settings.tls && /ECONNRESET|EPIPE|Connection is closed|socket hang up/i.test(message))
    return " The server closed the connection at once: it may want TLS; use rediss:// instead of redis:// in the admin URL.";
  if (/ENOTFOUND|EAI_AGAIN/i.test(message)) return " The host name does not resolve.";
  if (/ETIMEDOUT|timed? ?out/i.test(message))
    return " The node did not answer in time: check the network path, security groups and TLS settings.";
  if (/certificate|self[- ]signed|SSL|TLS/i.test(message))
    return " TLS failed: pass the CA (tls.ca) or check that the URL scheme (rediss://) matches the server.";
  return "";
}

/** An open, authenticated admin connection to one node. */
export class AdminConnection {
  /** `host:port` of the node. */
  readonly address: string;
  private readonly secrets: (string | undefined)[];

  private constructor(
    private readonly client: Redis,
    private readonly settings: AdminConnectionSettings,
  ) {
    this.address = formatAddress(settings.address);
    this.secrets = [settings.password];
  }

  /**
   * Connects and authenticates (AUTH happens on connect), then checks the connection with PING.
   * @throws TargetError naming the node, with a hint (wrong password, refused, TLS, timeout).
   */
  static async open(settings: AdminConnectionSettings): Promise<AdminConnection> {
    let lastError: unknown;
    const client = new Redis({
      host: settings.address.host,
      port: settings.address.port,
      ...(settings.username !== undefined ? { username: settings.username } : {}),
      ...(settings.password !== undefined ? { password: settings.password } : {}),
      ...(settings.tls ? { tls: settings.tls } : {}),
      lazyConnect: true,
      enableReadyCheck: false,
      enableOfflineQueue: false,
      autoResubscribe: false,
      maxRetriesPerRequest: 0,
      retryStrategy: () => null,
      connectTimeout: settings.connectTimeoutMs ?? 5_000,
      commandTimeout: settings.commandTimeoutMs ?? 15_000,
      connectionName: "cacheplane-provisioner",
    });
    client.on("error", (error: unknown) => {
      lastError = error;
    });
    const connection = new AdminConnection(client, settings);
    try {
      await client.connect();
      await client.ping();
    } catch (error) {
      client.disconnect();
      const reason = redactedMessage(lastError ?? error, connection.secrets);
      throw new TargetError(
        `Cannot connect to ${connection.address}: ${sentence(reason)}${hintFor(reason, settings)}`,
        { node: connection.address, serverMessage: reason },
      );
    }
    return connection;
  }

  /**
   * Sends one command. `secrets` are extra strings to keep out of error messages (passwords in the
   * arguments). Errors name the command (`ACL SETUSER`), never its arguments.
   */
  async call(args: readonly string[], secrets: readonly string[] = []): Promise<unknown> {
    const [command, ...rest] = args;
    if (command === undefined) throw new TargetError("empty command");
    try {
      return await this.client.call(command, ...rest);
    } catch (error) {
      throw this.failure(args, error, secrets);
    }
  }

  /**
   * Runs `commands` in one MULTI/EXEC (atomically: nothing else runs in between) and returns their
   * replies. A command that fails inside the transaction fails the whole call.
   */
  async transaction(commands: readonly (readonly string[])[]): Promise<unknown[]> {
    const multi = this.client.multi();
    for (const [command, ...args] of commands) multi.call(command!, ...args);
    let results: [Error | null, unknown][] | null;
    try {
      results = await multi.exec();
    } catch (error) {
      throw this.failure(["MULTI"], error);
    }
    if (!results) throw this.failure(["EXEC"], new Error("transaction aborted"));
    return results.map(([error, reply], i) => {
      if (error) throw this.failure(commands[i]!, error);
      return reply;
    });
  }

  /** The TargetError for `error` raised by `args`, redacted. */
  failure(args: readonly string[], error: unknown, secrets: readonly string[] = []): TargetError {
    const name = commandName(args);
    const reason = redactedMessage(error, [...this.secrets, ...secrets]);
    return new TargetError(
      `${name} failed on ${this.address}: ${sentence(reason)}${hintFor(reason, this.settings)}`,
      {
        node: this.address,
        serverMessage: reason,
      },
    );
  }

  /** Closes the connection (QUIT, or a disconnect when the node does not answer). */
  async close(): Promise<void> {
    if (this.client.status === "end") return;
    try {
      await this.client.quit();
    } catch {
      this.client.disconnect();
    }
  }
}

/** `text` ending in exactly one period. */
function sentence(text: string): string {
  return `${text.trim().replace(/[.\s]+$/, "")}.`;
}

/** `ACL SETUSER`, `CLUSTER NODES`, `CONFIG GET`: the command and, for container commands, its subcommand. */
export function commandName(args: readonly string[]): string {
  const [command = "", sub] = args;
  const upper = command.toUpperCase();
  return ["ACL", "CLUSTER", "CONFIG", "CLIENT"].includes(upper) && sub !== undefined
    ? `${upper} ${sub.toUpperCase()}`
    : upper;
}
