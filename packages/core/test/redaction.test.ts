import assert from "node:assert/strict";
import { test } from "node:test";
import { Redactor, redact, redactUrl } from "../src/index.js";

test("redactUrl masks the password of redis:// and rediss:// URLs only", () => {
  assert.equal(redactUrl("redis://admin:s3cretpw@127.0.0.1:6380"), "redis://admin:***@127.0.0.1:6380");
  assert.equal(redactUrl("rediss://:tok%2Fen@host:6379/0"), "rediss://:***@host:6379/0");
  assert.equal(redactUrl("redis://host:6379"), "redis://host:6379");
});

test("Redactor masks registered secrets, their URL-encoded form, and URL passwords", () => {
  const redactor = new Redactor();
  redactor.add("p@ss/word-1234");
  redactor.add("ab"); // too short to register: would mask ordinary text
  const text = redactor.redact("pw p@ss/word-1234 enc p%40ss%2Fword-1234 url redis://u:other@h:1 ab");
  assert.equal(text, "pw *** enc *** url redis://u:***@h:1 ab");
});

test("redact masks ACL password rules only when asked, and keeps hint placeholders", () => {
  const line = "ACL SETUSER svc reset on >s3cret-password ~a:* #abc";
  assert.equal(redact(line, [], { aclPasswordRules: true }), "ACL SETUSER svc reset on >*** ~a:* #abc");
  assert.equal(redact(line), line);
  assert.equal(redactUrl("redis://<user>:<password>@host:6379"), "redis://<user>:<password>@host:6379");
  assert.equal(redactUrl("https://token-abcdef@example.test/x"), "https://***@example.test/x");
});
