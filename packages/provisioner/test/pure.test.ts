// Pure helpers: passwords, redaction, ACL LIST parsing, CLUSTER NODES parsing, access diffs.
import assert from "node:assert/strict";
import { test } from "node:test";
import { PASSWORD_ALPHABET, PASSWORD_LENGTH } from "@cacheplane/core";
import { declaresEnabled, hasCredentialRule, parseAclListLine, withEnabledFlag } from "../src/acl-rules.js";
import { parseClusterNodes } from "../src/cluster-topology.js";
import { accessRuleDiff, generatePassword, redact, redactUrl } from "../src/index.js";

test("generatePassword: PASSWORD_LENGTH characters from PASSWORD_ALPHABET, all different", () => {
  const seen = new Set<string>();
  const counts = new Map<string, number>();
  for (let i = 0; i < 500; i++) {
    const password = generatePassword();
    assert.equal(password.length, PASSWORD_LENGTH);
    for (const ch of password) {
      assert.ok(PASSWORD_ALPHABET.includes(ch));
      counts.set(ch, (counts.get(ch) ?? 0) + 1);
    }
    seen.add(password);
  }
  assert.equal(seen.size, 500);
  // 20 000 draws over 62 characters: every character shows up (p of a miss is negligible).
  assert.equal(counts.size, PASSWORD_ALPHABET.length);
  assert.equal(generatePassword(16).length, 16);
  assert.throws(() => generatePassword(0), RangeError);
});

test("redaction of URLs, ACL password rules and known secrets", () => {
  assert.equal(redactUrl("redis://admin:s3cret@host:6379"), "redis://admin:***@host:6379");
  assert.equal(redactUrl("rediss://:s3cret@host"), "rediss://:***@host");
  assert.equal(redactUrl("redis://tokenonly@host"), "redis://***@host");
  assert.equal(redact("modifier '>hunter2hunter2' is bad"), "modifier '>***' is bad");
  assert.equal(redact("x AbCdEfGh y AbCd%2Bx", ["AbCdEfGh", "AbCd+x"]), "x *** y ***");
  assert.equal(redact("abc", ["ab"]), "abc", "very short secrets are not replaced");
});

test("ACL LIST lines: rules without name and password hashes", () => {
  const hash = "a".repeat(64);
  const entry = parseAclListLine(`user svca on sanitize-payload #${hash} ~a:* resetchannels -@all +get`);
  assert.deepEqual(entry, {
    name: "svca",
    access: "on sanitize-payload ~a:* resetchannels -@all +get",
    passwordHashes: [hash],
  });
  assert.equal(parseAclListLine("not a user line"), undefined);
  assert.equal(declaresEnabled("on ~a:* off"), false);
  assert.equal(declaresEnabled("off ~a:* on"), true);
  assert.equal(declaresEnabled("~a:*"), false);
  assert.equal(declaresEnabled("on reset"), false);
  assert.equal(withEnabledFlag("off sanitize-payload ~a:*", true), "on sanitize-payload ~a:*");
  assert.equal(hasCredentialRule("on >pw"), true);
  assert.equal(hasCredentialRule("on #abc"), true);
  assert.equal(hasCredentialRule("on NOPASS"), true);
  assert.equal(hasCredentialRule("on ~a:* +get"), false);
});

test("CLUSTER NODES: masters first, replicas, handshake/noaddr skipped, myself without IP", () => {
  const text = [
    "e7d1 127.0.0.1:30004@40004 slave 07c3 0 1 1 connected",
    "07c3 127.0.0.1:30001@40001,node1.local master - 0 1 1 connected 0-5460",
    "67ed :30002@40002 myself,master - 0 0 2 connected 5461-10922",
    "aaaa 127.0.0.1:30009@40009 handshake - 0 0 0 disconnected",
    "bbbb :0@0 master,noaddr - 0 0 0 disconnected",
    "",
  ].join("\n");
  const nodes = parseClusterNodes(text, { host: "10.0.0.2", port: 30002 });
  assert.deepEqual(
    nodes.map((n) => [n.id, `${n.address.host}:${n.address.port}`, n.role, n.masterId]),
    [
      ["67ed", "10.0.0.2:30002", "master", undefined],
      ["07c3", "127.0.0.1:30001", "master", undefined],
      ["e7d1", "127.0.0.1:30004", "replica", "07c3"],
    ],
  );
});

test("accessRuleDiff names the rules that differ, ignoring order", () => {
  assert.deepEqual(accessRuleDiff("on ~a:* +get ~*", "on +get ~a:* -flushall"), {
    onlyActual: ["~*"],
    onlyDesired: ["-flushall"],
  });
  assert.deepEqual(accessRuleDiff("on +get +set", "on +set +get"), { onlyActual: [], onlyDesired: [] });
});
