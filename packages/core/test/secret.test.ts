import assert from "node:assert/strict";
import { describe, it } from "node:test";
import {
  buildSecretPayload,
  findService,
  isAcceptablePassword,
  parseConfig,
  parseSecretPayload,
  redactSecret,
  SecretPayloadError,
} from "../src/index.js";

const password = "Zx9QkP2mW7vR4tY8uN3bL6cF1hJ5gD0sA2eK7qW";

describe("secret payload", () => {
  it("keeps auth and user_arn, and lets an IAM secret go without a password", () => {
    const base = { host: "h.example", port: 6379, username: "orders", keyspace: "orders" };
    const iam = parseSecretPayload({ ...base, auth: "iam" });
    assert.equal(iam.auth, "iam");
    assert.equal(iam.password, "");
    const arn = "arn:aws:elasticache:eu-west-1:123456789012:user:orders";
    assert.equal(parseSecretPayload({ ...base, password, user_arn: arn }).user_arn, arn);
    assert.throws(() => parseSecretPayload({ ...base }), /password: is required/);
    assert.throws(() => parseSecretPayload({ ...base, password, auth: "kerberos" }), /auth: must be/);
    assert.throws(
      () => parseSecretPayload({ ...base, password, user_arn: "orders" }),
      /user_arn: must be the ARN/,
    );
  });

  it("builds the payload shape and parses it back", () => {
    const config = parseConfig({
      stage: "dev",
      region: "local",
      services: [{ name: "orders", access: "read-write", sharedKeyspaces: ["common"] }],
    });
    const payload = buildSecretPayload(
      config,
      findService(config, "orders"),
      { host: "127.0.0.1", port: 7000, tls: false },
      { current: password },
    );
    assert.deepEqual(parseSecretPayload(JSON.stringify(payload)), payload);
    assert.deepEqual(Object.keys(payload).sort(), [
      "engine",
      "host",
      "keyspace",
      "password",
      "port",
      "sharedKeyspaces",
      "tls",
      "username",
    ]);
  });

  it("names every bad field and never echoes the password", () => {
    try {
      parseSecretPayload(
        { host: "", port: "abc", username: 3, password, keyspace: "a:b", tls: "maybe" },
        "file.json",
      );
      assert.fail("accepted");
    } catch (err) {
      assert.ok(err instanceof SecretPayloadError);
      assert.deepEqual(err.fields, ["host", "port", "username", "keyspace", "tls"]);
      assert.ok(!err.message.includes(password));
      assert.ok(!String(err.stack).includes(password));
      assert.match(err.message, /in file\.json/);
    }
  });

  it("defaults tls to true, accepts string port and tls, rejects non-objects and bad JSON", () => {
    const p = parseSecretPayload({ host: "h", port: "6379", username: "u", password: "p", keyspace: "k" });
    assert.equal(p.tls, true);
    assert.equal(p.port, 6379);
    assert.equal(parseSecretPayload({ ...p, tls: "false" }).tls, false);
    assert.throws(() => parseSecretPayload("{nope"), /not valid JSON/);
    assert.throws(() => parseSecretPayload([1]), /must be a JSON object/);
    assert.throws(
      () => parseSecretPayload({ ...p, password: "" }),
      (e: SecretPayloadError) => e.fields.includes("password"),
    );
  });

  it("redacts both passwords", () => {
    const p = parseSecretPayload({
      host: "h",
      port: 1,
      username: "u",
      password,
      keyspace: "k",
      previousPassword: "old-one-x",
    });
    const r = redactSecret(p);
    assert.equal(r.password, "***");
    assert.equal(r.previousPassword, "***");
    assert.ok(!JSON.stringify(r).includes(password));
  });

  it("checks ElastiCache password rules", () => {
    assert.ok(isAcceptablePassword(password));
    assert.ok(!isAcceptablePassword("short"));
    assert.ok(!isAcceptablePassword(`${password}@`));
    assert.ok(!isAcceptablePassword(`${password} x`));
  });
});
