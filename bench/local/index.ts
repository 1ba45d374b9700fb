/**
 * Bench suite `local` (`npm run bench local`): the client's local tier (issue 12, item 1) on a
 * standalone redis-server (testkit, ACL on, service user from core's access string), measured in
 * the same run as its baselines (see bench/README.md and local-tier.ts):
 *
 * - a local-tier hit vs a shared-store hit (`CacheService.get` without the tier); goal >= 10x;
 * - two-tier get (local hit), getOrSet on a hit and set vs bentocache (memory L1 + redis L2 + redis
 *   bus over ioredis); goal >= 1.0x.
 *
 * Same method as the client suite: 50 callers in flight over 1,000 keys,
 * `BENCH_ROUNDS` (7) interleaved rounds of `BENCH_OPS` (50,000) calls per contender, medians. The
 * bench process runs on the load CPU and redis-server on the Redis CPU (taskset) when there are two.
 */
import { withPinnedStandalone } from "../lib/pinned-standalone.js";
import { benchService } from "../lib/service-user.js";
import { cpuLayout } from "../lib/system.js";
import type { SuiteResult } from "../types.js";
import { localTierRows } from "./local-tier.js";

const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 7);
const OPS = Number(process.env.BENCH_OPS ?? 50_000);
const CALLERS = 50;
const KEYS = 1000;
/** The client suite's value (a small JSON object). */
const VALUE = { id: 42, name: "bench value", tags: ["a", "b", "c"], price: 1999, active: true };

export async function run(): Promise<SuiteResult> {
  const layout = cpuLayout("the bench process (client, bentocache)", null);
  const { service } = benchService("bench");
  const password = `Bench-Local-${Math.random().toString(36).slice(2)}-Pw1`;
  const meta: Record<string, string> = {
    layout: layout.description,
    method: `${CALLERS} callers in flight, ${KEYS} keys, ${OPS} calls per contender per round, ${ROUNDS} rounds (order rotating, after a warm-up), medians`,
    value: `${JSON.stringify(VALUE)} for every contender`,
    "local tier": "createCache({ secret, local: localTier({ maxEntries: 2000, ttl: 120 }) })",
    bentocache:
      "bentostore().useL1Layer(memoryDriver({ maxItems: 2000, serialize: false })).useL2Layer(redisDriver).useBus(redisBusDriver), ioredis with the client's options, admin user (its keys and channel are outside the service's ACL patterns), offline queue on",
    "service user": `ACL SETUSER ${service.userName} reset ${service.accessString} >*** (core's access string)`,
  };
  return withPinnedStandalone(layout, service, password, async (server, secret) => {
    const rows = await localTierRows(server, secret, VALUE, {
      rounds: ROUNDS,
      ops: OPS,
      callers: CALLERS,
      keys: KEYS,
    });
    return { rows, meta };
  });
}
