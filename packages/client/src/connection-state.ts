/**
 * Whether a Redis connection can be used now, and waiting for it with a deadline.
 *
 * A client is `up` once ready; `lost` when a ready connection closed (an idle timeout on the server,
 * CLIENT KILL, a failover: the first reconnect attempt is under way and gets its chance); `down` when a
 * connection attempt failed (the first one, or the reconnect after a loss; also every close of a
 * client that never got a reply, as from a TLS-only port to a plain connection), until it is ready
 * again.
 * While a client is known to be down, {@link waitReady} rejects at once instead of holding the caller
 * for a connection that the background reconnects will bring back: the gateway answers 503 at once,
 * the client's call is a miss at once. A server that accepts connections but does not answer is not
 * known to be down: callers wait until their deadline.
 */
import type { Cluster } from "ioredis";
import { describeConnectionError } from "./connection-errors.js";
import type { RedisClient } from "./connection-options.js";
import { CacheConnectionError } from "./errors.js";

/** Why a client could not be used. */
export type UnavailableReason =
  /** Known to be down: the last connection attempt failed; reconnecting in the background. */
  | "down"
  /** The connection attempt being waited for failed (refused, TLS, closed during the handshake). */
  | "failed"
  /** Not ready by the caller's deadline. */
  | "timeout";

/** A client that cannot be used now. The message names the server and the cause, never a password. */
export class RedisUnavailableError extends CacheConnectionError {
  override name = "RedisUnavailableError";
  constructor(
    message: string,
    readonly reason: UnavailableReason,
    cause?: unknown,
  ) {
    super(message, { operation: "connect", ...(cause === undefined ? {} : { cause }) });
  }
}

type Availability = "up" | "lost" | "down";

interface Tracked {
  state: Availability | undefined;
  /** The last connection-level error, for messages (cleared when ready). */
  lastError: Error | undefined;
  /** `host:port` for messages. */
  address: string;
  tls: boolean;
}

const tracked = new WeakMap<RedisClient, Tracked>();
const readyWaits = new WeakMap<RedisClient, Promise<void>>();

function describeClient(client: RedisClient): { address: string; tls: boolean } {
  if ((client as Cluster).isCluster === true) {
    const cluster = client as Cluster;
    const first = (cluster as unknown as { startupNodes?: { host?: string; port?: number }[] })
      .startupNodes?.[0];
    return {
      address: first ? `${first.host}:${first.port}` : "the cluster",
      tls: cluster.options.redisOptions?.tls !== undefined,
    };
  }
  const options = (client as Exclude<RedisClient, Cluster>).options;
  return { address: `${options.host}:${options.port}`, tls: options.tls !== undefined };
}

/**
 * Starts tracking `client`'s availability (idempotent). `createRedisClient` does it for the clients
 * it makes; call it for a client made otherwise (before it connects).
 */
export function trackAvailability(client: RedisClient): void {
  if (tracked.has(client)) return;
  const info: Tracked = { state: undefined, lastError: undefined, ...describeClient(client) };
  tracked.set(client, info);
  // Without a ready check ioredis calls a connection ready before the server said anything. A client
  // whose connections never got a single reply (a TLS-only port drops a plain connection at the first
  // bytes; a proxy refusing it) never worked: its closes are failed attempts, not lost connections.
  let answered = (client as Cluster).isCluster === true;
  if (!answered) {
    const standalone = client as Exclude<RedisClient, Cluster>;
    standalone.on("connect", () => {
      if (!answered)
        standalone.stream?.once("data", () => {
          answered = true;
        });
    });
  }
  client.on("close", () => {
    info.state = info.state === "up" && answered ? "lost" : "down";
  });
  client.on("ready", () => {
    info.state = "up";
    info.lastError = undefined;
  });
  const onError = (error: Error) => {
    info.lastError = error;
  };
  client.on("error", onError);
  if ((client as Cluster).isCluster === true) client.on("node error", onError);
}

/** True while `client` is known to be down (see the module comment). */
export function isKnownDown(client: RedisClient): boolean {
  return tracked.get(client)?.state === "down" && client.status !== "ready";
}

/**
 * The last connection-level error of `client` since it was last ready (undefined when none), e.g. to
 * describe it with `describeConnectionError`.
 */
export function lastConnectionError(client: RedisClient): Error | undefined {
  return tracked.get(client)?.lastError;
}

function unavailable(client: RedisClient, reason: UnavailableReason, what: string): RedisUnavailableError {
  const info = tracked.get(client) ?? { ...describeClient(client), lastError: undefined };
  const cause = info.lastError;
  const why = cause ? `: ${describeConnectionError(cause, { tls: info.tls })}` : "";
  return new RedisUnavailableError(`Redis at ${info.address} ${what}${why}`, reason, cause);
}

/**
 * One shared "ready" promise per client while it connects (no listener per waiting caller). It
 * rejects when the connection attempt under way fails (`close` before `ready`).
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
        reject(unavailable(client, "failed", "is not connected (reconnecting in the background)"));
      };
      client.once("ready", onReady);
      client.once("close", onClose);
    }).finally(() => readyWaits.delete(client));
    wait.catch(() => undefined);
    readyWaits.set(client, wait);
  }
  // "wait": lazy and never connected; "end": closed. Other states reconnect on their own.
  if (client.status === "wait" || client.status === "end") client.connect().catch(() => undefined);
  return wait;
}

/**
 * Resolves once `client` is ready, connecting it if needed. Rejects with a
 * {@link RedisUnavailableError}: at once while the client is known to be down (`down`), as soon as
 * the connection attempt under way fails (`failed`), or after `timeoutMs` (`timeout`: a server that
 * accepts the connection but does not answer).
 */
export function waitReady(client: RedisClient, timeoutMs: number): Promise<void> {
  if (client.status === "ready") return Promise.resolve();
  trackAvailability(client);
  if (isKnownDown(client)) {
    return Promise.reject(unavailable(client, "down", "is not connected (reconnecting in the background)"));
  }
  let timer: NodeJS.Timeout | undefined;
  const expired = new Promise<never>((_, reject) => {
    timer = setTimeout(
      () => reject(unavailable(client, "timeout", `is not ready within ${timeoutMs} ms (${client.status})`)),
      Math.max(0, timeoutMs),
    );
  });
  return Promise.race([readyPromise(client), expired]).finally(() => clearTimeout(timer));
}

/**
 * `promise`, or a rejection with `expired()` when it has not settled `ms` from now (the timer is
 * cleared as soon as it settles; a late rejection of `promise` is ignored).
 */
export function withDeadline<T>(promise: Promise<T>, ms: number, expired: () => Error): Promise<T> {
  promise.catch(() => undefined);
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(expired()), Math.max(0, ms));
  });
  return Promise.race([promise, deadline]).finally(() => clearTimeout(timer));
}
