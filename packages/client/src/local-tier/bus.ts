/**
 * The invalidation bus of the local tier: PUBLISH on `<keyspace>:__cp:bus` (the service's own channel
 * pattern `&<keyspace>:*`), and one dedicated subscriber connection that tells whether this process
 * can trust its local copies:
 *
 * - `epoch` changes whenever the subscription is lost or made again: entries stored under another
 *   epoch are never served (after a reconnect, messages sent meanwhile may be lost);
 * - `lastHeard` is the time of the last sign of life of that connection (a PING reply, which Redis
 *   sends after every message published before it, or a message); a caller serves local entries
 *   only while it is recent (a frozen Lambda hears nothing).
 *
 * Standalone: the subscriber is the connection's duplicate; its `close` ends the epoch. Cluster:
 * ioredis subscribes through one node's connection (`ClusterSubscriber`), replaced by another when
 * it ends; the connection in use is compared with the confirmed one on every check.
 */
import { randomBytes } from "node:crypto";
import type { Redis } from "ioredis";
import { isCluster, type RedisClient } from "../connection-options.js";
import { CacheConfigError } from "../errors.js";
import { BUS_CHANNEL } from "../internal-keys.js";
import type { RedisStore } from "../stores/redis-store.js";
import { type BusMessage, decodeMessage, encodeHello, SENDER_ID_LENGTH } from "./messages.js";

export interface BusListener {
  /** A message of another process. */
  message(message: BusMessage): void;
  /** The subscription was lost (or a message could not be read): drop every local entry. */
  lost(): void;
}

/** The Redis connection that carries the subscription now (cluster: the subscriber node's). */
function subscriberConnection(client: RedisClient): Redis | undefined {
  if (!isCluster(client)) return client;
  const subscriber = (client as unknown as { subscriber?: { getInstance?: () => Redis | null } }).subscriber;
  return subscriber?.getInstance?.() ?? undefined;
}

/** A NOPERM reply as a configuration error naming what the ACL must allow; other errors as they are. */
function permissionError(err: unknown, command: string, channel: string): unknown {
  if (!(err instanceof Error) || !err.message.startsWith("NOPERM")) return err;
  return new CacheConfigError(
    `The local tier needs ${command} on its invalidation channel "${channel}", and the service's ACL ` +
      "refuses it. Grant pub/sub on the service's own channels (&<keyspace>:*, as the read-write preset " +
      "does; read-only cannot PUBLISH), or remove the `local` option.",
    ["local"],
    { operation: "local", cause: err },
  );
}

const NO_RETRY_BEFORE_MS = 100;

export class InvalidationBus {
  /** This process's id in messages (its own messages are ignored). */
  readonly sender = randomBytes(SENDER_ID_LENGTH / 2).toString("hex");
  /** Changes whenever the subscription is lost or made again. */
  epoch = 0;
  /** Whether the subscription is confirmed (see {@link alive} for the per-call check). */
  up = false;
  /** The clock's time of the last sign of life of the subscriber connection. */
  lastHeard = Number.NEGATIVE_INFINITY;
  /** Set when the ACL refuses the bus: every later use of the local tier throws it. */
  failure: CacheConfigError | undefined;
  private sub: { client: RedisClient; channel: string; channelBytes: Buffer } | undefined;
  private confirmed: Redis | undefined;
  private clustered = false;
  private starting: Promise<void> | undefined;
  private helloSent = false;
  private lastAttempt = Number.NEGATIVE_INFINITY;
  private pingSentAt: number | undefined;
  private timer: NodeJS.Timeout | undefined;
  private closed = false;

  constructor(
    private readonly store: RedisStore,
    private readonly heartbeatMs: number,
    private readonly maxSilenceMs: number,
    private readonly now: () => number,
    private readonly listener: BusListener,
    private readonly report: (err: unknown) => void,
  ) {}

  /** True while the confirmed subscription is still the one in use and its connection is open. */
  alive(): boolean {
    const conn = this.confirmed;
    if (!this.up || conn === undefined || conn.status !== "ready") return false;
    if (this.clustered && this.sub !== undefined && subscriberConnection(this.sub.client) !== conn) {
      this.lose();
      return false;
    }
    return true;
  }

  /** Subscribes (once; again after a loss) and resolves when the subscription is confirmed. */
  connect(): Promise<void> {
    if (this.failure) return Promise.reject(this.failure);
    if (this.closed) return Promise.resolve();
    if (this.up && this.alive()) return Promise.resolve();
    if (this.starting === undefined) {
      this.lastAttempt = performance.now();
      this.starting = this.subscribe()
        .catch((err: unknown) => {
          if (err instanceof CacheConfigError) this.failure = err;
          throw err;
        })
        .finally(() => {
          this.starting = undefined;
        });
    }
    return this.starting;
  }

