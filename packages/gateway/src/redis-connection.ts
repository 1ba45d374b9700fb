/**
 * The gateway's Redis connections: one ioredis client per service user (built from the service's
 * secret payload), plus a dedicated one for SUBSCRIBE when needed. Commands fail fast while Redis is
 * unreachable (no offline queue, nothing re-sent after a reconnect), every call has a deadline, and
 * the client reconnects in the background so the gateway recovers on its own.
 *
 * Note: `@cacheplane/client` has its own connection-from-secret code; this module only needs a small
 * part of it (ioredis options from a SecretPayload) and can be replaced by it once it is exported.
 */
import type { ConnectionOptions } from "node:tls";
import { keySlot } from "@cacheplane/client";
import type { SecretPayload } from "@cacheplane/core/secret";
import { Cluster, type ClusterOptions, Command, Redis, type RedisOptions } from "ioredis";
import type { CommandArg } from "./command-policy.js";
import { CommandTable } from "./command-table.js";
import { GatewayError, unavailable } from "./errors.js";
import { isAuthFailure, isReplyError } from "./redis-errors.js";
import type { RedisReply } from "./reply-encoding.js";
import type { GatewayService } from "./services.js";

/** A standalone or cluster client. */
export type RedisClient = Redis | Cluster;

/** How the gateway connects. */
export interface RedisConnectionSettings {
  /** Longest a request waits for Redis: connecting plus running its commands. */
  timeoutMs: number;
  /** TLS options (e.g. a private CA) used when a secret has `tls: true`. */
  tls?: ConnectionOptions;
  /** Extra ioredis options, applied last (the offline queue stays off). */
  redisOptions?: Partial<RedisOptions>;
}

/** Outcome of one command of a pipeline or transaction. */
export type CommandOutcome = { reply: RedisReply } | { error: Error };

/**
 * ioredis options for connecting as the service user of `secret`: its username/password, TLS when
 * the secret says so, no ready check (service users have no INFO), no offline queue, integer replies
 * as exact strings, bounded reconnect backoff.
 */
export function redisOptionsFromSecret(
  secret: SecretPayload,
  settings: RedisConnectionSettings,
): RedisOptions {
  return {
    host: secret.host,
    port: secret.port,
    username: secret.username,
    password: secret.password,
    ...(secret.tls ? { tls: { servername: secret.host, ...settings.tls } } : {}),
    lazyConnect: true,
    autoResendUnfulfilledCommands: false,
    maxRetriesPerRequest: 0,
    commandTimeout: settings.timeoutMs,
    connectTimeout: settings.timeoutMs,
    disableClientInfo: true,
    keepAlive: 30_000,
    noDelay: true,
    retryStrategy: (times: number) => Math.min(100 * times, 1000),
    ...settings.redisOptions,
    // Not overridable: service users have no INFO (no ready check); the offline queue would hide
    // outages; replies must keep exact integers; keys are never prefixed; and ioredis's
    // auto-pipelining does not support the Buffer-reply calls the gateway makes.
    enableReadyCheck: false,
    enableOfflineQueue: false,
    stringNumbers: true,
    keyPrefix: "",
    enableAutoPipelining: false,
  };
}

/** A client for `secret` (a Cluster client when `secret.cluster`). Not connected yet. */
export function createRedisClient(secret: SecretPayload, settings: RedisConnectionSettings): RedisClient {
  const options = redisOptionsFromSecret(secret, settings);
  if (!secret.cluster) return new Redis(options);
  const { host: _h, port: _p, retryStrategy: _r, enableOfflineQueue: _q, ...nodeOptions } = options;
  const clusterOptions: ClusterOptions = {
    redisOptions: nodeOptions,
    lazyConnect: true,
    enableOfflineQueue: false,
    enableReadyCheck: true,
    // ElastiCache (serverless and TLS clusters): connect to the announced names as they are.
    dnsLookup: (address, callback) => callback(null, address),
    slotsRefreshTimeout: settings.timeoutMs,
    clusterRetryStrategy: (times: number) => Math.min(100 * times, 1000),
  };
  return new Cluster([{ host: secret.host, port: secret.port }], clusterOptions);
}

function isCluster(client: RedisClient): client is Cluster {
  return (client as Cluster).isCluster === true;
}

const readyWaits = new WeakMap<RedisClient, Promise<void>>();
/**
 * What is known about a client's connection: `up` (was ready), `lost` (it closed after being ready: the
 * first reconnect attempt is under way, give it its chance) or `down` (a connection attempt failed).
 */
const availability = new WeakMap<RedisClient, "up" | "lost" | "down">();

/**
 * Tracks whether `client` is known to be down: from the first failed connection attempt (the initial
 * one, or the first reconnect after a lost connection) until it is `ready` again. A connection that
 * just closed (an idle timeout on the server, a failover) is not down yet: requests wait for the
 * immediate reconnect, and get their 503 as soon as that attempt fails. Requests meanwhile get a 503
 * at once instead of waiting for a connection that the background reconnects will bring back.
 */
