/**
 * ElastiCache IAM authentication: the password is a SigV4 query-presigned request
 * `GET http://{cacheName}/?Action=connect&User={userId}[&ResourceType=ServerlessCache]` (service
 * `elasticache`), with `http://` stripped. A token is valid at most 15 minutes (900 s, the cap); a
 * connection authenticated with it is dropped by ElastiCache after 12 hours unless it authenticates
 * again (AUTH with a fresh token; see `iam-reauth.ts`). The provider caches the token and builds a
 * new one before it expires.
 */
import type { SecretPayload } from "@cacheplane/core/secret";
import { CacheConfigError } from "./errors.js";

export interface AwsCredentials {
  accessKeyId: string;
  secretAccessKey: string;
  sessionToken?: string;
  expiration?: Date;
}

export interface IamAuthOptions {
  /** Replication group id or serverless cache name (lower case), the host of the signed request. */
  cacheName: string;
  /** The ElastiCache user id (also the Redis username). */
  userId: string;
  /** Default `AWS_REGION`. */
  region?: string;
  /**
   * Adds `ResourceType=ServerlessCache`, which ElastiCache Serverless requires. `false` for a
   * node-based replication group. @default true (Cacheplane platforms are serverless caches)
   */
  serverless?: boolean;
  /** Credentials or a provider. Default: the Lambda environment's `AWS_ACCESS_KEY_ID`/`AWS_SECRET_ACCESS_KEY`/`AWS_SESSION_TOKEN`. */
  credentials?: AwsCredentials | (() => Promise<AwsCredentials>);
  /** Token validity in seconds, capped at 900 (ElastiCache's maximum). Default 900. */
  expiresIn?: number;
  /** Seconds before expiry at which a new token is built. Default 120. */
  refreshBefore?: number;
  /** Clock (epoch ms) for tests. */
  now?: () => number;
}

/** ElastiCache accepts IAM tokens valid for at most 15 minutes. */
export const MAX_TOKEN_SECONDS = 900;

function envCredentials(): AwsCredentials {
  const accessKeyId = process.env.AWS_ACCESS_KEY_ID;
  const secretAccessKey = process.env.AWS_SECRET_ACCESS_KEY;
  if (!accessKeyId || !secretAccessKey) {
    throw new CacheConfigError(
      "IAM auth needs AWS credentials: set AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY (present in Lambda) or pass `credentials`",
      ["credentials"],
    );
  }
  const sessionToken = process.env.AWS_SESSION_TOKEN;
  return sessionToken ? { accessKeyId, secretAccessKey, sessionToken } : { accessKeyId, secretAccessKey };
}

/** Builds and caches ElastiCache IAM auth tokens. */
export class IamAuthTokenProvider {
  readonly userId: string;
  /** The clock tokens are signed and aged with (epoch ms); re-authentication uses it too. */
  readonly now: () => number;
  private readonly options: IamAuthOptions;
  private token: string | undefined;
  private builtAt = 0;
  private pending: Promise<string> | undefined;

  constructor(options: IamAuthOptions) {
    if (!options.cacheName)
      throw new CacheConfigError("iamAuth.cacheName is required", ["iamAuth.cacheName"]);
    if (!options.userId) throw new CacheConfigError("iamAuth.userId is required", ["iamAuth.userId"]);
    this.options = options;
    this.userId = options.userId;
    this.now = options.now ?? Date.now;
  }

  /** Token validity in seconds: the option, capped at 900 s (ElastiCache refuses longer ones). */
  get expiresIn(): number {
    return Math.max(1, Math.min(MAX_TOKEN_SECONDS, Math.floor(this.options.expiresIn ?? MAX_TOKEN_SECONDS)));
  }

  /** Whether the cached token is too old to use for a new connection. */
  needsRefresh(): boolean {
    if (!this.token) return true;
    const refreshBefore = Math.min(this.options.refreshBefore ?? 120, this.expiresIn - 1);
    return this.now() - this.builtAt >= (this.expiresIn - refreshBefore) * 1000;
  }

  /** The last token built, possibly near expiry (for synchronous reconnect hooks). */
  peek(): string | undefined {
    return this.token;
  }

  /** A token valid for at least `refreshBefore` seconds. */
  async getToken(): Promise<string> {
    if (!this.needsRefresh() && this.token) return this.token;
    if (!this.pending) {
      this.pending = this.build().finally(() => {
        this.pending = undefined;
      });
    }
    return this.pending;
  }

