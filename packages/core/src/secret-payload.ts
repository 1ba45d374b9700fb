/**
 * The one shape every service secret has, in Secrets Manager, in a local secret file or inline in
 * `REDIS_SECRET`. This module has no dependencies so that the runtime client can import it through
 * `@cacheplane/core/secret` without pulling the config schema into a Lambda bundle.
 */

/** What a service needs to connect to the shared cache. */
export interface SecretPayload {
  host: string;
  port: number;
  username: string;
  /**
   * The current password. Never log it. Empty for `auth: "iam"` secrets without one (the client then
   * authenticates with IAM tokens and never sends it).
   */
  password: string;
  /** Keys are prefixed `<keyspace>:`; the user may only touch keys in it (and any shared keyspaces). */
  keyspace: string;
  /** TLS is on unless the secret says `false`. */
  tls: boolean;
  /** Cluster mode (ElastiCache Serverless and Redis Cluster). Default false. */
  cluster?: boolean;
  /** Shared keyspaces this user may also touch, e.g. `["common"]`. */
  sharedKeyspaces?: string[];
  /** During rotation: the password that is being replaced, still valid until `rotate --finish`. */
  previousPassword?: string;
  /** Engine of the cache, informational. */
  engine?: "valkey" | "redis";
  /**
   * How the service authenticates: `password` (the default) or `iam` (ElastiCache IAM auth tokens;
   * `createCache()` then signs a token instead of sending `password`).
   */
  auth?: "password" | "iam";
  /**
   * ARN of the ElastiCache user (snake case, as Secrets Manager's ElastiCache rotation expects it).
   * Present in secrets of services whose password rotates on AWS.
   */
  user_arn?: string;
}

/** A secret that is missing fields or has fields of the wrong type. The message never holds a password. */
export class SecretPayloadError extends Error {
  override readonly name = "SecretPayloadError";
  constructor(
    message: string,
    /** The fields at fault, e.g. `["port"]`. */
    readonly fields: string[],
    /** Where the secret came from (ARN, file path, `REDIS_SECRET`), never its value. */
    readonly source?: string,
  ) {
    super(message);
  }
}

const hostPattern = /^[A-Za-z0-9.\-:[\]]+$/;

/**
 * Validates an unknown value (already JSON-parsed, or a JSON string) as a {@link SecretPayload}.
 * Accepts `port` as a number or numeric string and `tls` as a boolean or `"true"`/`"false"`.
 * @throws SecretPayloadError naming every bad field; the password is never part of the message.
 */
export function parseSecretPayload(input: unknown, source?: string): SecretPayload {
  const where = source ? ` in ${source}` : "";
  let value = input;
  if (typeof value === "string") {
    try {
      value = JSON.parse(value);
    } catch {
      throw new SecretPayloadError(`Redis secret${where} is not valid JSON`, ["(json)"], source);
    }
  }
  if (typeof value !== "object" || value === null || Array.isArray(value)) {
    throw new SecretPayloadError(`Redis secret${where} must be a JSON object`, ["(root)"], source);
  }
  const raw = value as Record<string, unknown>;
  const problems: string[] = [];
  const fields: string[] = [];
  const bad = (field: string, why: string) => {
    fields.push(field);
    problems.push(`${field}: ${why}`);
  };

  const host = raw.host;
  if (typeof host !== "string" || host.length === 0) bad("host", "is required (a hostname or IP)");
  else if (!hostPattern.test(host)) bad("host", "must be a hostname or IP address");

  let port = raw.port;
  if (typeof port === "string" && /^\d+$/.test(port)) port = Number(port);
  if (port === undefined) bad("port", "is required (e.g. 6379)");
  else if (typeof port !== "number" || !Number.isInteger(port) || port < 1 || port > 65535)
    bad("port", "must be an integer from 1 to 65535");

  const username = raw.username;
  if (typeof username !== "string" || username.length === 0) bad("username", "is required");

  const auth = raw.auth;
  if (auth !== undefined && auth !== "password" && auth !== "iam") bad("auth", 'must be "password" or "iam"');

  let password = raw.password;
  if (auth === "iam" && password === undefined) password = "";
  if (typeof password !== "string" || (password.length === 0 && auth !== "iam"))
    bad("password", "is required (value not shown)");

  const keyspace = raw.keyspace;
  if (typeof keyspace !== "string" || keyspace.length === 0) bad("keyspace", "is required");
  else if (/[*?[\]\\:\s]/.test(keyspace)) bad("keyspace", "must not contain glob characters, ':' or spaces");

  let tls: unknown = raw.tls;
  if (tls === undefined) tls = true;
  if (tls === "true") tls = true;
  if (tls === "false") tls = false;
  if (typeof tls !== "boolean") bad("tls", "must be true or false");

  const cluster = raw.cluster;
  if (cluster !== undefined && typeof cluster !== "boolean") bad("cluster", "must be true or false");

  const shared = raw.sharedKeyspaces;
  if (shared !== undefined && (!Array.isArray(shared) || shared.some((s) => typeof s !== "string")))
    bad("sharedKeyspaces", "must be an array of strings");

  const previous = raw.previousPassword;
  if (previous !== undefined && typeof previous !== "string")
    bad("previousPassword", "must be a string (value not shown)");

  const engine = raw.engine;
  if (engine !== undefined && engine !== "valkey" && engine !== "redis")
    bad("engine", 'must be "valkey" or "redis"');

  const userArn = raw.user_arn;
  if (userArn !== undefined && (typeof userArn !== "string" || !/^arn:[^:]+:elasticache:/.test(userArn)))
    bad(
      "user_arn",
      "must be the ARN of an ElastiCache user (arn:aws:elasticache:<region>:<account>:user:<id>)",
    );

  if (problems.length > 0) {
    throw new SecretPayloadError(`Redis secret${where} is invalid: ${problems.join("; ")}`, fields, source);
  }
  const payload: SecretPayload = {
    host: host as string,
    port: port as number,
    username: username as string,
    password: password as string,
    keyspace: keyspace as string,
    tls: tls as boolean,
  };
  if (cluster !== undefined) payload.cluster = cluster as boolean;
  if (shared !== undefined) payload.sharedKeyspaces = shared as string[];
  if (previous !== undefined) payload.previousPassword = previous as string;
  if (engine !== undefined) payload.engine = engine as "valkey" | "redis";
  if (auth !== undefined) payload.auth = auth as "password" | "iam";
  if (userArn !== undefined) payload.user_arn = userArn as string;
  return payload;
}

/** A copy safe to print: passwords replaced by `***`. */
export function redactSecret(payload: SecretPayload): Omit<SecretPayload, "password"> & { password: "***" } {
  const copy = { ...payload, password: "***" as const };
  if (copy.previousPassword !== undefined) copy.previousPassword = "***";
  return copy;
}
