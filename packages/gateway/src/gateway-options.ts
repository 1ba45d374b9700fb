/** Options of `createGateway`, with their defaults. */
import type { ConnectionOptions } from "node:tls";
import type { SecretPayload } from "@cacheplane/core/secret";
import type { RedisOptions } from "ioredis";
import type { CorsOptions } from "./cors.js";
import type { OperatorOptions } from "./operator-view/view.js";
import type { GatewayService } from "./services.js";
import type { TokenSource } from "./token-verifier.js";

/** Size limits enforced before Redis is asked. */
export interface GatewayLimits {
  /** Largest request body, in bytes (413 beyond). @default 1048576 (1 MiB) */
  maxBodyBytes?: number;
  /** Most commands in one `/pipeline` or `/multi-exec` request (413 beyond). @default 1000 */
  maxPipelineCommands?: number;
  /** Open `/subscribe` streams per service (429 beyond). @default 100 */
  maxSubscriptionsPerService?: number;
}

/** One line of the gateway's log. Never holds tokens, passwords, keys or values. */
export interface GatewayLogEntry {
  level: "info" | "warn" | "error";
  /** `request` for each answered request, `redis` for connection events, `operator` for the operator view's sampling. */
  event: "request" | "redis" | "operator";
  /** Route type: `command`, `pipeline`, `multi-exec`, `path-command`, `subscribe`, `console`, ... */
  route?: string;
  method?: string;
  status?: number;
  service?: string;
  tokenKind?: string;
  /** Lowercase command names (no arguments). */
  commands?: string[];
  durationMs?: number;
  message?: string;
}

/**
 * The platform's scanner identity (`<secretsDir>/cacheplane-scanner.json`, provisioned by `cacheplane
 * apply`): a Redis user that may only SCAN. Namespaced tokens need it for KEYS, SCAN, DBSIZE and
 * FLUSHDB; the gateway always sends its SCAN with `MATCH <keyspace>:...`.
 */
export interface ScannerIdentity {
  secret: SecretPayload;
  /** Reads the secret again after an authentication failure (rotation). */
  reloadSecret?: () => Promise<SecretPayload>;
}

/** Options of `createGateway`. */
export interface GatewayOptions {
  /** The services served (see `loadGatewayServices`). Tokens of other services are refused. */
  services: readonly GatewayService[];
  /** Where token hashes come from: the registry file (`tokenRegistryPath(secretsDir)`) or records. */
  tokens: TokenSource;
  /** Longest a request waits for Redis (connecting plus running); 503 after it. @default 5000 */
  timeoutMs?: number;
  /** Request size limits. */
  limits?: GatewayLimits;
  /** TLS options for Redis connections whose secret has `tls: true` (e.g. `{ ca }`). @default system CAs */
  tls?: ConnectionOptions;
  /** Extra ioredis options for every connection (advanced). */
  redisOptions?: Partial<RedisOptions>;
  /** Browser origins allowed to call the API. @default none (same-origin only) */
  cors?: CorsOptions;
  /** Serve the browser console at `/console/`. @default true */
  console?: boolean;
  /**
   * Serve the operator view at `/operator/` (admin token only), sampled in the background with an
   * admin or observer connection to Redis. @default off
   */
  operator?: OperatorOptions;
  /** Path prefix the gateway is mounted under, e.g. `/redis`. @default "" */
  basePath?: string;
  /** Interval of SSE keep-alive comments on `/subscribe` streams. @default 15000 */
  heartbeatMs?: number;
  /** Receives one entry per request and per Redis connection error. @default errors (5xx) to stderr */
  logger?: (entry: GatewayLogEntry) => void;
  /** Clock for token expiry, for tests. @default Date.now */
  now?: () => number;
  /** The scanner identity, for KEYS/SCAN/DBSIZE/FLUSHDB of namespaced tokens. @default none (they are refused) */
  scanner?: ScannerIdentity;
}

export const DEFAULT_TIMEOUT_MS = 5000;
export const DEFAULT_MAX_BODY_BYTES = 1024 * 1024;
export const DEFAULT_MAX_PIPELINE_COMMANDS = 1000;
export const DEFAULT_MAX_SUBSCRIPTIONS = 100;
export const DEFAULT_HEARTBEAT_MS = 15_000;

/** The default logger: only server-side failures (5xx), one JSON line each on stderr. */
export function defaultLogger(entry: GatewayLogEntry): void {
  if (entry.level === "error") console.error(JSON.stringify({ gateway: entry }));
}
