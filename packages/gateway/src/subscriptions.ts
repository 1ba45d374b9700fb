/**
 * SUBSCRIBE / PSUBSCRIBE over Server-Sent Events, in Upstash's format (`data: subscribe,<channel>,1`,
 * `data: message,<channel>,<message>`, `data: pmessage,<pattern>,<channel>,<message>`). Every service
 * has one dedicated subscriber connection (its own Redis user, so the ACL's `&<keyspace>:*` channel
 * rule applies); streams share it, and a channel is unsubscribed when its last stream closes.
 */
import { GatewayError, unavailable } from "./errors.js";
import { type RedisClient, type ServiceConnection, withDeadline } from "./redis-connection.js";
import { toGatewayError } from "./redis-errors.js";

/** `channel` for SUBSCRIBE, `pattern` for PSUBSCRIBE. */
export type SubscriptionKind = "channel" | "pattern";

/** Limits of one service's subscriptions. */
export interface SubscriptionLimits {
  /** Open SSE streams per service. @default 100 */
  maxStreams: number;
  /** Interval of `: keep-alive` comments, so proxies keep idle streams open. @default 15000 */
  heartbeatMs: number;
}

/**
 * How a namespaced stream sees names: Redis names carry the keyspace prefix, the client's do not.
 * Pattern subscriptions of a namespaced token subscribe to `<keyspace>:*` on Redis (the ACL compares
 * PSUBSCRIBE patterns literally, so `<keyspace>:news:*` would be refused) and the gateway matches each
 * message's channel against the client's own patterns, as Redis would.
 */
export interface SubscriptionView {
  /** The names the client asked for (shown in `subscribe,<name>,<n>`). */
  shown: string[];
  /** A Redis channel or pattern as the client sees it. */
  display(name: string): string;
  /** Namespaced pattern streams: the client's patterns and their matchers. */
  patterns?: { pattern: string; matches(channel: string): boolean }[];
}

interface Listener {
  kind: SubscriptionKind;
  names: string[];
  view?: SubscriptionView;
  send(text: string): void;
  close(): void;
}

const encoder = new TextEncoder();

/** One SSE event; a payload with line breaks becomes several `data:` lines (EventSource joins them). */
export function sseEvent(payload: string): string {
  return `${payload
    .split(/\r\n|\r|\n/)
    .map((line) => `data: ${line}`)
    .join("\n")}\n\n`;
}

/** The subscriptions of one service. */
export class SubscriptionHub {
  private readonly listeners = new Set<Listener>();
  private readonly counts = new Map<string, number>();
  private readonly pending = new Map<string, Promise<void>>();
  private client: RedisClient | undefined;
  private closed = false;

  constructor(
    private readonly connection: ServiceConnection,
    private readonly limits: SubscriptionLimits,
    private readonly timeoutMs: number,
  ) {}

  private key(kind: SubscriptionKind, name: string): string {
    return `${kind}:${name}`;
  }

  private attach(client: RedisClient): void {
    if (this.client === client) return;
    this.client = client;
    this.counts.clear();
    client.on("messageBuffer", (channel: Buffer, message: Buffer) => {
      const ch = channel.toString("utf8");
      const text = message.toString("utf8");
      const event = sseEvent(`message,${ch},${text}`);
      for (const l of this.listeners) {
        if (l.kind !== "channel" || !l.names.includes(ch)) continue;
        l.send(l.view ? sseEvent(`message,${l.view.display(ch)},${text}`) : event);
      }
    });
    client.on("pmessageBuffer", (pattern: Buffer, channel: Buffer, message: Buffer) => {
      const p = pattern.toString("utf8");
      const ch = channel.toString("utf8");
      const text = message.toString("utf8");
      const event = sseEvent(`pmessage,${p},${ch},${text}`);
      for (const l of this.listeners) {
        if (l.kind !== "pattern" || !l.names.includes(p)) continue;
        const view = l.view;
        if (!view) {
          l.send(event);
          continue;
        }
        const shownChannel = view.display(ch);
        if (!view.patterns) {
          l.send(sseEvent(`pmessage,${view.display(p)},${shownChannel},${text}`));
          continue;
        }
        for (const { pattern: own, matches } of view.patterns) {
          if (matches(shownChannel)) l.send(sseEvent(`pmessage,${own},${shownChannel},${text}`));
        }
      }
    });
    client.once("end", () => {
      // The connection was replaced (new secret) or closed: end the streams; clients reconnect.
      if (this.client === client) this.client = undefined;
      for (const l of [...this.listeners]) l.close();
    });
  }

