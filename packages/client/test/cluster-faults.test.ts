/**
 * Failure attribution in cluster mode (a real 3-master cluster): with one master SIGSTOPped, only its
 * keys fall back; keys on the other masters keep being read from and written to Redis, and the
 * stalled node's breaker closes by itself once it answers again. Also with the node that holds the
 * keyspace's generation stalled. No wall-clock asserts: loops are bounded by counts.
 */
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { type RedisCluster, type RedisServer, startCluster } from "@cacheplane/testkit";
import type { Cluster } from "ioredis";
import {
  type BreakerStateName,
  type CacheService,
  closeAllRedisConnections,
  createCache,
  keySlot,
  MemoryStore,
} from "../src/index.js";
import { clusterSecret, createClusterServiceUser } from "./helpers/redis.js";

const PASSWORD = "Cluster-Faults-Pw-5566778899";
const KEYSPACE = "orders";

let cluster: RedisCluster;
let admin: Cluster;

/** `host:port` of the master serving `fullKey`. */
function ownerOf(fullKey: string): string {
  const owner = admin.slots[keySlot(fullKey)]?.[0];
  if (!owner) throw new Error(`no owner for ${fullKey}`);
  return owner;
}

function serverAt(address: string): RedisServer {
  const server = cluster.masters.find((m) => `${m.host}:${m.port}` === address);
  if (!server) throw new Error(`no master at ${address}`);
  return server;
}

/** 20 keys per master, by owner. */
function keysByOwner(): Map<string, string[]> {
  const byOwner = new Map<string, string[]>();
  for (let i = 0; byOwner.size < 3 || [...byOwner.values()].some((k) => k.length < 20); i++) {
    const key = `item:${i}`;
    const owner = ownerOf(`${KEYSPACE}:${key}`);
    const list = byOwner.get(owner) ?? [];
    if (list.length < 20) list.push(key);
    byOwner.set(owner, list);
  }
  return byOwner;
}

function faultCache(): CacheService {
  return createCache({
    secret: clusterSecret(cluster, KEYSPACE, PASSWORD),
    commandTimeoutMs: 500,
    connectTimeoutMs: 1000,
    breaker: { threshold: 3 },
    fallback: new MemoryStore({ keyspace: KEYSPACE }),
  });
}

function waitForState(cache: CacheService, domain: string, state: BreakerStateName): Promise<void> {
  const alive = setInterval(() => undefined, 1000);
  return new Promise<void>((resolve) => {
    const off = cache.on("breaker", (e) => {
      if (e.domain === domain && e.state === state) {
        off();
        resolve();
      }
    });
  }).finally(() => clearInterval(alive));
}

before(async () => {
  cluster = await startCluster({ masters: 3 });
  await createClusterServiceUser(cluster, KEYSPACE, PASSWORD);
  admin = cluster.client();
  await admin.set("warmup", "1");
});

after(async () => {
  await closeAllRedisConnections();
  await cluster?.stop();
});

describe("one stalled cluster master", () => {
  for (const which of ["a master without the generation key", "the master holding the generation"]) {
    it(`${which}: only its keys fall back, the others are served by Redis throughout`, async () => {
      const cache = faultCache();
      const byOwner = keysByOwner();
      const genOwner = ownerOf(`${KEYSPACE}:__cp:gen`);
      const owners = [...byOwner.keys()];
      const stalled = which.startsWith("the master holding")
        ? genOwner
        : (owners.find((o) => o !== genOwner) as string);
      const healthy = owners.filter((o) => o !== stalled);
      // the generation must be known before the stall (any read does it)
      await cache.clear();
      for (const [owner, keys] of byOwner) {
        await cache.setMany(keys.map((key) => ({ key, value: `${owner}/${key}`, ttl: 600 })));
      }
      const events: { domain: string | undefined; state: string }[] = [];
      cache.on("breaker", (e) => events.push({ domain: e.domain, state: e.state }));

      const opened = waitForState(cache, stalled, "open");
      const server = serverAt(stalled);
      server.pause();
      let wrongHealthy = 0;
      let servedHealthy = 0;
      try {
        // Rounds of reads over every key until the stalled node's breaker opened, then 20 more.
        let openedSeen = false;
        void opened.then(() => {
          openedSeen = true;
        });
        let extra = 0;
        for (let round = 0; round < 200 && extra < 20; round++) {
          if (openedSeen) extra++;
          await Promise.all(
            [...byOwner].flatMap(([owner, keys]) =>
              keys.map(async (key) => {
                const value = await cache.get<string>(key);
                if (owner === stalled) return;
                servedHealthy++;
                if (value !== `${owner}/${key}`) wrongHealthy++;
              }),
            ),
          );
        }
        assert.ok(openedSeen, "the stalled node's breaker opened");
        assert.equal(wrongHealthy, 0, `${wrongHealthy} of ${servedHealthy} reads of healthy keys failed`);
        assert.deepStrictEqual(
          cache.getStats().openNodes.map((n) => n.domain),
          [stalled],
          "only the stalled node is open",
        );
        assert.ok(
          events.every((e) => e.domain === stalled),
          JSON.stringify(events),
        );
        // writes to healthy masters reach Redis while the other one is stalled
        const key = (byOwner.get(healthy[0] as string) as string[])[0] as string;
        assert.equal(await cache.set(key, "written during the stall", { ttl: 600 }), true);
        assert.ok((await admin.get(`${KEYSPACE}:${key}`))?.endsWith('written during the stall"'), "in Redis");
        assert.equal(cache.getStats().pendingInvalidations, 0, "the write went to Redis, not the fallback");
        const health = await cache.health({ timeoutMs: 2000 });
        assert.equal(health.status, "degraded");
      } finally {
        server.resume();
      }
      await waitForState(cache, stalled, "closed");
      for (const key of byOwner.get(stalled) as string[]) {
        assert.equal(await cache.get(key), `${stalled}/${key}`, "the resumed node's keys are read again");
      }
      assert.deepStrictEqual(cache.getStats().openNodes, []);
      await cache.close();
    });
  }

  it("multi-key calls are split by node: getMany serves the healthy nodes' keys", async () => {
    const cache = faultCache();
    const byOwner = keysByOwner();
    const [stalled, ...healthy] = [...byOwner.keys()] as [string, ...string[]];
    for (const [owner, keys] of byOwner) {
      await cache.setMany(keys.map((key) => ({ key, value: owner, ttl: 600 })));
    }
    const server = serverAt(stalled);
    const opened = waitForState(cache, stalled, "open");
    server.pause();
    try {
      const all = [...byOwner.values()].flat();
      let values: (string | undefined)[] = [];
      for (let i = 0; i < 20; i++) {
        values = await cache.getMany<string>(all);
        if (cache.getStats().openNodes.length > 0) break;
      }
      await opened;
      values = await cache.getMany<string>(all);
      all.forEach((key, i) => {
        const owner = [...byOwner].find(([, keys]) => keys.includes(key))?.[0];
        if (owner !== stalled) assert.equal(values[i], owner, key);
      });
      assert.ok(healthy.length === 2);
    } finally {
      server.resume();
    }
    await waitForState(cache, stalled, "closed");
    await cache.close();
  });
});