  private async build(): Promise<string> {
    const { cacheName, userId } = this.options;
    const region = this.options.region ?? process.env.AWS_REGION ?? process.env.AWS_DEFAULT_REGION;
    if (!region)
      throw new CacheConfigError("IAM auth needs a region (option or AWS_REGION)", ["iamAuth.region"]);
    const credentials =
      typeof this.options.credentials === "function"
        ? await this.options.credentials()
        : (this.options.credentials ?? envCredentials());
    // Loaded on first use: services without IAM auth do not pay for the signer at cold start.
    const [{ SignatureV4 }, { Sha256 }] = await Promise.all([
      import("@smithy/signature-v4"),
      import("@aws-crypto/sha256-js"),
    ]);
    const signer = new SignatureV4({ service: "elasticache", region, credentials, sha256: Sha256 });
    const query: Record<string, string> = { Action: "connect", User: userId };
    if (this.options.serverless !== false) query.ResourceType = "ServerlessCache";
    const signingTime = this.now();
    const signed = await signer.presign(
      {
        method: "GET",
        protocol: "http:",
        hostname: cacheName,
        path: "/",
        query,
        headers: { host: cacheName },
      },
      { expiresIn: this.expiresIn, signingDate: new Date(signingTime) },
    );
    const params = Object.entries(signed.query ?? {})
      .flatMap(([name, value]) => (Array.isArray(value) ? value.map((v) => [name, v]) : [[name, value]]))
      .filter((pair): pair is [string, string] => typeof pair[1] === "string")
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
      .map(([name, value]) => `${rfc3986(name)}=${rfc3986(value)}`)
      .join("&");
    this.token = `${cacheName}/?${params}`;
    this.builtAt = signingTime;
    return this.token;
  }
}

function rfc3986(text: string): string {
  return encodeURIComponent(text).replace(
    /[!'()*]/g,
    (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`,
  );
}

function nonEmpty(value: string | undefined): string | undefined {
  return value === undefined || value.trim() === "" ? undefined : value;
}

/**
 * The IAM token provider the environment asks for (`REDIS_AUTH_MODE=iam`, or `auth: "iam"` in the
 * secret), built from `REDIS_IAM_*`; undefined for password auth.
 * @throws CacheConfigError when IAM auth is asked for without a cache name.
 */
export function iamAuthFromEnv(
  env: Record<string, string | undefined>,
  payload: SecretPayload,
): IamAuthTokenProvider | undefined {
  const mode = nonEmpty(env.REDIS_AUTH_MODE)?.trim().toLowerCase();
  if (mode !== undefined && mode !== "iam" && mode !== "password") {
    throw new CacheConfigError(`REDIS_AUTH_MODE must be iam or password (got "${env.REDIS_AUTH_MODE}")`, [
      "REDIS_AUTH_MODE",
    ]);
  }
  if (mode === "password" || (mode === undefined && payload.auth !== "iam")) return undefined;
  const cacheName = nonEmpty(env.REDIS_IAM_CACHE_NAME);
  if (!cacheName) {
    throw new CacheConfigError(
      "IAM auth needs the cache name: set REDIS_IAM_CACHE_NAME to the ElastiCache serverless cache name " +
        "(ServiceCacheAccess sets it) or pass the `iamAuth` option",
      ["REDIS_IAM_CACHE_NAME"],
    );
  }
  return new IamAuthTokenProvider({
    cacheName,
    userId: nonEmpty(env.REDIS_IAM_USER_ID) ?? payload.username,
    serverless: nonEmpty(env.REDIS_IAM_SERVERLESS)?.trim().toLowerCase() !== "false",
    ...(nonEmpty(env.AWS_REGION) ? { region: env.AWS_REGION } : {}),
    ...(env !== process.env && env.AWS_ACCESS_KEY_ID && env.AWS_SECRET_ACCESS_KEY
      ? {
          credentials: {
            accessKeyId: env.AWS_ACCESS_KEY_ID,
            secretAccessKey: env.AWS_SECRET_ACCESS_KEY,
            ...(env.AWS_SESSION_TOKEN ? { sessionToken: env.AWS_SESSION_TOKEN } : {}),
          },
        }
      : {}),
  });
}