export function trackAvailability(client: RedisClient): void {
  client.on("close", () => availability.set(client, availability.get(client) === "up" ? "lost" : "down"));
  client.on("ready", () => availability.set(client, "up"));
}

/** True while `client` is known to be down (see {@link trackAvailability}). */
export function isKnownDown(client: RedisClient): boolean {
  return availability.get(client) === "down" && client.status !== "ready";
}

/**
 * One shared "ready" promise per client while it connects (no listener per waiting request). It
 * rejects when the connection attempt under way fails (`close` before `ready`), so waiting requests
 * get their 503 as soon as Redis is known to be unreachable.
 */
function readyPromise(client: RedisClient): Promise<void> {
  let wait = readyWaits.get(client);
  if (!wait) {
    wait = new Promise<void>((resolve, reject) => {
      const onReady = () => {
        client.off("close", onClose);
        resolve();
      };
      const onClose = () => {
        client.off("ready", onReady);
        reject(unavailable("not connected (reconnecting in the background)"));
      };
      client.once("ready", onReady);
      client.once("close", onClose);
    }).finally(() => readyWaits.delete(client));
    wait.catch(() => undefined);
    readyWaits.set(client, wait);
  }
  if (client.status === "wait" || client.status === "end") client.connect().catch(() => undefined);
  return wait;
}

/**
 * Resolves once `client` is ready (connecting it if needed). Rejects with a 503 GatewayError at once
 * while the client is known to be down, as soon as a connection attempt fails, or after `timeoutMs`
 * (a server that accepts the connection but does not answer).
 */
export function waitReady(client: RedisClient, timeoutMs: number): Promise<void> {
  if (client.status === "ready") return Promise.resolve();
  if (isKnownDown(client)) {
    return Promise.reject(unavailable("not connected (reconnecting in the background)"));
  }
  let timer: NodeJS.Timeout | undefined;
  const expired = new Promise<never>((_, reject) => {
    timer = setTimeout(
      () => reject(unavailable(`not connected within ${timeoutMs} ms`)),
      Math.max(0, timeoutMs),
    );
  });
  return Promise.race([readyPromise(client), expired]).finally(() => clearTimeout(timer));
}

/** Rejects with a 503 when `promise` has not settled `ms` from now. */
export function withDeadline<T>(promise: Promise<T>, ms: number, timeoutMs: number): Promise<T> {
  promise.catch(() => undefined);
  let timer: NodeJS.Timeout | undefined;
  const expired = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(unavailable(`no answer within ${timeoutMs} ms`)), Math.max(0, ms));
  });
  return Promise.race([promise, expired]).finally(() => clearTimeout(timer));
}

/**
 * Name and arguments for ioredis. The name is sent upper-case: Redis does not care, and ioredis then
 * applies none of its lower-case-keyed reply/argument transformers (e.g. HGETALL -> object), so
 * replies stay raw.
 */
function argsOf(command: readonly CommandArg[]): [string, (string | Buffer)[]] {
  const name = command[0];
  const text = typeof name === "string" ? name : (name ?? Buffer.alloc(0)).toString("utf8");
  // Passed to ioredis as one array (it flattens one level): no spreading of the arguments.
  return [text.toUpperCase(), command.slice(1)];
}

function settle(results: [Error | null, unknown][] | null): CommandOutcome[] {
  return (results ?? []).map(([error, reply]) => (error ? { error } : { reply: reply as RedisReply }));
}

/** The 4xx for a transaction whose keys live in several hash slots of a cluster (nothing was sent). */
export function crossSlotError(): GatewayError {
  return new GatewayError(
    400,
    "CROSSSLOT Keys in request don't hash to the same slot (transaction not run: on a cluster every key of a /multi-exec must hash to one slot; use a {hash tag} such as orders:{42}:a and orders:{42}:b)",
  );
}

/** ioredis's own refusals of a cluster pipeline or transaction spanning slots (nothing was sent). */
const IOREDIS_CROSS_SLOT = /should belong to the same slot/i;

/** True when the keys of `commands` (as ioredis finds them) hash to more than one cluster slot. */
function spansSlots(commands: readonly (readonly CommandArg[])[]): boolean {
  let slot: number | undefined;
  for (const command of commands) {
    const [name, args] = argsOf(command);
    for (const key of new Command(name, args).getKeys()) {
      const s = keySlot(typeof key === "string" ? key : Buffer.from(key as Buffer));
      if (slot === undefined) slot = s;
      else if (s !== slot) return true;
    }
  }
  return false;
}

