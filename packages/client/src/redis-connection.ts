/**
 * A Redis connection built from a secret: the one implementation used by the client (`createCache`),
 * the gateway (one per service) and `cacheplane doctor` (docs/decisions/0016).
 *
 * - Lazy: the secret is read and the connection opened on first use; ioredis options come from
 *   `connection-options.ts` (TLS with the caller's CA, standalone or cluster, deadlines, no offline
 *   queue).
 * - Fails fast: while the connection is known to be down, callers are refused at once
 *   (`connection-state.ts`); otherwise they wait at most their timeout on one shared "ready" promise.
 * - Rotation: on an authentication failure the secret is read again (`source.get({ forceRefresh:
 *   true })`) and, when the credentials or the endpoint changed, the connection is rebuilt.
 * - ElastiCache IAM auth: the password is a fresh token (`iam-auth.ts`); tokens are renewed before
 *   they expire (reconnects always use a valid one) and open connections authenticate again before
 *   ElastiCache's 12-hour limit (`iam-reauth.ts`).
 * - A module-level registry shares one connection per secret across warm Lambda invocations.
 */
import type { ConnectionOptions } from "node:tls";
import type { SecretPayload } from "@cacheplane/core/secret";
import type { ClusterOptions, Redis, RedisOptions } from "ioredis";
import { describeConnectionError } from "./connection-errors.js";
import {
  type ConnectionSettings,
  createRedisClient,
  isCluster,
  type RedisClient,
  setCredentials,
} from "./connection-options.js";
import { trackAvailability, waitReady } from "./connection-state.js";
import { CacheConfigError, CacheConnectionError } from "./errors.js";
import type { IamAuthTokenProvider } from "./iam-auth.js";
import { type AuthenticatableConnection, IamReauthenticator, type IamReauthOptions } from "./iam-reauth.js";
import type { GetSecretOptions } from "./secret-source.js";

export type { RedisClient } from "./connection-options.js";
export { waitReady } from "./connection-state.js";

/**
 * Where the connection's secret comes from. {@link SecretSource} is one (Secrets Manager, a file,
 * inline JSON); the gateway passes the payload it loaded and a re-read of its file.
 */
export interface SecretProvider {
  /** The payload; with `forceRefresh`, read again (after an authentication failure). */
  get(options?: GetSecretOptions): Promise<SecretPayload>;
}

export interface RedisConnectionOptions {
  source: SecretProvider;
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
  /** Longest wait between two reconnection attempts. Default 500 ms. */
  maxReconnectDelayMs?: number;
  /** ElastiCache IAM auth: the password is a fresh token, the username the IAM user id. */
  iamAuth?: IamAuthTokenProvider;
  /**
   * IAM auth decided by the secret: called with the payload when `iamAuth` is not set; returns the
   * provider for `auth: "iam"` secrets (or when the environment says so), else undefined.
   */
  iamAuthFor?: (payload: SecretPayload) => IamAuthTokenProvider | undefined;
  /** Token refresh and re-authentication before ElastiCache's 12-hour limit. @default 11 h, checked every 60 s */
  iamReauth?: IamReauthOptions;
  /** Extra ioredis options (applied last; the offline queue stays off). */
  redisOptions?: Partial<RedisOptions>;
  /** Extra ioredis Cluster options. */
  clusterOptions?: Partial<ClusterOptions>;
  /** Write the commands of one tick in one socket write (docs/decisions/0021). Default true. */
  batchWrites?: boolean;
}

interface Built {
  payload: SecretPayload;
  client: RedisClient;
  subscribers: Set<RedisClient>;
  /** The user and password every connection of this build sends (IAM: the latest token). */
  username: string;
  password: string;
  reauth?: IamReauthenticator;
}

type ErrorListener = (err: Error) => void;

/** True when Redis rejected the credentials (re-read the secret). */
export function isAuthError(err: unknown): boolean {
  return err instanceof Error && /^(WRONGPASS|NOAUTH)\b/.test(err.message);
}

/**
 * After a reconnect ioredis subscribes again to the connection's channels and drops the promises of
 * those calls. When that fails (the reconnect's AUTH was refused after a password rotation: NOAUTH),
 * the rejection would be unhandled and end the process. Every subscribe-family call on `client` gets
 * a handler here; callers that await a call still see its rejection, and ioredis subscribes again
 * after its next reconnect (with the new credentials).
 */
function handleResubscribeFailures(client: RedisClient): void {
  const target = client as unknown as Record<string, (...args: unknown[]) => unknown>;
  for (const name of ["subscribe", "psubscribe", "ssubscribe"]) {
    const original = target[name];
    if (typeof original !== "function") continue;
    target[name] = function (this: unknown, ...args: unknown[]) {
      const result = original.apply(this, args);
      if (result instanceof Promise) result.catch(() => undefined);
      return result;
    };
  }
}

const SUBSCRIBE_COMMANDS = [
  ["subscribe", "unsubscribe"],
  ["psubscribe", "punsubscribe"],
  ["ssubscribe", "sunsubscribe"],
] as const;