  private async subscribe(kind: SubscriptionKind, name: string, deadline: number): Promise<void> {
    const key = this.key(kind, name);
    const count = this.counts.get(key) ?? 0;
    if (count > 0) {
      this.counts.set(key, count + 1);
      return;
    }
    const inFlight = this.pending.get(key);
    if (inFlight) {
      await inFlight;
      this.counts.set(key, (this.counts.get(key) ?? 0) + 1);
      return;
    }
    const run = (async () => {
      const client = await this.connection.subscriberClient(deadline);
      this.attach(client);
      const call = kind === "channel" ? client.subscribe(name) : client.psubscribe(name);
      await withDeadline(call, deadline - Date.now(), this.timeoutMs);
    })();
    this.pending.set(key, run);
    try {
      await run;
      this.counts.set(key, (this.counts.get(key) ?? 0) + 1);
    } finally {
      this.pending.delete(key);
    }
  }

  private release(kind: SubscriptionKind, name: string): void {
    const key = this.key(kind, name);
    const count = (this.counts.get(key) ?? 0) - 1;
    if (count > 0) {
      this.counts.set(key, count);
      return;
    }
    this.counts.delete(key);
    const client = this.client;
    if (client?.status !== "ready") return;
    const call = kind === "channel" ? client.unsubscribe(name) : client.punsubscribe(name);
    call.catch(() => undefined);
  }

  /**
   * Subscribes to `names` and returns the SSE body. Rejects with 403 (NOPERM from the ACL), 429 (too
   * many streams) or 503 (Redis unreachable) before any byte is sent.
   */
  async open(
    kind: SubscriptionKind,
    names: string[],
    deadline: number,
    view?: SubscriptionView,
  ): Promise<ReadableStream<Uint8Array>> {
    if (this.closed) throw unavailable("gateway is closing");
    if (this.listeners.size >= this.limits.maxStreams) {
      throw new GatewayError(
        429,
        `ERR too many open subscriptions for this service (limit ${this.limits.maxStreams})`,
      );
    }
    const done: string[] = [];
    try {
      for (const name of names) {
        await this.subscribe(kind, name, deadline);
        done.push(name);
      }
    } catch (error) {
      for (const name of done) this.release(kind, name);
      throw toGatewayError(error, this.timeoutMs);
    }
    let listener: Listener | undefined;
    let heartbeat: NodeJS.Timeout | undefined;
    const finish = () => {
      if (!listener || !this.listeners.delete(listener)) return;
      clearInterval(heartbeat);
      for (const name of names) this.release(kind, name);
    };
    const verb = kind === "channel" ? "subscribe" : "psubscribe";
    return new ReadableStream<Uint8Array>({
      start: (controller) => {
        let open = true;
        listener = {
          kind,
          names,
          ...(view ? { view } : {}),
          send: (text) => {
            if (open) controller.enqueue(encoder.encode(text));
          },
          close: () => {
            if (!open) return;
            open = false;
            finish();
            controller.close();
          },
        };
        this.listeners.add(listener);
        (view?.shown ?? names).forEach((name, i) => {
          listener?.send(sseEvent(`${verb},${name},${i + 1}`));
        });
        heartbeat = setInterval(() => listener?.send(": keep-alive\n\n"), this.limits.heartbeatMs);
        heartbeat.unref();
      },
      cancel: () => {
        finish();
      },
    });
  }

  /** Ends every stream. */
  close(): void {
    this.closed = true;
    for (const l of [...this.listeners]) l.close();
  }
}