/** Minimum time between two re-reads of a service's secret after authentication failures. */
const SECRET_RELOAD_INTERVAL_MS = 1000;
/**
 * How much later than its request's deadline a single command may time out when ioredis's own
 * `commandTimeout` is left to bound it (instead of a second timer per request).
 */
const DEADLINE_SLACK_MS = 10;

/** The Redis connections of one service, opened lazily. */
export class ServiceConnection {
  private secret: SecretPayload;
  private commands: RedisClient | undefined;
  private subscriber: RedisClient | undefined;
  private table: Promise<CommandTable> | undefined;
  /** The table `table` resolved to (for the current client), for synchronous use. */
  private loadedTable: CommandTable | undefined;
  /** ioredis's `commandTimeout` of the command client (ms), when it has one. */
  private readonly commandTimeout: number | undefined;
  private lastReload = Number.NEGATIVE_INFINITY;
  private reloading: Promise<void> | undefined;
  private closed = false;

  constructor(
    readonly service: GatewayService,
    private readonly settings: RedisConnectionSettings,
    private readonly onConnectionError: (error: Error) => void = () => undefined,
  ) {
    this.secret = service.secret;
    const { commandTimeout } = redisOptionsFromSecret(service.secret, settings);
    this.commandTimeout =
      typeof commandTimeout === "number" && commandTimeout > 0 ? commandTimeout : undefined;
  }

  /** The command client when it is connected and ready (no waiting needed), else undefined. */
  private readyClient(): RedisClient | undefined {
    const client = this.commands;
    return client !== undefined && client.status === "ready" && !this.closed ? client : undefined;
  }

  /**
   * The command table, without waiting, when the client is ready and the table has been read;
   * otherwise undefined (then use {@link commandTable}).
   */
  readyTable(): CommandTable | undefined {
    return this.readyClient() !== undefined ? this.loadedTable : undefined;
  }

  private build(): RedisClient {
    const client = createRedisClient(this.secret, this.settings);
    const onError = (error: Error) => {
      this.onConnectionError(error);
      if (isAuthFailure(error)) void this.reloadSecret();
    };
    client.on("error", onError);
    if (isCluster(client)) client.on("node error", onError);
    trackAvailability(client);
    return client;
  }

  /** The ready command client; waits at most until `deadline` (epoch ms). */
  async client(deadline: number): Promise<RedisClient> {
    if (this.closed) throw unavailable("gateway is closing");
    this.commands ??= this.build();
    const client = this.commands;
    await waitReady(client, deadline - Date.now());
    return client;
  }

  /** The command table of this connection: read once from `COMMAND`, else the static fallback. */
  async commandTable(deadline: number): Promise<CommandTable> {
    const client = await this.client(deadline);
    if (!this.table) {
      const loading = withDeadline(
        client.call("COMMAND"),
        deadline - Date.now(),
        this.settings.timeoutMs,
      ).then(
        (reply) => CommandTable.fromCommandReply(reply),
        (error: unknown) => {
          // Only a refusal by Redis means "no COMMAND here"; otherwise try again next time.
          if (isReplyError(error)) return CommandTable.fallback();
          if (this.table === loading) this.table = undefined;
          throw error;
        },
      );
      this.table = loading;
      loading.then(
        (table) => {
          if (this.table === loading) this.loadedTable = table;
        },
        () => undefined,
      );
    }
    return this.table;
  }

  private track<T>(promise: Promise<T>): Promise<T> {
    return promise.catch((error: unknown) => {
      this.noteFailure(error);
      throw error;
    });
  }

  /** To call with every error of {@link call}: re-reads the secret when Redis rejected it. */
  noteFailure(error: unknown): void {
    if (isAuthFailure(error)) void this.reloadSecret();
  }

  /**
   * Runs one command; the reply keeps raw bytes (Buffers) and exact integers (strings). When the
   * client is ready and ioredis's `commandTimeout` ends no later than `deadline` (give or take
   * {@link DEADLINE_SLACK_MS}), the command is sent at once and that timeout bounds it (a standalone
   * client's `commandTimeout` is `timeoutMs` unless `redisOptions` changed it); otherwise the call
   * waits for the connection and gets its own deadline timer. The caller passes every error to
   * {@link noteFailure} (one handler for both, instead of a promise layer per call).
   */
  call(command: readonly CommandArg[], deadline: number): Promise<RedisReply> {
    const client = this.readyClient();
    if (
      client !== undefined &&
      this.commandTimeout !== undefined &&
      !isCluster(client) &&
      this.commandTimeout <= deadline - Date.now() + DEADLINE_SLACK_MS
    ) {
      const [name, args] = argsOf(command);
      return client.callBuffer(name, args) as Promise<RedisReply>;
    }
    return this.callWhenReady(command, deadline);
  }