/**
 * A duplicate of `client` for SUBSCRIBE whose subscriptions survive every reconnect. ioredis
 * subscribes again after a reconnect, but forgets the channels when that fails once (the reconnect's
 * AUTH was refused after a password rotation, before the new password was read). This duplicate
 * remembers what its owner subscribed to and subscribes again after each reconnect until it works.
 */
function subscriberOf(client: Redis): Redis {
  const duplicate = client.duplicate({ autoResubscribe: false });
  const target = duplicate as unknown as Record<string, (...args: unknown[]) => Promise<unknown>>;
  const wanted = new Map<string, Map<string, string | Buffer>>();
  const originals = new Map<string, (...args: unknown[]) => Promise<unknown>>();
  for (const [subscribe, unsubscribe] of SUBSCRIBE_COMMANDS) {
    const channels = new Map<string, string | Buffer>();
    wanted.set(subscribe, channels);
    const names = (args: unknown[]) =>
      args.flat().filter((a): a is string | Buffer => typeof a === "string" || Buffer.isBuffer(a));
    const keyOf = (name: string | Buffer) => (typeof name === "string" ? name : name.toString("latin1"));
    const originalSubscribe = target[subscribe]!;
    const originalUnsubscribe = target[unsubscribe]!;
    originals.set(subscribe, originalSubscribe);
    target[subscribe] = function (this: unknown, ...args: unknown[]) {
      for (const name of names(args)) channels.set(keyOf(name), name);
      return originalSubscribe.apply(this, args);
    };
    target[unsubscribe] = function (this: unknown, ...args: unknown[]) {
      const given = names(args);
      if (given.length === 0) channels.clear();
      for (const name of given) channels.delete(keyOf(name));
      return originalUnsubscribe.apply(this, args);
    };
  }
  duplicate.on("ready", () => {
    for (const [subscribe, channels] of wanted) {
      if (channels.size === 0) continue;
      // Queued behind the reconnect's AUTH; when that fails, the next reconnect tries again.
      originals
        .get(subscribe)!
        .apply(duplicate, [...channels.values()])
        .catch(() => undefined);
    }
  });
  return duplicate;
}

