import assert from "node:assert/strict";
import { describe, it } from "node:test";
import fc from "fast-check";
import { buildAccessString, isDangerousGrant, normalizeKeyspace, parseCommandRule } from "../src/index.js";

/** Redis glob semantics for the subset we emit (`*` and literal characters). */
function globMatches(pattern: string, key: string): boolean {
  const re = new RegExp(`^${pattern.replace(/[.+^${}()|[\]\\?]/g, "\\$&").replace(/\*/g, ".*")}$`, "s");
  return re.test(key);
}
const keyPatterns = (access: string) =>
  access
    .split(" ")
    .filter((r) => r.startsWith("~"))
    .map((r) => r.slice(1));

describe("buildAccessString", () => {
  it("read-only: keyspace patterns, channels, read commands, dangerous taken back", () => {
    const s = buildAccessString({ keyspace: "catalog", access: "read-only" });
    assert.match(s, /^on ~catalog:\* resetchannels &catalog:\* -@all /);
    assert.ok(s.includes("+@read"));
    assert.ok(!s.includes("+@write"));
    const tail = s.indexOf("-@dangerous");
    assert.ok(tail > s.indexOf("+@read"), "the safety tail comes after the grants");
  });
  it("read-write adds writes, transactions, pub/sub and EVALSHA, never FUNCTION or SCRIPT FLUSH", () => {
    const s = buildAccessString({ keyspace: "orders", sharedKeyspaces: ["common"], access: "read-write" });
    assert.ok(s.startsWith("on ~orders:* ~common:* resetchannels &orders:* &common:* -@all"));
    for (const r of [
      "+@write",
      "+@transaction",
      "+@pubsub",
      "+evalsha",
      "-function",
      "-script|flush",
      "-randomkey",
    ])
      assert.ok(s.split(" ").includes(r), r);
  });
  it("explicit commands come last so they win, and disabled users are off", () => {
    const s = buildAccessString({
      keyspace: "x",
      access: { preset: "read-only", commands: ["+HSET", "-hgetall"] },
      enabled: false,
    });
    assert.ok(s.startsWith("off "));
    assert.ok(s.endsWith("+hset -hgetall"));
  });
  it("is deterministic", () => {
    const a = buildAccessString({ keyspace: "a", access: "read-write" });
    assert.equal(a, buildAccessString({ keyspace: "a", access: "read-write" }));
  });
  it("never grants a pattern that matches another service's keyspace", () => {
    const keyspace = fc
      .string({ minLength: 1, maxLength: 20 })
      .map(normalizeKeyspace)
      .filter((k) => k.length > 0);
    fc.assert(
      fc.property(keyspace, keyspace, fc.string({ maxLength: 30 }), (mine, theirs, suffix) => {
        fc.pre(mine !== theirs);
        const access = buildAccessString({ keyspace: mine, access: "read-write" });
        for (const pattern of keyPatterns(access)) {
          assert.equal(
            globMatches(pattern, `${theirs}:${suffix}`),
            false,
            `${pattern} matched ${theirs}:${suffix}`,
          );
        }
        assert.ok(keyPatterns(access).some((p) => globMatches(p, `${mine}:${suffix}`)));
      }),
    );
  });
});

describe("command rules", () => {
  it("parses signs, categories and subcommands", () => {
    assert.deepEqual(parseCommandRule("GET"), { sign: "+", name: "get" });
    assert.deepEqual(parseCommandRule("-@hash"), { sign: "-", name: "@hash" });
    assert.deepEqual(parseCommandRule("+client|setname"), { sign: "+", name: "client|setname" });
    assert.equal(parseCommandRule("get key"), undefined);
    assert.equal(parseCommandRule("~*"), undefined);
    assert.equal(parseCommandRule(">password"), undefined);
  });
  it("flags dangerous grants", () => {
    for (const d of ["flushall", "keys", "@admin", "@dangerous", "config", "config|set", "acl", "@all"])
      assert.ok(isDangerousGrant(d), d);
    for (const s of ["get", "hset", "@hash", "client|setname"]) assert.ok(!isDangerousGrant(s), s);
  });
});
