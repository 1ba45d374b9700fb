import assert from "node:assert/strict";
import { describe, it } from "node:test";
import fc from "fast-check";
import {
  buildAccessString,
  DENIED_COMMANDS,
  explicitGrantProblem,
  forbiddenProbes,
  isDangerousGrant,
  normalizeKeyspace,
  parseCommandRule,
  SCRIPTING_COMMANDS,
} from "../src/index.js";

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
  it("read-write adds writes, transactions, pub/sub and FCALL, never EVAL, SCRIPT or FUNCTION", () => {
    const s = buildAccessString({ keyspace: "orders", sharedKeyspaces: ["common"], access: "read-write" });
    assert.ok(s.startsWith("on ~orders:* ~common:* resetchannels &orders:* &common:* -@all"));
    const rules = s.split(" ");
    for (const r of [
      "+@write",
      "+@transaction",
      "+@pubsub",
      "+fcall",
      "+fcall_ro",
      "-function",
      "-script|flush",
    ])
      assert.ok(rules.includes(r), r);
    for (const r of ["+eval", "+evalsha", "+eval_ro", "+evalsha_ro", "+script|load", "+script|exists"])
      assert.ok(!rules.includes(r), r);
    for (const r of ["-eval", "-evalsha", "-eval_ro", "-evalsha_ro", "-script"])
      assert.ok(rules.includes(r), r);
  });
  it("every preset denies enumeration: scan, keys, dbsize, randomkey, pubsub, client tracking, select", () => {
    for (const access of ["read-only", "read-write"] as const) {
      const rules = buildAccessString({ keyspace: "k", access }).split(" ");
      for (const r of [
        "-scan",
        "-keys",
        "-dbsize",
        "-randomkey",
        "-pubsub",
        "-client|tracking",
        "-client|caching",
        "-client|getredir",
        "-client|trackinginfo",
        "-cluster|getkeysinslot",
        "-cluster|countkeysinslot",
        "-select",
        "-memory|stats",
      ])
        assert.ok(rules.includes(r), `${access}: ${r}`);
    }
  });
  it("scripting: true grants EVAL and SCRIPT LOAD but still denies SCRIPT FLUSH/KILL and FUNCTION", () => {
    const rules = buildAccessString({ keyspace: "s", access: "read-write", scripting: true }).split(" ");
    for (const r of ["+eval", "+evalsha", "+eval_ro", "+evalsha_ro", "+script|load"])
      assert.ok(rules.includes(r), r);
    for (const r of ["-eval", "-script", "+script|exists"]) assert.ok(!rules.includes(r), r);
    for (const r of ["-script|flush", "-script|kill", "-function"]) assert.ok(rules.includes(r), r);
  });
  it("the safety tail comes after the explicit commands, so no explicit rule re-grants what it denies", () => {
    const s = buildAccessString({
      keyspace: "x",
      access: { preset: "read-only", commands: ["+@slow", "+@keyspace", "+@connection", "+@write"] },
    });
    const rules = s.split(" ");
    const lastExplicit = rules.lastIndexOf("+@write");
    assert.ok(lastExplicit > 0);
    for (const denied of ["-@dangerous", "-@admin", ...DENIED_COMMANDS.map((c) => `-${c.name}`)])
      assert.ok(rules.indexOf(denied) > lastExplicit, `${denied} after the explicit rules`);
  });
  it("property: without allowDangerous the string always ends with the full safety tail", () => {
    const pool = [
      "+@slow",
      "+@all",
      "+@keyspace",
      "+scan",
      "+client",
      "+acl",
      "+@scripting",
      "-get",
      "+get",
      "+eval",
    ];
    const tail = ["-@dangerous", "-@admin", ...DENIED_COMMANDS.map((c) => `-${c.name}`)].join(" ");
    fc.assert(
      fc.property(
        fc.array(fc.constantFrom(...pool), { minLength: 1, maxLength: 8 }),
        fc.boolean(),
        (commands, scripting) => {
          const s = buildAccessString({
            keyspace: "p",
            access: { preset: "read-only", commands },
            scripting,
          });
          const expectedEnd = scripting
            ? tail
            : `${tail} ${SCRIPTING_COMMANDS.map((c) => `-${c.name}`).join(" ")}`;
          assert.ok(s.endsWith(expectedEnd), s);
        },
      ),
    );
  });
  it("allowDangerous puts the explicit commands after the tail, so they win", () => {
    const s = buildAccessString({
      keyspace: "x",
      access: { preset: "read-only", commands: ["+flushall"] },
      allowDangerous: true,
    });
    assert.ok(s.endsWith("-script +flushall"));
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
  it("flags dangerous grants: categories, tail commands, their subcommands, dangerous parents", () => {
    for (const d of [
      "flushall",
      "keys",
      "@admin",
      "@dangerous",
      "@scripting",
      "config",
      "config|set",
      "acl",
      "acl|whoami",
      "@all",
      "scan",
      "dbsize",
      "pubsub|channels",
      "client",
      "client|tracking",
      "client|kill",
      "cluster|getkeysinslot",
      "cluster|links",
      "select",
      "memory|stats",
      "script|flush",
      "function|list",
    ])
      assert.ok(isDangerousGrant(d), d);
    for (const s of [
      "get",
      "hset",
      "@hash",
      "@slow",
      "@keyspace",
      "client|setname",
      "memory|usage",
      "eval",
      "script|load",
    ])
      assert.ok(!isDangerousGrant(s), s);
  });
  it("explains why an explicit grant is refused, and what fixes it", () => {
    assert.equal(explicitGrantProblem("scan", {})?.kind, "dangerous");
    assert.match(explicitGrantProblem("scan", {})!.message, /key names/);
    assert.equal(explicitGrantProblem("scan", { allowDangerous: true }), undefined);
    assert.equal(explicitGrantProblem("eval", {})?.kind, "scripting");
    assert.equal(explicitGrantProblem("evalsha", { scripting: true }), undefined);
    assert.equal(explicitGrantProblem("@slow", {}), undefined);
  });
  it("forbidden probes: the tail for everyone, scripting unless allowed, writes for read-only", () => {
    const names = (svc: Parameters<typeof forbiddenProbes>[0]) =>
      new Set(forbiddenProbes(svc).map((p) => p.argv.slice(0, 2).join(" ")));
    const rw = names({ keyspace: "k", access: "read-write" });
    assert.ok(
      rw.has("scan 0") && rw.has("eval return 1") && rw.has("acl setuser") && rw.has("client tracking"),
    );
    assert.ok(!rw.has("set k:x"));
    const rws = names({ keyspace: "k", access: "read-write", scripting: true });
    assert.ok(!rws.has("eval return 1") && rws.has("script flush"));
    const ro = names({ keyspace: "k", access: "read-only" });
    assert.ok(ro.has("set k:x") && ro.has("fcall f") && ro.has("eval return 1"));
    for (const probe of forbiddenProbes({ keyspace: "k", access: "read-only" }))
      assert.ok(!probe.argv.some((a) => a.includes("{ks}")), probe.argv.join(" "));
  });
});
