/**
 * Pub/sub with typed messages. Channels are `<keyspace>:<channel>` (the ACL's `&<keyspace>:*`).
 * On Redis, subscriptions use a dedicated connection (a subscribed connection cannot run other
 * commands); on the memory store messages go through an in-process bus. Messages use the
 * service's serializer, so Dates, Maps, BigInts... survive.
 */
import type { CacheService } from "../cache-service.js";
import { CacheConfigError } from "../errors.js";
import type { RedisClient } from "../redis-connection.js";
import { MemoryStore } from "../stores/memory-store.js";
import { RedisStore } from "../stores/redis-store.js";

export type MessageHandler<T> = (message: T, channel: string) => void;

export interface PubSub<M extends Record<string, unknown>> {
  /** Publishes; returns how many subscribers received it (0 when the store is unavailable). */
  publish<C extends keyof M & string>(channel: C, message: M[C]): Promise<number>;
  /** Subscribes; resolves once the subscription is active, to an unsubscribe function. */
  subscribe<C extends keyof M & string>(
    channel: C,
    handler: MessageHandler<M[C]>,
  ): Promise<() => Promise<void>>;
  /** Unsubscribes everything and closes the subscriber connection it opened. */
  close(): Promise<void>;
}

export function createPubSub<M extends Record<string, unknown>>(service: CacheService): PubSub<M> {
  const store = service.store;
  if (!(store instanceof RedisStore) && !(store instanceof MemoryStore)) {
    throw new CacheConfigError(`pubsub needs redis or memory storage (this cache uses ${store.kind})`, [
      "CACHE_STORAGE_TYPE",
    ]);
  }
  const serializer = service.serializer;
  const handlers = new Map<string, Set<MessageHandler<unknown>>>();
  let subscriber: Promise<{ client: RedisClient; prefix: string }> | undefined;

  const checkChannel = (channel: string) => {
    if (typeof channel !== "string" || channel.length === 0) {
      throw new CacheConfigError("Channel must be a non-empty string", ["channel"]);
    }
  };

  const dispatch = (fullChannel: string, channel: string, payload: Buffer) => {
    const set = handlers.get(fullChannel);
    if (!set || set.size === 0) return;
    let message: unknown;
    try {
      message = serializer.decode(payload, fullChannel);
    } catch {
      return;
    }
    for (const handler of set) {
      try {
        handler(message, channel);
      } catch {
        // a failing handler does not stop the others
      }
    }
  };

  if (store instanceof MemoryStore) {
    const prefix = `${store.keyspace}:`;
    const listeners = new Map<string, (payload: Buffer) => void>();
    return {
      async publish(channel, message) {
        checkChannel(channel);
        const full = prefix + channel;
        const payload = serializer.encode(message, full);
        const receivers = store.bus.listenerCount(full);
        store.bus.emit(full, payload);
        return receivers;
      },
      async subscribe(channel, handler) {
        checkChannel(channel);
        const full = prefix + channel;
        let set = handlers.get(full);
        if (!set) {
          set = new Set();
          handlers.set(full, set);
          const listener = (payload: Buffer) => dispatch(full, channel, payload);
          listeners.set(full, listener);
          store.bus.on(full, listener);
        }
        set.add(handler as MessageHandler<unknown>);
        return async () => {
          set.delete(handler as MessageHandler<unknown>);
          if (set.size === 0 && handlers.get(full) === set) {
            handlers.delete(full);
            const listener = listeners.get(full);
            if (listener) store.bus.off(full, listener);
            listeners.delete(full);
          }
        };
      },
      async close() {
        handlers.clear();
        for (const [full, listener] of listeners) store.bus.off(full, listener);
        listeners.clear();
      },
    };
  }

  const redis = store;
  const getSubscriber = () => {
    if (!subscriber) {
      subscriber = redis.subscriber().then((sub) => {
        sub.client.on("messageBuffer", (channel: Buffer, payload: Buffer) => {
          const full = channel.toString("utf8");
          dispatch(full, full.slice(sub.prefix.length), payload);
        });
        return sub;
      });
      subscriber.catch(() => {
        subscriber = undefined;
      });
    }
    return subscriber;
  };

  return {
    async publish(channel, message) {
      checkChannel(channel);
      const r = await service._run(
        "publish",
        channel,
        (s) => {
          if (!(s instanceof RedisStore)) throw new Error(`publish is not supported on ${s.kind}`);
          return s.with(async (client, prefix) => {
            const full = prefix + channel;
            return client.publish(full, serializer.encode(message, full));
          });
        },
        { fallback: false },
      );
      return r.ok ? r.value : 0;
    },
    async subscribe(channel, handler) {
      checkChannel(channel);
      const { client, prefix } = await getSubscriber();
      const full = prefix + channel;
      let set = handlers.get(full);
      if (!set) {
        set = new Set();
        handlers.set(full, set);
        await client.subscribe(full);
      }
      set.add(handler as MessageHandler<unknown>);
      return async () => {
        set.delete(handler as MessageHandler<unknown>);
        if (set.size === 0 && handlers.get(full) === set) {
          handlers.delete(full);
          await client.unsubscribe(full).catch(() => undefined);
        }
      };
    },
    async close() {
      const pending = subscriber;
      subscriber = undefined;
      handlers.clear();
      if (!pending) return;
      const sub = await pending.catch(() => undefined);
      if (!sub) return;
      sub.client.disconnect();
    },
  };
}
