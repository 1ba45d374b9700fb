/**
 * The gateway's use of Redis: one connection per service user, built from the service's secret payload
 * by the shared implementation in `@cacheplane/client/connection` (TLS, cluster, IAM tokens, deadlines,
 * no offline queue, fail-fast while Redis is known to be down, secret re-read after an authentication
 * failure), plus a dedicated connection for SUBSCRIBE when needed. What is the gateway's own: replies
 * as raw bytes and exact integers, per-request deadlines that answer 503, the command table, pipelines,
 * transactions and the cross-slot check.
 */
import type { ConnectionOptions } from "node:tls";
import {
  iamAuthFromEnv,
  isCluster,
  keySlot,
  type RedisClient,
  RedisConnection,
  RedisUnavailableError,
  withDeadline as raceDeadline,
  type SecretProvider,
  waitReady as waitClientReady,
} from "@cacheplane/client/connection";
import type { SecretPayload } from "@cacheplane/core/secret";
import { Command, type RedisOptions } from "ioredis";
import type { CommandArg } from "./command-policy.js";
import { CommandTable } from "./command-table.js";
import { GatewayError, unavailable } from "./errors.js";
import { isAuthFailure, isReplyError } from "./redis-errors.js";
import type { RedisReply } from "./reply-encoding.js";
import type { GatewayService } from "./services.js";

export type { RedisClient } from "@cacheplane/client/connection";

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

/** The gateway's defaults, which `redisOptions` may change: nothing is re-sent after a reconnect. */
const GATEWAY_REDIS_DEFAULTS: Partial<RedisOptions> = { autoResendUnfulfilledCommands: false };
/**
 * Not overridable: service users have no INFO (no ready check); replies must keep exact integers;
 * keys are never prefixed; and ioredis's auto-pipelining does not support the Buffer-reply calls the
 * gateway makes. The shared implementation keeps the offline queue off and batches the writes of each
 * event-loop turn instead (one socket write for the commands of all requests served in that turn, each
 * command with its own reply, error and timeout: docs/decisions/0021).
 */
const GATEWAY_REDIS_FIXED: Partial<RedisOptions> = {
  enableReadyCheck: false,
  stringNumbers: true,
  keyPrefix: "",
  enableAutoPipelining: false,
};
/** The gateway reconnects at least once a second (the `Retry-After: 1` of its 503s relies on it). */
const GATEWAY_MAX_RECONNECT_DELAY_MS = 1000;

/** Rejects with a 503 when `promise` has not settled `ms` from now (`timeoutMs` is named in the message). */
export function withDeadline<T>(promise: Promise<T>, ms: number, timeoutMs: number): Promise<T> {
  return raceDeadline(promise, ms, () => unavailable(`no answer within ${timeoutMs} ms`));
}

/**
 * The IAM token provider for a secret that says `auth: "iam"` (ElastiCache): the service's own user,
 * the cache named by `REDIS_IAM_CACHE_NAME`, AWS credentials from the environment. Password secrets
 * get none, whatever the environment says (one gateway serves many services).
 */
function iamAuthForService(payload: SecretPayload) {
  if (payload.auth !== "iam") return undefined;
  const env = process.env;
  return iamAuthFromEnv(
    {
      REDIS_AUTH_MODE: "iam",
      REDIS_IAM_CACHE_NAME: env.REDIS_IAM_CACHE_NAME,
      REDIS_IAM_SERVERLESS: env.REDIS_IAM_SERVERLESS,
      AWS_REGION: env.AWS_REGION ?? env.AWS_DEFAULT_REGION,
    },
    payload,
  );
}

/**
 * The service's secret: the payload it was loaded with, and after an authentication failure a re-read
 * (`reloadSecret`), at most once per {@link SECRET_RELOAD_INTERVAL_MS}.
 */
function serviceSecret(service: GatewayService): SecretProvider {
  let secret = service.secret;
  let lastReload = Number.NEGATIVE_INFINITY;
  return {
    async get(options) {
      const reload = service.reloadSecret;
      if (options?.forceRefresh && reload && Date.now() - lastReload >= SECRET_RELOAD_INTERVAL_MS) {
        lastReload = Date.now();
        secret = await reload();
      }
      return secret;
    },
  };
}

/** The 503 for a connection that is not usable within the request's budget. */
function notConnected(error: unknown, budgetMs: number): unknown {
  if (!(error instanceof RedisUnavailableError)) return error;
  return error.reason === "timeout"
    ? unavailable(`not connected within ${Math.max(0, Math.round(budgetMs))} ms`)
    : unavailable("not connected (reconnecting in the background)");
}

