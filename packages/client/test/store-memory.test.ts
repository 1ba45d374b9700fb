import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { MemoryStore } from "../src/index.js";
import { storeContract } from "./contract.js";

storeContract("memory", async () => {
  // One store per keyspace: services made for the same keyspace share it, as processes share Redis.
  const stores = new Map<string, MemoryStore>();
  return {
    makeStore(keyspace) {
      let store = stores.get(keyspace);
      if (!store) {
        store = new MemoryStore({ keyspace });
        stores.set(keyspace, store);
      }
      return store;
    },
  };
});

describe("MemoryStore specifics", () => {
  it("evicts the least recently used entries beyond maxEntries", async () => {
    const store = new MemoryStore({ keyspace: "lru", maxEntries: 3 });
    for (const k of ["a", "b", "c"]) await store.set(k, Buffer.from(k));
    await store.get("a"); // a is now most recent
    await store.set("d", Buffer.from("d"));
    assert.equal(await store.has("b"), false);
    assert.equal(await store.has("a"), true);
    assert.equal(await store.has("c"), true);
    assert.equal(await store.has("d"), true);
    assert.equal(store.size, 3);
    assert.equal(store.evictions, 1);
  });

  it("expires entries with its clock", async () => {
    let now = 1_000;
    const store = new MemoryStore({ keyspace: "clock", now: () => now });
    await store.set("k", Buffer.from("v"), 500);
    assert.equal(await store.getTtl("k"), 500);
    now += 499;
    assert.ok(await store.has("k"));
    now += 1;
    assert.equal(await store.get("k"), undefined);
  });

  it("stays bounded under many distinct keys", async () => {
    const store = new MemoryStore({ keyspace: "bounded", maxEntries: 100 });
    for (let i = 0; i < 10_000; i++) await store.set(`k${i}`, Buffer.from("x"));
    assert.equal(store.size, 100);
  });
});
