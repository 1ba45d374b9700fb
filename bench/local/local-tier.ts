/**
 * Local tier rows (issue 12, item 1), standalone redis-server:
 *
 * - a local-tier hit (`get` with `local: {}`) vs a shared-store hit (`get` without the tier), same
 *   keys and value; goal >= 10x.
 * - two-tier `get` (local hit), `getOrSet` on a hit and `set` vs bentocache with its memory L1
 *   (`serialize: false`: it keeps decoded values, as the local tier does), redis L2 (ioredis) and
 *   redis bus, on the same redis-server, same value and keys; goal >= 1.0x.
 *
 * bentocache's bus channel (`bentocache.notifications`) and keys (`bentocache:*`) are outside the
 * service's ACL patterns, so bentocache connects as the admin user with the client's own ioredis
 * options otherwise (sockets, timeouts and retries identical; the offline queue on, which bentocache
 * needs to subscribe as it is built).
 */
import { createCache, type RedisStore } from "@cacheplane/client";
import { localTier } from "@cacheplane/client/local";
import type { SecretPayload } from "@cacheplane/core/secret";
import type { RedisServer } from "@cacheplane/testkit";
import { BentoCache, bentostore } from "bentocache";
import { memoryDriver } from "bentocache/drivers/memory";
import { redisBusDriver, redisDriver } from "bentocache/drivers/redis";
import type { RedisOptions } from "ioredis";
import { interleaved, roundRatios } from "../client/measure.js";
import { comparison, type RatioGoal } from "../lib/rows.js";
import { spread } from "../lib/stats.js";
import type { BenchRow } from "../types.js";

const LOCAL_VS_SHARED: RatioGoal = { min: 10, source: "issue 12, item 1" };
const VS_BENTOCACHE: RatioGoal = { min: 1, source: "issue 12, item 1" };

export async function localTierRows(
  server: RedisServer,
  secret: SecretPayload,
  value: unknown,
  settings: { rounds: number; ops: number; callers: number; keys: number },
): Promise<BenchRow[]> {
  const { rounds, ops, callers, keys } = settings;
  const k = (i: number) => `lt:${i % keys}`;
  const local = createCache({ secret, local: localTier({ maxEntries: keys * 2, ttl: 120 }) });
  const shared = createCache({ secret });
  await Promise.all([local.connect(), shared.connect()]);
  const own = (local.store as RedisStore).connection?.readyClient();
  if (!own || own.constructor.name === "Cluster") throw new Error("a ready standalone client was expected");
  const connection: RedisOptions = {
    ...(own.options as RedisOptions),
    username: server.admin.username,
    password: server.admin.password,
    // bentocache subscribes as it is built, before its connections are up.
    enableOfflineQueue: true,
    lazyConnect: false,
  };
  const bento = new BentoCache({
    default: "bench",
    stores: {
      bench: bentostore()
        .useL1Layer(memoryDriver({ maxItems: keys * 2, serialize: false }))
        .useL2Layer(redisDriver({ connection }))
        .useBus(redisBusDriver({ connection })),
    },
  });
  const rows: BenchRow[] = [];
  try {
    await local.setMany(Array.from({ length: keys }, (_, i) => ({ key: k(i), value, ttl: 3600 })));
    for (let i = 0; i < keys; i++) await bento.set({ key: k(i), value, ttl: "1h" });
    // Warm both L1s; check that every contender reads the value.
    for (let i = 0; i < keys; i++) {
      const [a, b, c] = [await local.get(k(i)), await shared.get(k(i)), await bento.get({ key: k(i) })];
      for (const got of [a, b, c]) {
        if (JSON.stringify(got) !== JSON.stringify(value)) throw new Error(`unexpected value ${String(got)}`);
      }
    }
    const loader = async () => value;
    const run = (label: string, contenders: { name: string; op: (i: number) => Promise<unknown> }[]) =>
      interleaved(contenders, { rounds, ops, callers, label });

    const hit = await run("local tier hit vs shared hit", [
      { name: "local", op: (i) => local.get(k(i)) },
      { name: "shared", op: (i) => shared.get(k(i)) },
    ]);
    const localStats = local.getStats().local;
    rows.push(
      comparison({
        id: "client.local.hit-vs-shared",
        name: `CacheService.get, local tier hit, standalone, ${callers} callers, ${keys} keys`,
        unit: "ops/s",
        value: hit.medians.local!,
        baseline: {
          name: "CacheService.get without the local tier (shared-store hit)",
          value: hit.medians.shared!,
        },
        direction: "higher",
        goal: LOCAL_VS_SHARED,
        notes: `round ratios ${spread(roundRatios(hit, "local", "shared"))}; local tier: ${localStats?.hits} hits, ${localStats?.misses} misses over the run`,
        details: { rounds: hit.rounds },
      }),
    );

    const scenarios: {
      key: string;
      label: string;
      ours: (i: number) => Promise<unknown>;
      theirs: (i: number) => Promise<unknown>;
    }[] = [
      {
        key: "get",
        label: "two-tier get (local hit)",
        ours: (i) => local.get(k(i)),
        theirs: (i) => bento.get({ key: k(i) }),
      },
      {
        key: "getOrSet",
        label: "two-tier getOrSet on a hit",
        ours: (i) => local.getOrSet(k(i), loader, { ttl: 3600 }),
        theirs: (i) => bento.getOrSet({ key: k(i), factory: loader, ttl: "1h" }),
      },
      {
        key: "set",
        label: "two-tier set (L2 write + bus invalidation, ttl 60 s)",
        ours: (i) => local.set(k(i), value, { ttl: 60 }),
        theirs: (i) => bento.set({ key: k(i), value, ttl: "60s" }),
      },
    ];
    for (const s of scenarios) {
      const result = await run(`local tier ${s.key} vs bentocache`, [
        { name: "cacheplane", op: s.ours },
        { name: "bentocache", op: s.theirs },
      ]);
      rows.push(
        comparison({
          id: `client.local.${s.key}.vs-bentocache`,
          name: `${s.label}, standalone, ${callers} callers, ${keys} keys`,
          unit: "ops/s",
          value: result.medians.cacheplane!,
          baseline: {
            name: "bentocache (memory L1 serialize:false + redis L2 + redis bus, ioredis)",
            value: result.medians.bentocache!,
          },
          direction: "higher",
          goal: VS_BENTOCACHE,
          notes: `round ratios ${spread(roundRatios(result, "cacheplane", "bentocache"))}`,
          details: { rounds: result.rounds },
        }),
      );
    }
  } finally {
    await bento.disconnect();
    await Promise.allSettled([local.close(), shared.close()]);
  }
  return rows;
}
