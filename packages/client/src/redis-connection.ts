/**
 * One lazily opened ioredis connection (standalone or cluster) built from a secret, reused across
 * warm invocations through a module-level registry keyed by the secret's identity. No unbounded
 * offline queue: commands fail fast while the connection is down, and callers wait at most
 * `connectTimeoutMs` on one shared "ready" promise while it (re)connects. On an authentication
 * failure the secret is read again and, when its password changed, the connection is rebuilt.
 */
import type { ConnectionOptions } from "node:tls";
import type { SecretPayload } from "@cacheplane/core/secret";
import type { Cluster, ClusterOptions, Redis, RedisOptions } from "ioredis";
import { CacheConfigError, CacheConnectionError } from "./errors.js";
import type { IamAuthTokenProvider } from "./iam-auth.js";
import { type AuthenticatableConnection, IamReauthenticator, type IamReauthOptions } from "./iam-reauth.js";
import type { SecretSource } from "./secret-source.js";

export type RedisClient = Redis | Cluster;

export interface RedisConnectionOptions {
  source: SecretSource;
  /** Cluster mode; default: the secret's `cluster` field. Needed for ElastiCache Serverless. */
  cluster?: boolean;
  /** Extra TLS options (e.g. `ca`) used when the secret has TLS on. */
  tls?: ConnectionOptions;
  /** Per-command timeout. Default 1000 ms. */
  commandTimeoutMs?: number;
  /** TCP/TLS connect timeout and the longest a call waits for a (re)connection. Default 2000 ms. */
  connectTimeoutMs?: number;
  /** Reconnection attempts a command survives before it fails. Default 1. */
  maxRetriesPerRequest?: number;
  /** ElastiCache IAM auth: the password is a fresh token, the username the IAM user id. */
  iamAuth?: IamAuthTokenProvider;
  /**
   * IAM auth decided by the secret: called with the payload when `iamAuth` is not set; returns the
   * provider for `auth: "iam"` secrets (or when the environment says so), else undefined.
   */
  iamAuthFor?: (payload: SecretPayload) => IamAuthTokenProvider | undefined;
  /** Token refresh and re-authentication before ElastiCache's 12-hour limit. @default 11 h, checked every 60 s */
  iamReauth?: IamReauthOptions;
  /** Extra ioredis options (applied last; offline queue stays off in standalone mode). */
  redisOptions?: Partial<RedisOptions>;
  /** Extra ioredis Cluster options. */
  clusterOptions?: Partial<ClusterOptions>;
}

interface Built {
  payload: SecretPayload;
  client: RedisClient;
  subscribers: Set<RedisClient>;
  reauth?: IamReauthenticator;
}

type ErrorListener = (err: Error) => void;

const readyWaits = new WeakMap<RedisClient, Promise<void>>();

/**
 * Longest wait between two reconnection attempts. A refused connect is cheap, and the breaker's
 * recovery (circuit-breaker.ts) waits for the reconnect: Redis back => calls back within about this.
 */
const RECONNECT_MAX_DELAY_MS = 500;

function isCluster(client: RedisClient): client is Cluster {
  return (client as Cluster).isCluster === true;
}

/**
 * Resolves when the client is ready; connects a lazy/ended client. Rejects after `timeoutMs`, or
 * at once when the connection attempt fails (refused, TLS, auth): a down server costs callers one
 * failed attempt, not the whole timeout. A healthy reconnect (no error) is simply waited for.
 */
