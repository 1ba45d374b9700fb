/**
 * `@cacheplane/client/local`: the local (in-process) tier, a separate entry point so that a bundle
 * without it carries neither lru-cache nor the invalidation bus.
 *
 *   import { createCache } from "@cacheplane/client";
 *   import { localTier } from "@cacheplane/client/local";
 *   const cache = createCache({ local: localTier({ maxEntries: 1000, ttl: 5 }) });
 */

import type { LocalTierFactory } from "./local-tier/contract.js";
import { createLocalTier } from "./local-tier/local-tier.js";
import { type LocalTierOptions, localTierSettings } from "./local-tier/options.js";

export type { LocalTierFactory, LocalTierStats } from "./local-tier/contract.js";
export type { LocalTierOptions } from "./local-tier/options.js";

/** The `local` option of `createCache` / `CacheService`: options are checked now (CacheConfigError). */
export function localTier(options: LocalTierOptions = {}): LocalTierFactory {
  localTierSettings(options, undefined);
  return { create: (host) => createLocalTier(host, options) };
}
