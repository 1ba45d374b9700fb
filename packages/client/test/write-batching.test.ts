/**
 * Per-tick write batching (write-batching.ts, docs/decisions/0021, 0022): while commands are in
 * flight, the commands of one tick leave in one socket write per connection, and each keeps its own
 * reply, error and deadline; a command written while nothing is in flight leaves at once.
 */
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import type { RedisCluster, RedisServer } from "@cacheplane/testkit";
import { countSocketWrites, startCluster, startRedis } from "@cacheplane/testkit";
import type { Redis } from "ioredis";
import { type CacheService, closeAllRedisConnections, createCache, type RedisStore } from "../src/index.js";
import { MAX_BATCH } from "../src/write-batching.js";
import { clusterSecret, createClusterServiceUser, createServiceUser, RELAXED } from "./helpers/redis.js";

const PASSWORD = "svc-Password-batching-1234";

function readyClient(cache: CacheService): Redis {
  const client = (cache.store as RedisStore).connection?.readyClient();
  assert.ok(client, "connected");
  return client as Redis;
}

describe("per-tick write batching, standalone", () => {
  let server: RedisServer;
  let admin: Redis;
  const secret = () => ({
    host: server.host,
    port: server.port,
    username: "svc",
    password: PASSWORD,
    keyspace: "wb",
    tls: false,
  });

  before(async () => {
    server = await startRedis({ acl: true, tls: false });
    admin = server.client();
    await createServiceUser(admin, "wb", PASSWORD);
  });
  after(async () => {
    await closeAllRedisConnections();
    admin.disconnect();
    await server.stop();
  });

  it("sends the commands of one tick in one socket write, each with its own reply", async () => {
    const cache = createCache({ secret: secret(), ...RELAXED });
    await cache.connect();
    await cache.setMany(Array.from({ length: 20 }, (_, i) => ({ key: `k${i}`, value: { i } })));
    const client = readyClient(cache);
    await cache.get("k0"); // the generation is read: the next gets are single GETs
    const writes = countSocketWrites((client as unknown as { stream: unknown }).stream);
    try {
      const values = await Promise.all(Array.from({ length: 20 }, (_, i) => cache.get(`k${i}`)));
      assert.deepEqual(
        values,
        Array.from({ length: 20 }, (_, i) => ({ i })),
      );
      // The turn's first GET found nothing in flight: written at once; the 19 behind it leave in
      // one full batch of MAX_BATCH (16) and one write at the end of the turn.
      assert.equal(writes.count, 3, "20 gets of one tick: the first alone, then 16, then 3");
    } finally {
      writes.restore();
      await cache.close();
    }
  });

  it("a busy turn leaves in writes of at most MAX_BATCH commands, so Redis starts before the turn ends", async () => {
    const cache = createCache({ secret: secret(), ...RELAXED });
    await cache.connect();
    await cache.set("many", 1);
    await cache.get("many"); // the generation is known: each get below is one GET
    const client = readyClient(cache);
    const writes = countSocketWrites((client as unknown as { stream: unknown }).stream);
    try {
      const gets = Array.from({ length: 40 }, () => cache.get("many"));
      // The first GET went alone; the two full batches of 16 left as soon as they filled, within
      // this turn; the last 7 at its end.
      assert.equal(MAX_BATCH, 16);
      assert.equal(writes.count, 3, "full batches are written at once");
      assert.deepEqual(
        await Promise.all(gets),
        Array.from({ length: 40 }, () => 1),
      );
      assert.equal(writes.count, 4, "the rest left at the end of the turn");
    } finally {
      writes.restore();
      await cache.close();
    }
  });

  it("with batchWrites: false each command is its own write (what the count above detects)", async () => {
    const cache = createCache({ secret: secret(), ...RELAXED, batchWrites: false });
    await cache.connect();
    await cache.set("one", 1);
    await cache.get("one");
    const writes = countSocketWrites((readyClient(cache) as unknown as { stream: unknown }).stream);
    try {
      await Promise.all(Array.from({ length: 20 }, () => cache.get("one")));
      assert.ok(writes.count >= 10, `unbatched: ${writes.count} writes for 20 gets`);
    } finally {
      writes.restore();
      await cache.close();
    }
  });

  it("a lone command is written at once, without waiting for the rest of the turn", async () => {
    const cache = createCache({ secret: secret(), ...RELAXED });
    await cache.connect();
    await cache.set("lone", 1);
    await cache.get("lone"); // the generation is known: the next set is one SET
    const client = readyClient(cache);
    const writes = countSocketWrites((client as unknown as { stream: unknown }).stream);
    try {
      const set = cache.set("lone", 2);
      assert.equal(writes.count, 1, "the SET reached the socket before the call returned");
      assert.equal(await set, true);
      const raw = client.get("wb:lone");
      assert.equal(writes.count, 2, "a raw command on the idle connection too");
      await raw;
      assert.equal(await cache.get("lone"), 2);
    } finally {
      writes.restore();
      await cache.close();
    }
  });

  it("a command written while another is in flight waits for the turn and joins the batch", async () => {
    const cache = createCache({ secret: secret(), ...RELAXED });
    await cache.connect();
    const client = readyClient(cache);
    await client.set("wb:x", "1");
    const writes = countSocketWrites((client as unknown as { stream: unknown }).stream);
    try {
      const first = client.get("wb:x");
      assert.equal(writes.count, 1, "nothing in flight: written at once");
      const rest = [client.get("wb:x"), client.incr("wb:x"), client.get("wb:x")];
      assert.equal(writes.count, 1, "the next commands wait for the end of the turn");
      assert.deepEqual(await Promise.all([first, ...rest]), ["1", "1", 2, "2"]);
      assert.equal(writes.count, 2, "then leave in one write");
    } finally {
      writes.restore();
      await cache.close();
    }
  });

  it("after a turn of several callers, an idle connection's next command waits for the turn too", async () => {
    const cache = createCache({ secret: secret(), ...RELAXED });
    await cache.connect();
    const client = readyClient(cache);
    await client.set("wb:y", "1");
    // Five callers: the first command at once, the other four in one corked write.
    await Promise.all(Array.from({ length: 5 }, () => client.get("wb:y")));
    const writes = countSocketWrites((client as unknown as { stream: unknown }).stream);
    try {
      const next = client.get("wb:y");
      assert.equal(writes.count, 0, "nothing in flight, but the last batch had several callers: corked");
      assert.equal(await next, "1");
      assert.equal(writes.count, 1, "written at the end of the turn");
      const lone = client.get("wb:y");
      assert.equal(writes.count, 2, "the last batch was one command: written at once again");
      assert.equal(await lone, "1");
    } finally {
      writes.restore();
      await cache.close();
    }
  });

  it("a lone pipeline is written at once, in one write", async () => {
    const cache = createCache({ secret: secret(), ...RELAXED });
    await cache.connect();
    const client = readyClient(cache);
    const writes = countSocketWrites((client as unknown as { stream: unknown }).stream);
    try {
      const done = client.pipeline().set("wb:p1", "a").set("wb:p2", "b").get("wb:p1").exec();
      assert.equal(writes.count, 1, "the pipeline's one write, before exec() returned");
      const results = await done;
      assert.deepEqual(
        results?.map(([, value]) => value),
        ["OK", "OK", "a"],
      );
      assert.equal(writes.count, 1);
    } finally {
      writes.restore();
      await cache.close();
    }
  });

  it("a failing command does not fail the others written in the same tick", async () => {
    const cache = createCache({ secret: secret(), ...RELAXED });
    await cache.connect();
    const client = readyClient(cache);
    await client.set("wb:text", "not a number");
    await client.set("wb:n", "41");
    const writes = countSocketWrites((client as unknown as { stream: unknown }).stream);
    try {
      const [bad, good, refused, other] = await Promise.allSettled([
        client.incr("wb:text"),
        client.incr("wb:n"),
        client.get("elsewhere:key"), // outside the service's keyspace: NOPERM
        client.get("wb:n"),
      ]);
      assert.equal(
        writes.count,
        2,
        "the first command at once (nothing in flight), the other three in one write",
      );
      assert.equal(bad.status, "rejected");
      assert.match(String((bad as PromiseRejectedResult).reason), /not an integer/);
      assert.deepEqual(good, { status: "fulfilled", value: 42 });
      assert.equal(refused.status, "rejected");
      assert.match(String((refused as PromiseRejectedResult).reason), /NOPERM/);
      assert.deepEqual(other, { status: "fulfilled", value: "42" });
    } finally {
      writes.restore();
      await cache.close();
    }
  });

  it("a batched command keeps its deadline (commandTimeout) while Redis does not answer", async () => {
    const cache = createCache({ secret: secret(), ...RELAXED, commandTimeoutMs: 200 });
    await cache.connect();
    const client = readyClient(cache);
    await admin.call("CLIENT", "PAUSE", "1000", "ALL");
    try {
      const results = await Promise.allSettled([client.get("wb:a"), client.get("wb:b")]);
      for (const r of results) {
        assert.equal(r.status, "rejected");
        assert.match(String((r as PromiseRejectedResult).reason), /timed out/i);
      }
    } finally {
      await admin.call("CLIENT", "UNPAUSE");
      await cache.close();
    }
  });

  it("while the connection is down, batched calls are refused at once (nothing is queued)", async () => {
    const cache = createCache({ secret: secret(), ...RELAXED });
    await cache.connect();
    const client = readyClient(cache);
    client.stream.destroy(); // the connection drops; ioredis reconnects in the background
    await new Promise((resolve) => client.once("close", resolve));
    const results = await Promise.allSettled([client.get("wb:a"), client.get("wb:b")]);
    for (const r of results) {
      assert.equal(r.status, "rejected");
      assert.match(String((r as PromiseRejectedResult).reason), /enableOfflineQueue/);
    }
    await cache.close();
  });
});