export function waitReady(client: RedisClient, timeoutMs: number): Promise<void> {
  if (client.status === "ready") return Promise.resolve();
  const existing = readyWaits.get(client);
  if (existing) return existing;
  const wait = new Promise<void>((resolve, reject) => {
    const finish = (err?: Error) => {
      clearTimeout(timer);
      client.off("ready", onReady);
      client.off("end", onEnd);
      client.off("error", onError);
      readyWaits.delete(client);
      if (err) reject(err);
      else resolve();
    };
    const onReady = () => finish();
    const onEnd = () => finish(new CacheConnectionError("Redis connection ended", { operation: "connect" }));
    const onError = (err: Error) =>
      finish(
        new CacheConnectionError(`Redis connection failed: ${err.message}`, {
          operation: "connect",
          cause: err,
        }),
      );
    const timer = setTimeout(
      () =>
        finish(
          new CacheConnectionError(`Redis not ready within ${timeoutMs} ms (status ${client.status})`, {
            operation: "connect",
          }),
        ),
      timeoutMs,
    );
    client.on("ready", onReady);
    client.on("end", onEnd);
    client.on("error", onError);
    // "wait": lazy and never connected; "end": closed. Other states reconnect on their own.
    if (client.status === "wait" || client.status === "end") {
      client.connect().catch(() => undefined);
    }
  });
  readyWaits.set(client, wait);
  return wait;
}

export function isAuthError(err: unknown): boolean {
  return err instanceof Error && /^(WRONGPASS|NOAUTH)\b/.test(err.message);
}