/** Resolves once `client` (a service connection or one cluster node) is ready; a 503 otherwise. */
export async function waitReady(client: RedisClient, budgetMs: number): Promise<void> {
  try {
    await waitClientReady(client, budgetMs);
  } catch (error) {
    throw notConnected(error, budgetMs);
  }
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
  private readonly redis: RedisConnection;
  private subscriber: RedisClient | undefined;
  private subscriberOpening: Promise<RedisClient> | undefined;
  /** The command table of each client (a rebuilt client, e.g. after a rotation, reads it again). */
  private readonly tables = new WeakMap<RedisClient, Promise<CommandTable>>();
  /** The tables that resolved, for synchronous use. */
  private readonly loadedTables = new WeakMap<RedisClient, CommandTable>();
  /** ioredis's `commandTimeout` of the command client (ms), when it has one. */
  private readonly commandTimeout: number | undefined;
  private closed = false;

  constructor(
    readonly service: GatewayService,
    private readonly settings: RedisConnectionSettings,
    private readonly onConnectionError: (error: Error) => void = () => undefined,
  ) {
    const redisOptions = { ...GATEWAY_REDIS_DEFAULTS, ...settings.redisOptions, ...GATEWAY_REDIS_FIXED };
    this.redis = new RedisConnection({
      source: serviceSecret(service),
      commandTimeoutMs: settings.timeoutMs,
      connectTimeoutMs: settings.timeoutMs,
      maxRetriesPerRequest: 0,
      maxReconnectDelayMs: GATEWAY_MAX_RECONNECT_DELAY_MS,
      ...(settings.tls ? { tls: settings.tls } : {}),
      iamAuthFor: iamAuthForService,
      redisOptions,
    });
    this.redis.onError(this.onConnectionError);
    const commandTimeout = redisOptions.commandTimeout ?? settings.timeoutMs;
    this.commandTimeout =
      typeof commandTimeout === "number" && commandTimeout > 0 ? commandTimeout : undefined;
  }

  /** The command client when it is connected and ready (no waiting needed), else undefined. */
  private readyClient(): RedisClient | undefined {
    return this.closed ? undefined : this.redis.readyClient();
  }

  /**
   * The command table, without waiting, when the client is ready and the table has been read;
   * otherwise undefined (then use {@link commandTable}).
   */
  readyTable(): CommandTable | undefined {
    const client = this.readyClient();
    return client !== undefined ? this.loadedTables.get(client) : undefined;
  }

  /** The ready command client; waits at most until `deadline` (epoch ms). */
  async client(deadline: number): Promise<RedisClient> {
    if (this.closed) throw unavailable("gateway is closing");
    const budget = deadline - Date.now();
    try {
      return await this.redis.ready(budget);
    } catch (error) {
      // Not a connection problem but a setup one (an unreadable secret, IAM auth without a cache
      // name): the log says what to fix, the client gets a 503.
      if (!(error instanceof RedisUnavailableError) && error instanceof Error) this.onConnectionError(error);
      throw notConnected(error, budget);
    }
  }

  /** The command table of this connection: read once from `COMMAND`, else the static fallback. */
  async commandTable(deadline: number): Promise<CommandTable> {
    const client = await this.client(deadline);
    let table = this.tables.get(client);
    if (!table) {
      const loading = withDeadline(
        client.call("COMMAND"),
        deadline - Date.now(),
        this.settings.timeoutMs,
      ).then(
        (reply) => CommandTable.fromCommandReply(reply),
        (error: unknown) => {
          // Only a refusal by Redis means "no COMMAND here"; otherwise try again next time.
          if (isReplyError(error)) return CommandTable.fallback();
          if (this.tables.get(client) === loading) this.tables.delete(client);
          throw error;
        },
      );
      table = loading;
      this.tables.set(client, loading);
      loading.then(
        (loaded) => {
          if (this.tables.get(client) === loading) this.loadedTables.set(client, loaded);
        },
        () => undefined,
      );
    }
    return table;
  }

  private track<T>(promise: Promise<T>): Promise<T> {
    return promise.catch((error: unknown) => {
      this.noteFailure(error);
      throw error;
    });
  }

  /** To call with every error of {@link call}: re-reads the secret when Redis rejected it. */
  noteFailure(error: unknown): void {
    this.redis.noteCommandError(error);
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
    for (const o of outcomes) {
      if ("error" in o && isAuthFailure(o.error)) {
        this.noteFailure(o.error);
        throw o.error;
      }
    }
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

  /**
   * The dedicated SUBSCRIBE connection of this service (opened on first use, again after it ended),
   * ready. Fails fast like the command connection.
   */
  async subscriberClient(deadline: number): Promise<RedisClient> {
    if (this.closed) throw unavailable("gateway is closing");
    const budget = deadline - Date.now();
    const existing = this.subscriber;
    try {
      if (existing !== undefined && existing.status !== "end") {
        await waitReady(existing, budget);
        return existing;
      }
      if (!this.subscriberOpening) {
        const opening = this.redis.subscriber(budget).then((client) => {
          client.setMaxListeners(0);
          if (this.closed) client.disconnect();
          else this.subscriber = client;
          return client;
        });
        this.subscriberOpening = opening;
        const settled = () => {
          if (this.subscriberOpening === opening) this.subscriberOpening = undefined;
        };
        opening.then(settled, settled);
      }
      return await this.subscriberOpening;
    } catch (error) {
      throw notConnected(error, budget);
    }
  }

  /** Closes both connections. */
  async close(): Promise<void> {
    this.closed = true;
    this.subscriber = undefined;
    await this.redis.close();
  }
}
