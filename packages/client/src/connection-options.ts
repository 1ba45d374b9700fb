/**
 * ioredis options and clients from a secret payload: the one place that decides how anything in
 * Cacheplane (the client, the gateway, `cacheplane doctor`) connects to Redis as a service user.
 *
 * What every connection gets: the secret's host, port and user; TLS when the secret says `tls: true`
 * (with the caller's extra TLS options such as a private CA, and the secret's host as the server
 * name); no offline queue (commands fail at once while the connection is down instead of piling up);
 * no ready check (service users have no INFO); bounded connect and command timeouts; a reconnect
 * backoff with a ceiling; the commands of one tick written together (per-tick write batching); and for
 * `cluster: true` a Cluster client that connects to the node names the
 * cluster announces as they are (ElastiCache TLS and Serverless).
 */
import type { ConnectionOptions } from "node:tls";
import type { SecretPayload } from "@cacheplane/core/secret";
import type { Cluster, ClusterOptions, Redis, RedisOptions } from "ioredis";
import { trackAvailability } from "./connection-state.js";
import { builtin } from "./node-builtins.js";
import { batchClientWrites } from "./write-batching.js";

/** A standalone or cluster client. */
export type RedisClient = Redis | Cluster;

/** Defaults of {@link ConnectionSettings}. */
export const CONNECTION_DEFAULTS = {
  commandTimeoutMs: 1000,
  connectTimeoutMs: 2000,
  maxRetriesPerRequest: 1,
  /**
   * A refused connect is cheap, and the client's breaker recovery (circuit-breaker.ts) waits for the
   * reconnect: Redis back => calls back within about this (docs/decisions/0014).
   */
  maxReconnectDelayMs: 500,
} as const;

/** How to connect, beyond what the secret says. */
export interface ConnectionSettings {
  /** Cluster mode. @default the secret's `cluster` field */
  cluster?: boolean;
  /** Extra TLS options (e.g. `ca` for a private CA) used when the secret has `tls: true`. */
  tls?: ConnectionOptions;
  /** Per-command timeout (ioredis `commandTimeout`). @default 1000 */
  commandTimeoutMs?: number;
  /** TCP/TLS connect timeout. @default 2000 */
  connectTimeoutMs?: number;
  /** Reconnections a command survives before it fails (ioredis `maxRetriesPerRequest`). @default 1 */
  maxRetriesPerRequest?: number;
  /** Longest wait between two reconnection attempts (the backoff doubles up to it). @default 500 */
  maxReconnectDelayMs?: number;
  /** User and password to send instead of the secret's (IAM auth: the IAM user and a token). */
  credentials?: { username: string; password: string };
  /** Called before every reconnection attempt (IAM: put a fresh token in place). */
  beforeReconnect?: () => void;
  /**
   * Extra ioredis options, applied last (they may override the defaults above; the offline queue
   * stays off).
   */
  redisOptions?: Partial<RedisOptions>;
  /** Extra ioredis Cluster options, applied last. */
  clusterOptions?: Partial<ClusterOptions>;
  /**
   * Write the commands of one event-loop tick in one socket write per connection (`write-batching.ts`,
   * docs/decisions/0021). @default true
   */
  batchWrites?: boolean;
}

/** True for a Cluster client. */
export function isCluster(client: RedisClient): client is Cluster {
  return (client as Cluster).isCluster === true;
}

/** Reconnect delay after `times` failed attempts: 100, 200, 400, ... ms up to `maxMs`. */
export function reconnectDelay(times: number, maxMs: number): number {
  return Math.min(50 * 2 ** Math.min(Math.max(times, 1), 10), maxMs);
}

/** TLS socket options for `secret` (undefined for plain TCP). */
export function tlsOptionsFor(
  secret: SecretPayload,
  extra?: ConnectionOptions,
): ConnectionOptions | undefined {
  if (!secret.tls) return undefined;
  // The secret's host names the server (SNI and certificate check) unless it is an IP address, which
  // is not a valid server name; `extra.servername` overrides it (a certificate issued for another name).
  return {
    ...(builtin<typeof import("node:net")>("node:net").isIP(secret.host) === 0
      ? { servername: secret.host }
      : {}),
    ...extra,
  };
}

/**
 * ioredis options for connecting to one node as the user of `secret` (host, port, user, password,
 * TLS per the secret), lazily (nothing connects before the first command or `connect()`).
 */