function setPassword(client: RedisClient, username: string, password: string): void {
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

export class RedisConnection {
  readonly options: RedisConnectionOptions;
  readonly connectTimeoutMs: number;
  private built: Promise<Built> | undefined;
  private current: Built | undefined;
  private refreshing: Promise<void> | undefined;
  private readonly errorListeners = new Set<ErrorListener>();
  private closed = false;
  /** Holders (CacheServices) sharing this connection. */
  refs = 0;

  constructor(options: RedisConnectionOptions) {
    this.options = options;
    this.connectTimeoutMs = options.connectTimeoutMs ?? 2000;
  }

  /** The keyspace of the secret, known after the first `acquire()`. */
  get keyspace(): string | undefined {
    return this.current?.payload.keyspace;
  }

  get clusterMode(): boolean | undefined {
    return this.current ? isCluster(this.current.client) : this.options.cluster;
  }

  /** Connection-level errors (also auth failures), for the service's error counters. */
  onError(listener: ErrorListener): () => void {
    this.errorListeners.add(listener);
    return () => this.errorListeners.delete(listener);
  }

  /** The payload used by the current client (loads the secret when needed). */
  async payload(): Promise<SecretPayload> {
    return (await this.build()).payload;
  }

  /** The client when it is connected and ready now (the hot path: no awaits), else undefined. */
  readyClient(): RedisClient | undefined {
    const client = this.current?.client;
    return client?.status === "ready" ? client : undefined;
  }

  /**
   * A ready client (connects on first use, waits at most `connectTimeoutMs`). `onClient` sees the
   * client before the wait (the store watches its reconnects).
   */
  async acquire(onClient?: (client: RedisClient) => void): Promise<RedisClient> {
    const built = await this.build();
    onClient?.(built.client);
    await waitReady(built.client, this.connectTimeoutMs);
    return built.client;
  }

  /** A new, ready, dedicated connection for SUBSCRIBE (its owner disconnects it; closed with the connection). */
  async subscriber(): Promise<RedisClient> {
    const built = await this.build();
    const duplicate = built.client.duplicate();
    this.attachErrorHandler(duplicate);
    built.subscribers.add(duplicate);
    duplicate.once("end", () => built.subscribers.delete(duplicate));
    try {
      await waitReady(duplicate, this.connectTimeoutMs);
    } catch (err) {
      duplicate.disconnect();
      throw err;
    }
    return duplicate;
  }

  /** Reports a command error; auth failures re-read the secret (rotation). */
  noteCommandError(err: unknown): void {
    if (isAuthError(err)) void this.refreshCredentials();
  }

  /**
   * Reads the secret again (bypassing the max age) and rebuilds the client when the credentials
   * changed. Concurrent calls share one refresh.
   */
  refreshCredentials(): Promise<void> {
    if (!this.refreshing) {
      this.refreshing = (async () => {
        const previous = this.current;
        if (!previous || this.closed) return;
        let fresh: SecretPayload;
        try {
          fresh = await this.options.source.get({ forceRefresh: true });
        } catch (err) {
          this.emitError(err instanceof Error ? err : new Error(String(err)));
          return;
        }
        if (fresh.password === previous.payload.password && fresh.username === previous.payload.username)
          return;
        if (this.current !== previous || this.closed) return;
        const next = await this.create(fresh);
        this.current = next;
        this.built = Promise.resolve(next);
        previous.reauth?.stop();
        previous.client.disconnect();
      })().finally(() => {
        this.refreshing = undefined;
      });
    }
    return this.refreshing;
  }

  private build(): Promise<Built> {
    if (this.closed) return Promise.reject(new CacheConnectionError("Redis connection is closed"));
    if (!this.built) {
      this.built = (async () => {
        const payload = await this.options.source.get();
        const built = await this.create(payload);
        this.current = built;
        return built;
      })();
      this.built.catch(() => {
        // A failed secret read is retried by the next call.
        this.built = undefined;
      });
    }
    return this.built;
  }

  private emitError(err: Error): void {
    for (const listener of this.errorListeners) {
      try {
        listener(err);
      } catch {
        // ignore
      }
    }
  }

  private attachErrorHandler(client: RedisClient): void {
    const handler = (err: Error) => {
      this.emitError(err);
      if (isAuthError(err)) void this.refreshCredentials();
    };
    client.on("error", handler);
    if (isCluster(client)) client.on("node error", handler);
  }

  private async create(payload: SecretPayload): Promise<Built> {
    const { Cluster: ClusterClass, Redis: RedisClass } = await import("ioredis");
    const o = this.options;
    const iam = o.iamAuth ?? o.iamAuthFor?.(payload);
    if (!iam && payload.auth === "iam") {
      throw new CacheConfigError(
        'the secret says auth: "iam" but no IAM auth is configured: set REDIS_IAM_CACHE_NAME (the serverless ' +
          "cache name) or pass the `iamAuth` option",
        ["REDIS_IAM_CACHE_NAME", "iamAuth"],
      );
    }
    const username = iam ? iam.userId : payload.username;
    const password = iam ? await iam.getToken() : payload.password;
    const refreshIamToken = (client: () => RedisClient | undefined) => {
      if (!iam) return;
      const token = iam.peek();
      const target = client();
      if (token && target) setPassword(target, username, token);
      if (iam.needsRefresh()) {
        iam.getToken().then(
          (fresh) => {
            const c = client();
            if (c) setPassword(c, username, fresh);
          },
          (err: unknown) => this.emitError(err instanceof Error ? err : new Error(String(err))),
        );
      }
    };
    let client: RedisClient | undefined;
    const common: RedisOptions = {
      username,
      password,
      tls: payload.tls ? { ...o.tls } : undefined,
      lazyConnect: true,
      enableReadyCheck: false,
      maxRetriesPerRequest: o.maxRetriesPerRequest ?? 1,
      commandTimeout: o.commandTimeoutMs ?? 1000,
      connectTimeout: this.connectTimeoutMs,
      disableClientInfo: true,
      keepAlive: 30_000,
      noDelay: true,
    };
    const cluster = o.cluster ?? payload.cluster ?? false;
    if (cluster) {
      const { retryStrategy: _r, enableOfflineQueue: _q, ...nodeOptions } = { ...common, ...o.redisOptions };
      client = new ClusterClass([{ host: payload.host, port: payload.port }], {
        // ElastiCache (serverless and TLS clusters): connect to the announced names as they are.
        dnsLookup: (address, callback) => callback(null, address),
        redisOptions: nodeOptions,
        lazyConnect: true,
        enableOfflineQueue: false,
        enableReadyCheck: true,
        slotsRefreshTimeout: Math.max(1000, this.connectTimeoutMs),
        slotsRefreshInterval: 60_000,
        maxRedirections: 8,
        retryDelayOnFailover: 100,
        retryDelayOnClusterDown: 100,
        retryDelayOnTryAgain: 100,
        clusterRetryStrategy: (times: number) => {
          refreshIamToken(() => client);
          return Math.min(100 * times, RECONNECT_MAX_DELAY_MS);
        },
        ...o.clusterOptions,
      });
    } else {
      client = new RedisClass({
        host: payload.host,
        port: payload.port,
        ...common,
        retryStrategy: (times: number) => {
          refreshIamToken(() => client);
          return Math.min(50 * 2 ** Math.min(times, 6), RECONNECT_MAX_DELAY_MS);
        },
        ...o.redisOptions,
        enableOfflineQueue: false,
      });
    }
    this.attachErrorHandler(client);
    const built: Built = { payload, client, subscribers: new Set() };
    if (iam) {
      const target = client;
      built.reauth = new IamReauthenticator(
        iam,
        () => (isCluster(target) ? target.nodes("all") : [target]) as unknown as AuthenticatableConnection[],
        (token) => setPassword(target, username, token),
        (err) => this.emitError(err),
        o.iamReauth,
      );
      // A standalone client has one connection: once it is ready again it authenticated just now. (A
      // cluster's nodes reconnect one by one, so there every open connection is re-authenticated.)
      if (!isCluster(target)) target.on("ready", () => built.reauth?.markAuthenticated());
      built.reauth.start();
    }
    return built;
  }

  /** Runs the IAM token/re-authentication check now (tests drive it with a fake clock). */
  async checkIamAuth(): Promise<void> {
    await this.current?.reauth?.check();
  }

  /** Closes the client(s). */
  async close(): Promise<void> {
    this.closed = true;
    const current = this.current;
    this.current = undefined;
    this.built = undefined;
    if (!current) return;
    current.reauth?.stop();
    await Promise.allSettled([quit(current.client), ...[...current.subscribers].map(quit)]);
  }
}

async function quit(client: RedisClient): Promise<void> {
  if (client.status === "ready") {
    try {
      await Promise.race([client.quit(), new Promise((resolve) => setTimeout(resolve, 1000).unref())]);
    } catch {
      // fall through to disconnect
    }
  }
  client.disconnect();
}

const registry = new Map<string, RedisConnection>();

function registryKey(options: RedisConnectionOptions): string {
  return JSON.stringify([
    options.source.id,
    options.cluster ?? null,
    options.iamAuth ? options.iamAuth.userId : null,
    options.commandTimeoutMs ?? null,
    options.connectTimeoutMs ?? null,
    options.maxRetriesPerRequest ?? null,
    options.tls ? Object.keys(options.tls).sort() : null,
  ]);
}

/**
 * The module-wide connection for these options: a second `createCache()` with the same secret in a
 * warm Lambda reuses the open connection. Release with {@link releaseRedisConnection}.
 */
export function acquireSharedRedisConnection(options: RedisConnectionOptions): RedisConnection {
  const key = registryKey(options);
  let connection = registry.get(key);
  if (!connection) {
    connection = new RedisConnection(options);
    registry.set(key, connection);
  }
  connection.refs++;
  return connection;
}

/** Drops one reference; the last one closes the connection. */
export async function releaseRedisConnection(connection: RedisConnection): Promise<void> {
  connection.refs = Math.max(0, connection.refs - 1);
  if (connection.refs > 0) return;
  for (const [key, value] of registry) if (value === connection) registry.delete(key);
  await connection.close();
}

/** Closes every shared connection (tests, or a Lambda extension's shutdown hook). */
export async function closeAllRedisConnections(): Promise<void> {
  const all = [...registry.values()];
  registry.clear();
  await Promise.allSettled(all.map((c) => c.close()));
}