/** True when `a` and `b` reach the same server the same way (a subscriber can keep its connection). */
function sameEndpoint(a: SecretPayload, b: SecretPayload): boolean {
  return a.host === b.host && a.port === b.port && a.tls === b.tls && a.cluster === b.cluster;
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
    return client?.status === "ready" && !this.closed ? client : undefined;
  }

  /** The command client as built so far (connected or not), without waiting; undefined before the first build. */
  currentClient(): RedisClient | undefined {
    return this.closed ? undefined : this.current?.client;
  }

  /**
   * A ready client (connects on first use, waits at most `connectTimeoutMs`). `onClient` sees the
   * client before the wait.
   * @throws RedisUnavailableError while Redis is known to be down, when the connection attempt fails
   *   or after the timeout; CacheConfigError / SecretLoadError when the secret is unusable
   */
  async acquire(onClient?: (client: RedisClient) => void): Promise<RedisClient> {
    const built = await this.build();
    onClient?.(built.client);
    await waitReady(built.client, this.connectTimeoutMs);
    return built.client;
  }

  /** Like {@link acquire}, waiting at most `timeoutMs` (a request's remaining budget). */
  async ready(timeoutMs: number): Promise<RedisClient> {
    const built = await this.build();
    await waitReady(built.client, timeoutMs);
    return built.client;
  }

  /**
   * A new, ready, dedicated connection for SUBSCRIBE, waiting at most `timeoutMs` (default
   * `connectTimeoutMs`). Its owner disconnects it; it is closed with the connection. After a password
   * rotation it reconnects with the new credentials; when the secret moves to another endpoint it is
   * disconnected (its `end` event tells the owner).
   */
  async subscriber(timeoutMs = this.connectTimeoutMs): Promise<RedisClient> {
    const built = await this.build();
    const duplicate = isCluster(built.client) ? built.client.duplicate() : subscriberOf(built.client);
    setCredentials(duplicate, built.username, built.password);
    handleResubscribeFailures(duplicate);
    this.attachErrorHandler(duplicate, built.payload);
    trackAvailability(duplicate);
    built.subscribers.add(duplicate);
    duplicate.once("end", () => built.subscribers.delete(duplicate));
    try {
      await waitReady(duplicate, timeoutMs);
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
   * Reads the secret again (bypassing the max age) and rebuilds the client when the credentials or
   * the endpoint changed. Concurrent calls share one refresh.
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
        const old = previous.payload;
        if (fresh.password === old.password && fresh.username === old.username && sameEndpoint(fresh, old))
          return;
        if (this.current !== previous || this.closed) return;
        let next: Built;
        try {
          next = await this.create(fresh);
        } catch (err) {
          this.emitError(err instanceof Error ? err : new Error(String(err)));
          return;
        }
        if (this.current !== previous || this.closed) {
          next.reauth?.stop();
          next.client.disconnect();
          return;
        }
        this.current = next;
        this.built = Promise.resolve(next);
        previous.reauth?.stop();
        previous.client.disconnect();
        // Subscribers keep their subscriptions: same server, new credentials for their reconnects.
        for (const subscriber of previous.subscribers) {
          if (sameEndpoint(fresh, old)) {
            setCredentials(subscriber, next.username, next.password);
            next.subscribers.add(subscriber);
            subscriber.once("end", () => next.subscribers.delete(subscriber));
          } else {
            subscriber.disconnect();
          }
        }
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
        if (this.closed) {
          built.reauth?.stop();
          built.client.disconnect();
          throw new CacheConnectionError("Redis connection is closed");
        }
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

  /**
   * Connection-level errors reach `onError` listeners described (`Redis at host:port: write
   * ECONNRESET (... it may want TLS ...)`), the ioredis error as the cause.
   */
  private attachErrorHandler(client: RedisClient, payload: SecretPayload): void {
    const handler = (err: Error) => {
      const described = new CacheConnectionError(
        `Redis at ${payload.host}:${payload.port}: ${describeConnectionError(err, { tls: payload.tls })}`,
        { operation: "connect", cause: err },
      );
      this.emitError(described);
      if (isAuthError(err)) void this.refreshCredentials();
    };
    client.on("error", handler);
    if (isCluster(client)) client.on("node error", handler);
  }

  private async create(payload: SecretPayload): Promise<Built> {
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
    // Filled in below; the reconnect hook only runs once the client exists.
    let built: Built | undefined;
    /** Every connection of the build sends `token` from its next (re)connection on. */
    const useToken = (token: string) => {
      if (!built) return;
      built.password = token;
      setCredentials(built.client, username, token);
      for (const subscriber of built.subscribers) setCredentials(subscriber, username, token);
    };
    const beforeReconnect = () => {
      if (!iam) return;
      const token = iam.peek();
      if (token) useToken(token);
      if (iam.needsRefresh()) {
        iam
          .getToken()
          .then(useToken, (err: unknown) =>
            this.emitError(err instanceof Error ? err : new Error(String(err))),
          );
      }
    };
    const settings: ConnectionSettings = {
      credentials: { username, password },
      beforeReconnect,
      ...(o.cluster !== undefined ? { cluster: o.cluster } : {}),
      ...(o.tls ? { tls: o.tls } : {}),
      ...(o.commandTimeoutMs !== undefined ? { commandTimeoutMs: o.commandTimeoutMs } : {}),
      connectTimeoutMs: this.connectTimeoutMs,
      ...(o.maxRetriesPerRequest !== undefined ? { maxRetriesPerRequest: o.maxRetriesPerRequest } : {}),
      ...(o.maxReconnectDelayMs !== undefined ? { maxReconnectDelayMs: o.maxReconnectDelayMs } : {}),
      ...(o.redisOptions ? { redisOptions: o.redisOptions } : {}),
      ...(o.clusterOptions ? { clusterOptions: o.clusterOptions } : {}),
      ...(o.batchWrites === false ? { batchWrites: false } : {}),
    };
    const client = await createRedisClient(payload, settings);
    this.attachErrorHandler(client, payload);
    built = { payload, client, subscribers: new Set(), username, password };
    if (iam) {
      const target = built;
      target.reauth = new IamReauthenticator(
        iam,
        () =>
          (isCluster(target.client)
            ? target.client.nodes("all")
            : [target.client]) as unknown as AuthenticatableConnection[],
        useToken,
        (err) => this.emitError(err),
        o.iamReauth,
      );
      // A standalone client has one connection: once it is ready again it authenticated just now. (A
      // cluster's nodes reconnect one by one, so there every open connection is re-authenticated.)
      if (!isCluster(client)) client.on("ready", () => target.reauth?.markAuthenticated());
      target.reauth.start();
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

/** A connection the registry can share: its source has a stable identity. */
export interface SharedRedisConnectionOptions extends RedisConnectionOptions {
  source: SecretProvider & { readonly id: string };
}

const registry = new Map<string, RedisConnection>();

function registryKey(options: SharedRedisConnectionOptions): string {
  return JSON.stringify([
    options.source.id,
    options.cluster ?? null,
    options.iamAuth ? options.iamAuth.userId : null,
    options.commandTimeoutMs ?? null,
    options.connectTimeoutMs ?? null,
    options.maxRetriesPerRequest ?? null,
    options.batchWrites !== false,
    options.tls ? Object.keys(options.tls).sort() : null,
  ]);
}

/**
 * The module-wide connection for these options: a second `createCache()` with the same secret in a
 * warm Lambda reuses the open connection. Release with {@link releaseRedisConnection}.
 */
export function acquireSharedRedisConnection(options: SharedRedisConnectionOptions): RedisConnection {
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
