/**
 * Bench suite `cache-aside` (`npm run bench cache-aside`): what getOrSet's grace period costs on a
 * standalone redis-server, 50 callers in flight over 1,000 keys, every row against a baseline
 * measured in the same run (interleaved rounds, see bench/README.md):
 *
 * - a hit on an entry written with `grace` (framed: its header carries the logical expiry) against
 *   a hit on a plain entry (text stamped with the generation): the price of the header on a read;
 * - serving a stale value during the backoff after a failed load (the loader is not called)
 *   against a fresh hit: stale-if-error costs what a hit costs;
 * - `getOrSet` on a plain hit against raw ioredis GET + JSON.parse, for scale.
 *
 * The bench process runs on the load CPU and redis-server on the Redis CPU where there are two.
 */
import {
  type CacheService,
  closeAllRedisConnections,
  createCache,
  type RedisStore,
} from "@cacheplane/client";
import { startRedis } from "@cacheplane/testkit";
import { Redis } from "ioredis";
import { interleaved, roundRatios } from "../client/measure.js";
import { comparison } from "../lib/rows.js";
import { benchService, createServiceUser } from "../lib/service-user.js";
import { spread } from "../lib/stats.js";
import { affinityOf, cpuLayout, pinProcess } from "../lib/system.js";
import type { BenchRow, SuiteResult } from "../types.js";

const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 7);
const OPS = Number(process.env.BENCH_OPS ?? 50_000);
const CALLERS = 50;
const KEYS = 1000;
const VALUE = { id: 42, name: "bench value", tags: ["a", "b", "c"], price: 1999, active: true };
const PASSWORD = "Bench-CacheAside-Pw-445566";

export async function run(): Promise<SuiteResult> {
  const layout = cpuLayout("the bench process", null);
  // Restored at the end: the suites that run after this one in the same process lay out the CPUs
  // from the bench process's own affinity.
  const ownAffinity = affinityOf(process.pid);
  if (layout.pinned) pinProcess(process.pid, layout.load);
  const { service } = benchService("aside");
  const server = await startRedis({ acl: true });
  if (server.pid !== undefined) pinProcess(server.pid, layout.redis);
  let raw: Redis | undefined;
  let cache: CacheService | undefined;
  try {
    await createServiceUser(server, service, PASSWORD);
    let now = Date.now();
    // `now`: the clock is moved past the ttl of the `stale:` entries once, before the measurement.
    cache = createCache({
      secret: {
        host: server.host,
        port: server.port,
        username: service.userName,
        password: PASSWORD,
        keyspace: service.keyspace,
        tls: false,
      },
      now: () => now,
    });
    const c = cache;
    const plain = (i: number) => `plain:${i % KEYS}`;
    const grace = (i: number) => `grace:${i % KEYS}`;
    const stale = (i: number) => `stale:${i % KEYS}`;
    const load = async () => VALUE;
    const failing = async (): Promise<typeof VALUE> => {
      throw new Error("source down");
    };
    const GRACE = { ttl: 3600, grace: 86_400, graceBackoff: 86_400 };
    for (let i = 0; i < KEYS; i++) {
      await c.getOrSet(plain(i), load, { ttl: 3600 });
      await c.getOrSet(grace(i), load, GRACE);
      await c.getOrSet(stale(i), load, { ttl: 60, grace: 86_400, graceBackoff: 86_400 });
    }
    // Past the ttl of the `stale:` entries; one failed load per key starts its backoff.
    now += 61_000;
    for (let i = 0; i < KEYS; i++)
      await c.getOrSet(stale(i), failing, { ttl: 60, grace: 86_400, graceBackoff: 86_400 });
    if (c.getStats().staleOnError !== KEYS) throw new Error("the stale entries were not served on error");
    const own = (c.store as RedisStore).connection?.readyClient();
    if (!own) throw new Error("the client's connection is not ready");
    raw = new Redis({ ...own.options, enableAutoPipelining: false, lazyConnect: true });
    await raw.connect();
    const r = raw;
    const prefix = `${service.keyspace}:`;

    const contenders = [
      { name: "getOrSet hit, plain entry", op: (i: number) => c.getOrSet(plain(i), load, { ttl: 3600 }) },
      { name: "getOrSet hit, grace entry", op: (i: number) => c.getOrSet(grace(i), load, GRACE) },
      {
        name: "getOrSet stale in backoff",
        op: (i: number) => c.getOrSet(stale(i), failing, { ttl: 60, grace: 86_400, graceBackoff: 86_400 }),
      },
      {
        name: "raw ioredis GET + JSON.parse",
        // the entry is text stamped with the keyspace's generation: `\x01<gen>\x01<JSON>`
        op: async (i: number) => {
          const text = (await r.get(prefix + plain(i))) ?? "\x01\x01null";
          return JSON.parse(text.slice(text.indexOf("\x01", 1) + 1));
        },
      },
    ];
    const result = await interleaved(contenders, {
      rounds: ROUNDS,
      ops: OPS,
      callers: CALLERS,
      label: "cache-aside",
    });
    const stats = c.getStats();
    if (stats.loads !== 3 * KEYS + KEYS)
      throw new Error(`a loader ran during the measurement (${stats.loads} loads)`);
    const row = (id: string, subject: string, baseline: string, name: string, note: string): BenchRow =>
      comparison({
        id: `cache-aside.${id}`,
        name: `${name}, standalone, ${CALLERS} callers, ${KEYS} keys`,
        unit: "ops/s",
        value: result.medians[subject]!,
        baseline: { name: baseline, value: result.medians[baseline]! },
        direction: "higher",
        notes: `${note}; round ratios ${spread(roundRatios(result, subject, baseline))}`,
        details: { rounds: result.rounds },
      });
    return {
      rows: [
        row(
          "grace-hit.vs-plain-hit",
          "getOrSet hit, grace entry",
          "getOrSet hit, plain entry",
          "getOrSet on a fresh hit of an entry written with grace",
          "the grace entry is framed (logical expiry in its header), the plain one is generation-stamped text",
        ),
        row(
          "stale-backoff.vs-plain-hit",
          "getOrSet stale in backoff",
          "getOrSet hit, plain entry",
          "getOrSet serving a stale value in the backoff after a failed load",
          "no loader call; stale-if-error at the price of a hit",
        ),
        row(
          "plain-hit.vs-raw",
          "getOrSet hit, plain entry",
          "raw ioredis GET + JSON.parse",
          "getOrSet on a fresh hit of a plain entry",
          "for scale (the client suite has the goals)",
        ),
      ],
      meta: {
        layout: `${layout.description}; bench process now on CPU ${affinityOf(process.pid) || "any"}`,
        method: `${ROUNDS} interleaved rounds of ${OPS} calls, ${CALLERS} in flight, medians`,
      },
    };
  } finally {
    raw?.disconnect();
    await cache?.close();
    await closeAllRedisConnections();
    await server.stop();
    if (layout.pinned && ownAffinity) pinProcess(process.pid, ownAffinity);
  }
}
