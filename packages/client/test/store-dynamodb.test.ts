import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import {
  BatchGetCommand,
  BatchWriteCommand,
  DynamoDBDocumentClient,
  GetCommand,
} from "@aws-sdk/lib-dynamodb";
import { CacheService, createCache, DynamoDbStore } from "../src/index.js";
import { storeContract } from "./contract.js";
import { type LocalDynamo, startDynalite } from "./helpers/dynalite.js";

storeContract("dynamodb (dynalite)", async () => {
  const dynamo = await startDynalite();
  await dynamo.createTable("cache");
  return {
    makeStore: (keyspace) => new DynamoDbStore({ tableName: "cache", keyspace, client: dynamo.client }),
    teardown: () => dynamo.stop(),
  };
});

describe("DynamoDbStore specifics", () => {
  let dynamo: LocalDynamo;
  before(async () => {
    dynamo = await startDynalite();
    await dynamo.createTable("items");
  });
  after(() => dynamo.stop());

  it("stores pk, value and a numeric expiresAt in epoch seconds", async () => {
    const store = new DynamoDbStore({ tableName: "items", keyspace: "orders", client: dynamo.client });
    const cache = new CacheService({ store, breaker: false });
    await cache.set("o:1", { total: 5 }, { ttl: 120 });
    const doc = DynamoDBDocumentClient.from(dynamo.client);
    const { Item } = await doc.send(new GetCommand({ TableName: "items", Key: { pk: "orders:o:1" } }));
    assert.ok(Item);
    // readable text: the JSON behind the keyspace generation's stamp
    assert.match(String(Item.value), /^\x01[A-Za-z0-9_-]{16}\x01\{"total":5\}$/);
    const nowSec = Date.now() / 1000;
    assert.equal(typeof Item.expiresAt, "number");
    assert.ok(Item.expiresAt > nowSec + 100 && Item.expiresAt < nowSec + 130);
  });

  it("treats expired items as misses before DynamoDB deletes them", async () => {
    let now = Date.now();
    const store = new DynamoDbStore({
      tableName: "items",
      keyspace: "exp",
      client: dynamo.client,
      now: () => now,
    });
    await store.set("k", Buffer.from('"v"'), 1000);
    now += 1001;
    assert.equal(await store.get("k"), undefined);
    assert.deepStrictEqual(await store.getMany(["k"]), [undefined]);
    assert.equal(await store.has("k"), false);
    // the item is still in the table
    const doc = DynamoDBDocumentClient.from(dynamo.client);
    const { Item } = await doc.send(new GetCommand({ TableName: "items", Key: { pk: "exp:k" } }));
    assert.ok(Item);
    // and a lock can be taken over an expired item
    assert.equal(await store.setIfAbsent("k", Buffer.from("tok"), 1000), true);
  });

  it("binary values are stored as binary attributes", async () => {
    const store = new DynamoDbStore({ tableName: "items", keyspace: "bin", client: dynamo.client });
    const bytes = Buffer.from([0xc1, 0x02, 0xff, 0x00]);
    await store.set("b", bytes);
    assert.deepStrictEqual(await store.get("b"), bytes);
  });

  it("retries UnprocessedKeys / UnprocessedItems with backoff", async () => {
    // A document client whose batch calls leave half of the request unprocessed the first time.
    const real = DynamoDBDocumentClient.from(dynamo.client);
    let getCalls = 0;
    let writeCalls = 0;
    const flaky = Object.create(real) as DynamoDBDocumentClient;
    flaky.send = (async (command: unknown) => {
      if (command instanceof BatchGetCommand) {
        getCalls++;
        const request = command.input.RequestItems?.items;
        if (getCalls % 2 === 1 && request?.Keys && request.Keys.length > 1) {
          const half = Math.floor(request.Keys.length / 2);
          const out = await real.send(
            new BatchGetCommand({
              RequestItems: { items: { ...request, Keys: request.Keys.slice(0, half) } },
            }),
          );
          return { ...out, UnprocessedKeys: { items: { ...request, Keys: request.Keys.slice(half) } } };
        }
      }
      if (command instanceof BatchWriteCommand) {
        writeCalls++;
        const items = command.input.RequestItems?.items;
        if (writeCalls % 2 === 1 && items && items.length > 1) {
          const half = Math.floor(items.length / 2);
          await real.send(new BatchWriteCommand({ RequestItems: { items: items.slice(0, half) } }));
          return { UnprocessedItems: { items: items.slice(half) } };
        }
      }
      return real.send(command as never);
    }) as DynamoDBDocumentClient["send"];
    const store = new DynamoDbStore({ tableName: "items", keyspace: "batch", client: flaky });
    const cache = new CacheService({ store, breaker: false, throwOnError: true });
    const entries = Array.from({ length: 260 }, (_, i) => ({ key: `k${i}`, value: i }));
    await cache.setMany(entries);
    // 260 items -> 11 chunks of <= 25, each needing a retry
    assert.equal(writeCalls, 22);
    const values = await cache.getMany(entries.map((e) => e.key));
    assert.deepStrictEqual(
      values,
      entries.map((e) => e.value),
    );
    // 260 keys -> 3 chunks of <= 100, each needing a retry
    assert.equal(getCalls, 6);
  });

  it("createCache selects DynamoDB from CACHE_STORAGE_TYPE and CACHE_TABLE_NAME", async () => {
    const cache = createCache({
      env: { CACHE_STORAGE_TYPE: "dynamodb", CACHE_TABLE_NAME: "items", CACHE_KEYSPACE: "svc" },
      dynamoDbClient: dynamo.client,
    });
    assert.equal(cache.store.kind, "dynamodb");
    await cache.set("x", 1);
    assert.equal(await cache.get("x"), 1);
    assert.equal(cache.store.keyspace, "svc");
    await cache.close();
  });
});
