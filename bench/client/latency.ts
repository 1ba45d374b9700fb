/**
 * One-caller latency driver (not a bench suite): the `client` suite's 1-caller p50/p99 rows of
 * CacheService vs raw ioredis (same op, same connection options), without the throughput rounds,
 * plus the Redis commands each call costs (INFO commandstats of every node, before and after).
 *
 *   flock /work/bench.lock node --conditions=@cacheplane/source --import tsx bench/client/latency.ts \
 *     [standalone|cluster|both] [samples]
 *
 * `LATENCY_BATCH_WRITES=0` turns the client's write batching off. Pinned like the suite when the
 * machine has two CPUs or more (this process on the load CPU, redis-server(s) on the Redis CPU).
 */
import {
  type CacheService,
  closeAllRedisConnections,
  createCache,
  type RedisStore,
} from "@cacheplane/client";
import type { SecretPayload } from "@cacheplane/core/secret";
import { startCluster, startRedis } from "@cacheplane/testkit";
import { Cluster, Redis } from "ioredis";
import { fmt } from "../lib/stats.js";
import { affinityOf, cpuLayout, pinProcess } from "../lib/system.js";
import { type Contender, latencyAtOneCaller } from "./measure.js";

const which = process.argv[2] ?? "both";
const SAMPLES = Number(process.argv[3] ?? 5000);
const KEYS = 1000;
const VALUE = { id: 42, name: "bench value", tags: ["a", "b", "c"], price: 1999, active: true };
const batchWrites = process.env.LATENCY_BATCH_WRITES !== "0";

type Node = { host: string; port: number };

/** Calls per command name over every node (INFO commandstats). */
async function commandCounts(nodes: Node[], admin: { username: string; password: string }) {
  const counts = new Map<string, number>();
  for (const node of nodes) {
    const r = new Redis({ ...node, ...admin, lazyConnect: true });
    await r.connect();
    const info = await r.info("commandstats");
    r.disconnect();
    for (const m of info.matchAll(/^cmdstat_([^:]+):calls=(\d+)/gm)) {
      counts.set(m[1]!, (counts.get(m[1]!) ?? 0) + Number(m[2]));
    }
  }
  return counts;
}

async function topology(
  name: string,
  cache: CacheService,
  secret: SecretPayload,
  nodes: Node[],
  admin: { username: string; password: string },
) {
  const k = (i: number) => `k:${i % KEYS}`;
  const rawKey = (i: number) => `${secret.keyspace}:raw:${k(i)}`;
  await cache.setMany(Array.from({ length: KEYS }, (_, i) => ({ key: k(i), value: VALUE, ttl: 3600 })));
  const own = (cache.store as RedisStore).connection?.readyClient();
  if (!own) throw new Error("not ready");
  const raw =
    own instanceof Cluster
      ? new Cluster([{ host: secret.host, port: secret.port }], { ...own.options, lazyConnect: true })
      : new Redis({ ...own.options, enableAutoPipelining: false, lazyConnect: true });
  await raw.connect();
  const text = JSON.stringify(VALUE);
  for (let i = 0; i < KEYS; i++) await raw.set(rawKey(i), text, "PX", 3_600_000);
  const loader = async () => VALUE;
  const rawGet = async (i: number) => JSON.parse((await raw.get(rawKey(i))) ?? "null");
  const scenarios: [string, Contender["op"], Contender["op"]][] = [
    ["get", (i) => cache.get(k(i)), rawGet],
    [
      "set",
      (i) => cache.set(k(i), VALUE, { ttl: 60 }),
      (i) => raw.set(rawKey(i), JSON.stringify(VALUE), "PX", 60_000),
    ],
    ["getOrSet", (i) => cache.getOrSet(k(i), loader, { ttl: 3600 }), rawGet],
  ];
  for (const [op, client, baseline] of scenarios) {
    // Commands per call, counted on the servers (one caller, sequential calls).
    const before = await commandCounts(nodes, admin);
    for (let i = 0; i < 100; i++) await client(i);
    const after = await commandCounts(nodes, admin);
    const per = [...after]
      .map(([cmd, n]) => [cmd, (n - (before.get(cmd) ?? 0)) / 100] as const)
      .filter(([cmd, n]) => n > 0 && cmd !== "info")
      .map(([cmd, n]) => `${cmd} ${fmt(n, 2)}`)
      .join(", ");
    const lat = await latencyAtOneCaller(
      [
        { name: "client", op: client },
        { name: "raw", op: baseline },
      ],
      SAMPLES,
    );
    const c = lat.client!;
    const r = lat.raw!;
    console.log(
      `${name} ${op}: client p50 ${fmt(c.p50 * 1000, 1)} µs p99 ${fmt(c.p99 * 1000, 1)} µs; raw p50 ${fmt(
        r.p50 * 1000,
        1,
      )} µs p99 ${fmt(r.p99 * 1000, 1)} µs; ratio p50 ${fmt(c.p50 / r.p50, 3)} p99 ${fmt(c.p99 / r.p99, 3)}; commands per call: ${per}`,
    );
  }
  raw.disconnect();
}

const layout = cpuLayout("the latency driver", null);
const ownAffinity = affinityOf(process.pid);
if (layout.pinned) pinProcess(process.pid, layout.load);
console.log(`batchWrites ${batchWrites}; ${layout.description}`);
try {
  if (which === "standalone" || which === "both") {
    const server = await startRedis({ acl: true });
    try {
      if (server.pid !== undefined && layout.pinned) pinProcess(server.pid, layout.redis);
      const secret: SecretPayload = {
        host: server.host,
        port: server.port,
        username: server.admin.username,
        password: server.admin.password,
        keyspace: "lat",
        tls: false,
      };
      const cache = createCache({ secret, batchWrites });
      await cache.connect();
      try {
        await topology("standalone", cache, secret, [server], server.admin);
      } finally {
        await cache.close();
        await closeAllRedisConnections();
      }
    } finally {
      await server.stop();
    }
  }
  if (which === "cluster" || which === "both") {
    const cluster = await startCluster({ masters: 3 });
    try {
      if (layout.pinned)
        for (const n of cluster.nodes) if (n.pid !== undefined) pinProcess(n.pid, layout.redis);
      const seed = cluster.seeds[0]!;
      const secret: SecretPayload = {
        host: seed.host,
        port: seed.port,
        username: cluster.admin.username,
        password: cluster.admin.password,
        keyspace: "lat",
        tls: false,
        cluster: true,
      };
      const cache = createCache({ secret, batchWrites });
      await cache.connect();
      try {
        await topology("cluster", cache, secret, cluster.seeds, cluster.admin);
      } finally {
        await cache.close();
        await closeAllRedisConnections();
      }
    } finally {
      await cluster.stop();
    }
  }
} finally {
  if (layout.pinned && ownAffinity) pinProcess(process.pid, ownAffinity);
}
