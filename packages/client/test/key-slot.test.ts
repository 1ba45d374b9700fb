import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { keySlot as testkitKeySlot } from "@cacheplane/testkit";
import fc from "fast-check";
import { keySlot } from "../src/index.js";

describe("keySlot", () => {
  it("matches the Redis Cluster specification vectors", () => {
    assert.equal(keySlot("123456789"), 0x31c3 & 16383);
    assert.equal(keySlot("foo"), 12182);
    assert.equal(keySlot("{user1000}.following"), keySlot("{user1000}.followers"));
    assert.equal(keySlot("{}foo"), keySlot("{}foo"));
    assert.notEqual(keySlot("{}foo"), keySlot("foo"), "empty hash tag: the whole key is hashed");
    assert.equal(keySlot("foo{bar}{zap}"), keySlot("bar"));
  });

  it("property: agrees with the testkit's independent implementation", () => {
    fc.assert(
      fc.property(fc.string({ unit: "grapheme", maxLength: 40 }), (key) => {
        assert.equal(keySlot(key), testkitKeySlot(key));
      }),
      { numRuns: 500 },
    );
  });
});
