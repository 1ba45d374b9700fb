/**
 * Typed errors of the provisioner. Every message says what failed, where (node address, file, service)
 * and what to do; none ever holds a password, a token or an admin URL with credentials. Errors from
 * the Redis client are never attached as `cause` (ioredis keeps the command's arguments, passwords
 * included, on its errors): their message is redacted and copied into `serverMessage` instead.
 */

/** Base class of every error this package throws on purpose. */
export class ProvisionerError extends Error {
  override readonly name: string = "ProvisionerError";
}

/** A Redis/Valkey node refused or failed an operation, or could not be reached. */
export class TargetError extends ProvisionerError {
  override readonly name = "TargetError";
  constructor(
    message: string,
    readonly details: {
      /** `host:port` of the node at fault, when one is. Never carries credentials. */
      node?: string;
      /** The server's (or socket's) own message, redacted, e.g. `WRONGPASS invalid username-password pair`. */
      serverMessage?: string;
    } = {},
  ) {
    super(message);
  }

  /** `host:port` of the node at fault. */
  get node(): string | undefined {
    return this.details.node;
  }

  /** The server's message, redacted. */
  get serverMessage(): string | undefined {
    return this.details.serverMessage;
  }
}

/** A password rotation cannot start or finish (no secret, user missing, ...). */
export class RotationError extends ProvisionerError {
  override readonly name = "RotationError";
  constructor(
    message: string,
    /** The service being rotated. */
    readonly service: string,
  ) {
    super(message);
  }
}

/** A secret store cannot read or write a secret (unreadable file, bad JSON, permissions). */
export class SecretStoreError extends ProvisionerError {
  override readonly name = "SecretStoreError";
  constructor(
    message: string,
    /** Where the secret is (file path, secret name), never its value. */
    readonly location?: string,
  ) {
    super(message);
  }
}

/** One command a service's user could run on one node although it must be denied. */
export interface AccessViolation {
  service: string;
  userId: string;
  /** `host:port`. */
  node: string;
  /** `client|tracking`, `flushall`. */
  command: string;
  /** Why the command must be denied. */
  reason: string;
}

/**
 * The server would let a service run commands its access must deny (verified with `ACL DRYRUN` before
 * anything is written). Nothing was applied. Each violation names the service, the node and the command.
 */
export class AccessVerificationError extends ProvisionerError {
  override readonly name = "AccessVerificationError";
  constructor(readonly violations: readonly AccessViolation[]) {
    const lines = violations
      .slice(0, 20)
      .map(
        (v) =>
          `  - service "${v.service}" (user ${v.userId}) may run ${v.command.replace("|", " ").toUpperCase()} on ${v.node}: ${v.reason}`,
      );
    if (violations.length > 20) lines.push(`  - ... and ${violations.length - 20} more`);
    super(
      `Refusing to apply: ${violations.length} command${violations.length === 1 ? "" : "s"} that must be denied would be allowed ` +
        `(checked with ACL DRYRUN on the server; nothing was changed):\n${lines.join("\n")}\n` +
        "Remove the grants from the service's access, or set allowDangerous: true on it if this is intended. " +
        "If the service's config grants none of these, the server's command categories differ from what " +
        "Cacheplane expects: report it, and do not apply until it is fixed.",
    );
  }
}