  /**
   * In the background: subscribes when the bus is down (at most every 100 ms), or asks for a sign of
   * life when it has been silent. Never throws.
   */
  wake(): void {
    if (this.closed || this.failure !== undefined || this.starting !== undefined) return;
    if (this.up && this.alive()) {
      this.ping();
      return;
    }
    if (performance.now() - this.lastAttempt < NO_RETRY_BEFORE_MS) return;
    this.connect().catch((err: unknown) => {
      if (!(err instanceof CacheConfigError)) this.report(err);
    });
  }

  /** PUBLISH on the bus channel (through the store's command connection). */
  async publish(text: string): Promise<void> {
    let channel = BUS_CHANNEL;
    try {
      await this.store.with((client, prefix) => {
        channel = prefix + BUS_CHANNEL;
        return client.publish(channel, text);
      });
    } catch (err) {
      throw permissionError(err, "PUBLISH", channel);
    }
  }

  close(): void {
    this.closed = true;
    clearInterval(this.timer);
    this.timer = undefined;
    this.up = false;
    this.confirmed = undefined;
    const sub = this.sub;
    this.sub = undefined;
    sub?.client.disconnect();
  }

  private async subscribe(): Promise<void> {
    let sub = this.sub;
    if (sub === undefined) {
      const { client, prefix } = await this.store.subscriber();
      if (this.closed) {
        client.disconnect();
        return;
      }
      const channel = prefix + BUS_CHANNEL;
      const made = { client, channel, channelBytes: Buffer.from(channel, "utf8") };
      this.clustered = isCluster(client);
      client.on("messageBuffer", (from: Buffer, payload: Buffer) => this.onMessage(made, from, payload));
      // The connection was closed for good (its secret moved to another endpoint, or close()).
      client.once("end", () => {
        if (this.sub !== made) return;
        this.sub = undefined;
        this.lose();
      });
      if (!this.clustered) client.on("ready", () => this.wake());
      this.sub = sub = made;
      this.startHeartbeat();
    }
    try {
      await sub.client.subscribe(sub.channel);
    } catch (err) {
      throw permissionError(err, "SUBSCRIBE", sub.channel);
    }
    if (!this.helloSent) {
      // PUBLISH is checked once when the bus starts, so a user without it fails here, not at a write.
      await this.publish(encodeHello(this.sender));
      this.helloSent = true;
    }
    // The subscription is confirmed on the connection that carries it: its PING reply comes after
    // the SUBSCRIBE (made again after a reconnect) on the same connection.
    const conn = subscriberConnection(sub.client);
    if (conn === undefined || conn.status !== "ready") throw new Error("the bus subscriber is not connected");
    let closed = false;
    const onClose = () => {
      closed = true;
    };
    conn.once("close", onClose);
    try {
      await conn.ping();
    } finally {
      conn.off("close", onClose);
    }
    if (closed || conn.status !== "ready" || subscriberConnection(sub.client) !== conn || this.closed) {
      throw new Error("the bus subscriber connection was lost while subscribing");
    }
    this.confirmed = conn;
    conn.once("close", () => {
      if (this.confirmed === conn) this.lose();
    });
    this.epoch++;
    this.up = true;
    this.lastHeard = this.now();
  }

  private lose(): void {
    this.up = false;
    this.confirmed = undefined;
    this.pingSentAt = undefined;
    this.epoch++;
    this.listener.lost();
  }

  private startHeartbeat(): void {
    if (this.timer !== undefined) return;
    this.timer = setInterval(() => this.wake(), this.heartbeatMs);
    this.timer.unref?.();
  }

  /** One PING at a time (a new one when the last got no answer within maxSilence). */
  private ping(): void {
    const conn = this.confirmed;
    if (conn === undefined) return;
    const sentAt = performance.now();
    if (this.pingSentAt !== undefined && sentAt - this.pingSentAt < this.maxSilenceMs) return;
    this.pingSentAt = sentAt;
    const epoch = this.epoch;
    conn.ping().then(
      () => {
        if (this.pingSentAt === sentAt) this.pingSentAt = undefined;
        if (this.epoch === epoch && this.confirmed === conn) this.lastHeard = this.now();
      },
      () => {
        if (this.pingSentAt === sentAt) this.pingSentAt = undefined;
      },
    );
  }

  private onMessage(sub: { channelBytes: Buffer }, from: Buffer, payload: Buffer | undefined): void {
    if (!sub.channelBytes.equals(from)) return;
    if (this.up) this.lastHeard = this.now();
    const message = decodeMessage(payload === undefined ? "" : payload.toString("utf8"));
    if (message === undefined) {
      // Not a message of this client: drop everything rather than guess.
      this.listener.lost();
      return;
    }
    if (message.sender === this.sender || message.type === "hello") return;
    this.listener.message(message);
  }
}
