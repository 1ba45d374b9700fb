/**
 * `@cacheplane/client/sessions`: sessions in a cache's keyspace with conflict-checked updates,
 * revocation and an optional source-of-truth loader (formerly `cache.sessions()`), a separate entry
 * point so that a bundle without sessions does not carry them.
 *
 *   import { createCache } from "@cacheplane/client";
 *   import { createSessionStore } from "@cacheplane/client/sessions";
 *   const sessions = createSessionStore<{ userId: string }>(createCache(), { ttl: 3600 });
 */
export {
  createSessionStore,
  type Session,
  SessionConflictError,
  type SessionStore,
  type SessionsOptions,
} from "./patterns/sessions.js";
