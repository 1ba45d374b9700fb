import assert from "node:assert/strict";
import { describe, it } from "node:test";
import fc from "fast-check";
import {
  MAX_USER_ID_LENGTH,
  normalizeKeyspace,
  normalizeResourceName,
  secretNameFor,
  userIdFor,
} from "../src/index.js";

describe("userIdFor", () => {
  it("lowercases and keeps only letters and digits", () => {
    assert.equal(userIdFor("Orders-API"), "ordersapi");
    assert.equal(userIdFor("enrollment_api.v2"), "enrollmentapiv2");
  });
  it("starts with a letter", () => {
    assert.equal(userIdFor("42-things"), "svc42things");
  });
  it("applies a prefix", () => {
    assert.equal(userIdFor("orders", "dev"), "devorders");
  });
  it("is never empty for a name with a letter or digit, always within the ElastiCache limit", () => {
    fc.assert(
      fc.property(fc.string({ minLength: 1, maxLength: 200 }), (name) => {
        const id = userIdFor(name);
        if (/[a-z0-9]/i.test(name)) assert.ok(id.length > 0, `empty id for ${JSON.stringify(name)}`);
        assert.ok(id.length <= MAX_USER_ID_LENGTH);
        if (id.length > 0) assert.match(id, /^[a-z][a-z0-9]*$/);
      }),
    );
  });
  it("is idempotent", () => {
    fc.assert(
      fc.property(fc.string(), (name) => {
        const id = userIdFor(name);
        assert.equal(userIdFor(id), id);
      }),
    );
  });
});

describe("normalizeKeyspace", () => {
  it("canonicalises", () => {
    assert.equal(normalizeKeyspace("Orders API"), "orders-api");
    assert.equal(normalizeKeyspace("  --a:b*c--"), "a-b-c");
    assert.equal(normalizeKeyspace("***"), "");
  });
  it("is idempotent and never yields glob characters or ':'", () => {
    fc.assert(
      fc.property(fc.string({ maxLength: 100 }), (raw) => {
        const ks = normalizeKeyspace(raw);
        assert.equal(normalizeKeyspace(ks), ks);
        assert.doesNotMatch(ks, /[*?[\]\\:\s]/);
        assert.ok(ks.length <= 64);
      }),
    );
  });
});

describe("secret and resource names", () => {
  it("secret name is /services/<svc>/redis/<keyspace>", () => {
    assert.equal(secretNameFor("Orders API", "orders"), "/services/orders-api/redis/orders");
  });
  it("resource names start with a letter and have no double hyphens", () => {
    fc.assert(
      fc.property(fc.string({ maxLength: 80 }), (raw) => {
        const id = normalizeResourceName(raw);
        if (id.length > 0) assert.match(id, /^[a-z][a-z0-9]*(-[a-z0-9]+)*$/);
        assert.ok(id.length <= 40);
      }),
    );
  });
});