  private async callWhenReady(command: readonly CommandArg[], deadline: number): Promise<RedisReply> {
    const client = await this.client(deadline);
    const [name, args] = argsOf(command);
    // Tracked here too: an authentication failure arriving after the deadline still counts.
    const pending = this.track(client.callBuffer(name, args) as Promise<RedisReply>);
    return withDeadline(pending, deadline - Date.now(), this.settings.timeoutMs);
  }

  /** Runs commands in order without a transaction; each gets its own outcome. */
  async pipeline(commands: readonly (readonly CommandArg[])[], deadline: number): Promise<CommandOutcome[]> {
    if (commands.length === 0) return [];
    const client = await this.client(deadline);
    let pending: Promise<CommandOutcome[]>;
    if (isCluster(client)) {
      // A cluster pipeline must stay on one node; single commands are routed one by one.
      pending = Promise.all(
        commands.map((command) => {
          const [name, args] = argsOf(command);
          return (client.callBuffer(name, args) as Promise<RedisReply>).then(
            (reply): CommandOutcome => ({ reply }),
            (error: Error): CommandOutcome => ({ error }),
          );
        }),
      );
    } else {
      const batch = client.pipeline();
      for (const command of commands) {
        const [name, args] = argsOf(command);
        batch.callBuffer(name, args);
      }
      pending = batch.exec().then(settle);
    }
    const outcomes = await withDeadline(this.track(pending), deadline - Date.now(), this.settings.timeoutMs);
    const broken = outcomes.find((o) => "error" in o && !isReplyError(o.error));
    if (broken && "error" in broken) throw broken.error; // connection trouble: the whole request is 503
    for (const o of outcomes) if ("error" in o && isAuthFailure(o.error)) throw o.error;
    return outcomes;
  }

  /**
   * MULTI ... EXEC on this service's connection. Throws EXECABORT when Redis discards it. On a
   * cluster, a transaction whose keys hash to several slots can never run: it is refused with a 400
   * CROSSSLOT before anything is sent (a client must not retry it, unlike a 503).
   */
  async transaction(
    commands: readonly (readonly CommandArg[])[],
    deadline: number,
  ): Promise<CommandOutcome[]> {
    const client = await this.client(deadline);
    if (isCluster(client) && spansSlots(commands)) throw crossSlotError();
    const tx = client.multi();
    for (const command of commands) {
      const [name, args] = argsOf(command);
      tx.callBuffer(name, args);
    }
    const exec = tx.exec().catch((error: unknown) => {
      if (error instanceof Error && IOREDIS_CROSS_SLOT.test(error.message)) throw crossSlotError();
      throw error;
    });
    const results = await withDeadline(this.track(exec), deadline - Date.now(), this.settings.timeoutMs);
    if (results === null) throw new Error("Transaction aborted");
    return settle(results);
  }

  /** The dedicated SUBSCRIBE connection of this service (created on first use), ready. */
  async subscriberClient(deadline: number): Promise<RedisClient> {
    if (this.closed) throw unavailable("gateway is closing");
    if (!this.subscriber) {
      this.subscriber = this.build();
      this.subscriber.setMaxListeners(0);
    }
    const client = this.subscriber;
    await waitReady(client, deadline - Date.now());
    return client;
  }

  /** Reads the secret again (after an authentication failure) and reconnects when it changed. */
  reloadSecret(): Promise<void> {
    const reload = this.service.reloadSecret;
    if (!reload || this.closed) return Promise.resolve();
    if (this.reloading) return this.reloading;
    if (Date.now() - this.lastReload < SECRET_RELOAD_INTERVAL_MS) return Promise.resolve();
    this.lastReload = Date.now();
    this.reloading = (async () => {
      try {
        const fresh = await reload();
        const old = this.secret;
        const same =
          fresh.password === old.password &&
          fresh.username === old.username &&
          fresh.host === old.host &&
          fresh.port === old.port &&
          fresh.tls === old.tls;
        if (same || this.closed) return;
        this.secret = fresh;
        const previous = [this.commands, this.subscriber];
        this.commands = undefined;
        this.subscriber = undefined;
        this.table = undefined;
        this.loadedTable = undefined;
        for (const client of previous) client?.disconnect();
      } catch (error) {
        this.onConnectionError(error instanceof Error ? error : new Error(String(error)));
      } finally {
        this.reloading = undefined;
      }
    })();
    return this.reloading;
  }

  /** Closes both connections. */
  async close(): Promise<void> {
    this.closed = true;
    const clients = [this.commands, this.subscriber].filter((c): c is RedisClient => c !== undefined);
    this.commands = undefined;
    this.subscriber = undefined;
    this.loadedTable = undefined;
    await Promise.allSettled(
      clients.map(async (client) => {
        if (client.status === "ready") {
          await Promise.race([
            client.quit(),
            new Promise((resolve) => setTimeout(resolve, 500).unref()),
          ]).catch(() => undefined);
        }
        client.disconnect();
      }),
    );
  }
}