export function redisOptionsFromSecret(
  secret: SecretPayload,
  settings: ConnectionSettings = {},
): RedisOptions {
  const maxDelay = settings.maxReconnectDelayMs ?? CONNECTION_DEFAULTS.maxReconnectDelayMs;
  const tls = tlsOptionsFor(secret, settings.tls);
  return {
    host: secret.host,
    port: secret.port,
    username: settings.credentials?.username ?? secret.username,
    password: settings.credentials?.password ?? secret.password,
    ...(tls ? { tls } : {}),
    lazyConnect: true,
    enableReadyCheck: false,
    maxRetriesPerRequest: settings.maxRetriesPerRequest ?? CONNECTION_DEFAULTS.maxRetriesPerRequest,
    commandTimeout: settings.commandTimeoutMs ?? CONNECTION_DEFAULTS.commandTimeoutMs,
    connectTimeout: settings.connectTimeoutMs ?? CONNECTION_DEFAULTS.connectTimeoutMs,
    disableClientInfo: true,
    keepAlive: 30_000,
    noDelay: true,
    retryStrategy: (times: number) => {
      settings.beforeReconnect?.();
      return reconnectDelay(times, maxDelay);
    },
    ...settings.redisOptions,
    // Never overridable: an offline queue would hide outages and hold callers past their deadlines.
    enableOfflineQueue: false,
  };
}

/** ioredis Cluster options for `secret` (every node gets {@link redisOptionsFromSecret}'s options). */
export function clusterOptionsFromSecret(
  secret: SecretPayload,
  settings: ConnectionSettings = {},
): ClusterOptions {
  const {
    host: _host,
    port: _port,
    retryStrategy: _retry,
    enableOfflineQueue: _queue,
    ...nodeOptions
  } = redisOptionsFromSecret(secret, settings);
  const maxDelay = settings.maxReconnectDelayMs ?? CONNECTION_DEFAULTS.maxReconnectDelayMs;
  const connectTimeout = settings.connectTimeoutMs ?? CONNECTION_DEFAULTS.connectTimeoutMs;
  return {
    // ElastiCache (serverless and TLS clusters): connect to the announced names as they are.
    dnsLookup: (address, callback) => callback(null, address),
    redisOptions: nodeOptions,
    lazyConnect: true,
    enableReadyCheck: true,
    slotsRefreshTimeout: Math.max(1000, connectTimeout),
    slotsRefreshInterval: 60_000,
    maxRedirections: 8,
    retryDelayOnFailover: 100,
    retryDelayOnClusterDown: 100,
    retryDelayOnTryAgain: 100,
    clusterRetryStrategy: (times: number) => {
      settings.beforeReconnect?.();
      return reconnectDelay(times, maxDelay);
    },
    ...settings.clusterOptions,
    enableOfflineQueue: false,
  };
}

let ioredis: Promise<{ Redis: typeof Redis; Cluster: typeof Cluster }> | undefined;

/**
 * A client for `secret` (a Cluster client in cluster mode), not connected yet, whose availability
 * is tracked (see `connection-state.ts`: `waitReady` fails fast while it is known to be down). Attach
 * an `error` listener (and `node error` for a cluster) before using it. ioredis is loaded on the
 * first call: a Lambda that never uses Redis does not load it at cold start.
 */
export async function createRedisClient(
  secret: SecretPayload,
  settings: ConnectionSettings = {},
): Promise<RedisClient> {
  ioredis ??= import("ioredis");
  const { Cluster, Redis } = await ioredis;
  const cluster = settings.cluster ?? secret.cluster ?? false;
  const client: RedisClient = cluster
    ? new Cluster([{ host: secret.host, port: secret.port }], clusterOptionsFromSecret(secret, settings))
    : new Redis(redisOptionsFromSecret(secret, settings));
  if (settings.batchWrites !== false) batchClientWrites(client);
  trackAvailability(client);
  return client;
}

/** Sets the user and password a client (every node of a cluster) sends on its next (re)connection. */
export function setCredentials(client: RedisClient, username: string, password: string): void {
  if (isCluster(client)) {
    const redisOptions = client.options.redisOptions ?? {};
    redisOptions.username = username;
    redisOptions.password = password;
    client.options.redisOptions = redisOptions;
    for (const node of client.nodes("all")) {
      node.options.username = username;
      node.options.password = password;
    }
  } else {
    client.options.username = username;
    client.options.password = password;
  }
}
