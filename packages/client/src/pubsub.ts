/**
 * `@cacheplane/client/pubsub`: pub/sub with typed messages on channels prefixed with a cache's
 * keyspace, over a dedicated subscriber connection (formerly `cache.pubsub()`), a separate entry
 * point so that a bundle without pub/sub does not carry it.
 *
 *   import { createCache } from "@cacheplane/client";
 *   import { createPubSub } from "@cacheplane/client/pubsub";
 *   const bus = createPubSub<{ "order-created": { id: string } }>(createCache());
 */
export { createPubSub, type MessageHandler, type PubSub } from "./patterns/pubsub.js";
