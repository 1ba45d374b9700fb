/**
 * Bench suite `ratelimits` (`npm run bench ratelimits`): the rate limit rows of the client suite
 * alone, on one standalone redis-server (testkit, ACL service user from core's access string, the
 * platform's function library loaded): `rateLimiter` per algorithm vs rate-limiter-flexible
 * (issue 3) and two limits checked at once (`rateLimits`, one FCALL) vs two sequential
 * rate-limiter-flexible `consume()` calls (issue 12, item 4). Same code and method as the client
 * suite (which includes these rows too); this suite runs them without the get/set/cluster rows.
 */
import { createCache } from "@cacheplane/client";
import { rateLimiterRows } from "../client/index.js";
import { withPinnedStandalone } from "../lib/pinned-standalone.js";
import { benchService } from "../lib/service-user.js";
import { cpuLayout } from "../lib/system.js";
import type { SuiteResult } from "../types.js";

const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 7);
const OPS = Math.min(Number(process.env.BENCH_OPS ?? 10_000), 10_000);

export async function run(): Promise<SuiteResult> {
  const layout = cpuLayout("the bench process (client and baselines)", null);
  const { service } = benchService("bench", { scripting: true });
  const password = `Bench-Limits-${Math.random().toString(36).slice(2)}-Pw1`;
  return withPinnedStandalone(layout, service, password, async (_server, secret) => {
    const cache = createCache({ secret });
    await cache.connect();
    try {
      return {
        rows: await rateLimiterRows(cache, secret),
        meta: {
          layout: layout.description,
          method: `50 callers in flight, ${OPS} calls per contender per round, ${ROUNDS} rounds (order rotating, after a warm-up), medians; standalone redis-server`,
          "service user": `ACL SETUSER ${service.userName} reset ${service.accessString} >*** (core's access string)`,
        },
      };
    } finally {
      await cache.close();
    }
  });
}