describe("per-tick write batching, 3-master cluster", () => {
  let cluster: RedisCluster;

  before(async () => {
    cluster = await startCluster({ masters: 3 });
    await createClusterServiceUser(cluster, "wc", PASSWORD);
  });
  after(async () => {
    await closeAllRedisConnections();
    await cluster.stop();
  });

  it("every node gets the commands of one tick in one write; multi-key calls stay slot-grouped", async () => {
    const cache = createCache({ secret: clusterSecret(cluster, "wc", PASSWORD), ...RELAXED });
    await cache.connect();
    const keys = Array.from({ length: 30 }, (_, i) => `k${i}`);
    // setMany/getMany span every node: refused with CROSSSLOT if they were not grouped by slot.
    await cache.setMany(keys.map((key, i) => ({ key, value: i })));
    assert.deepEqual(
      await cache.getMany(keys),
      keys.map((_, i) => i),
    );
    await cache.get("k0");
    const client = (cache.store as RedisStore).connection?.readyClient();
    assert.ok(client && "nodes" in client);
    const masters = (client as unknown as { nodes(role: string): Redis[] }).nodes("master");
    assert.equal(masters.length, 3);
    const counters = masters.map((node) =>
      countSocketWrites((node as unknown as { stream: unknown }).stream),
    );
    try {
      const values = await Promise.all(keys.map((key) => cache.get(key)));
      assert.deepEqual(
        values,
        keys.map((_, i) => i),
      );
      // Per node: its first command at once (nothing in flight there yet), the rest in one write.
      for (const c of counters) assert.ok(c.count <= 2, `at most two writes per node, saw ${c.count}`);
      assert.ok(counters.reduce((n, c) => n + c.count, 0) >= 2, "the keys live on several nodes");
    } finally {
      for (const c of counters) c.restore();
      await cache.close();
    }
  });
});
