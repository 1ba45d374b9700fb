// Token files and the hash registry: shape, modes, idempotence, rotation with a grace period, and
// verification (constant-time hash comparison) with an injected clock.
import assert from "node:assert/strict";
import { mkdtemp, readFile, rm, stat, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { inspect } from "node:util";
import { TokenVerifier } from "../src/token-verifier.js";
import {
  ensureServiceTokens,
  hashToken,
  readTokenRegistry,
  rotateServiceTokens,
  serviceTokenPath,
  tokenRegistryPath,
} from "../src/tokens.js";

let dir: string;
before(async () => {
  dir = await mkdtemp(join(tmpdir(), "cacheplane-tokens-"));
});
after(async () => {
  await rm(dir, { recursive: true, force: true });
});

const T0 = new Date("2030-01-01T00:00:00.000Z");
const at = (seconds: number) => () => new Date(T0.getTime() + seconds * 1000);

describe("ensureServiceTokens", () => {
  test("writes <service>.token.json as exactly {readWrite, readOnly, namespacedReadWrite, namespacedReadOnly} with mode 0600", async () => {
    const tokens = await ensureServiceTokens(dir, "orders", { now: at(0) });
    const path = serviceTokenPath(dir, "orders");
    assert.equal(path, join(dir, "orders.token.json"));
    const parsed = JSON.parse(await readFile(path, "utf8"));
    assert.deepEqual(Object.keys(parsed), [
      "readWrite",
      "readOnly",
      "namespacedReadWrite",
      "namespacedReadOnly",
    ]);
    assert.deepEqual(parsed, tokens);
    for (const token of Object.values(tokens)) assert.match(token, /^[A-Za-z0-9_-]{43}$/);
    assert.equal(new Set(Object.values(tokens)).size, 4);
    assert.equal((await stat(path)).mode & 0o777, 0o600);
    assert.equal((await stat(tokenRegistryPath(dir))).mode & 0o777, 0o600);
  });

  test("the registry holds hashes only", async () => {
    const tokens = await ensureServiceTokens(dir, "orders");
    const text = await readFile(tokenRegistryPath(dir), "utf8");
    for (const token of Object.values(tokens)) assert.ok(!text.includes(token));
    const records = (await readTokenRegistry(tokenRegistryPath(dir))).filter((r) => r.service === "orders");
    assert.deepEqual(
      records.map((r) => [r.kind, r.namespaced === true, r.hash]).sort(),
      [
        ["read-only", false, hashToken(tokens.readOnly)],
        ["read-only", true, hashToken(tokens.namespacedReadOnly)],
        ["read-write", false, hashToken(tokens.readWrite)],
        ["read-write", true, hashToken(tokens.namespacedReadWrite)],
      ].sort(),
    );
    assert.ok(records.every((r) => r.createdAt === T0.toISOString() && r.expiresAt === undefined));
  });

  test("is idempotent: same tokens, registry untouched", async () => {
    const before = await readFile(tokenRegistryPath(dir), "utf8");
    const first = await ensureServiceTokens(dir, "orders");
    const second = await ensureServiceTokens(dir, "orders");
    assert.deepEqual(first, second);
    assert.equal(await readFile(tokenRegistryPath(dir), "utf8"), before);
  });

  test("concurrent calls for many services all land in the registry", async () => {
    const names = Array.from({ length: 12 }, (_, i) => `svc${i}`);
    const all = await Promise.all(names.map((n) => ensureServiceTokens(dir, n)));
    const again = await Promise.all(names.map((n) => ensureServiceTokens(dir, n)));
    assert.deepEqual(all, again);
    const records = await readTokenRegistry(tokenRegistryPath(dir));
    for (const name of names) assert.equal(records.filter((r) => r.service === name).length, 4);
  });

  test("a malformed token file is reported, never replaced, and its content is not echoed", async () => {
    await writeFile(join(dir, "broken.token.json"), '{"readWrite": "short-secret-value"}', { mode: 0o600 });
    await assert.rejects(
      () => ensureServiceTokens(dir, "broken"),
      (error: Error) => /must hold/.test(error.message) && !error.message.includes("short-secret-value"),
    );
    assert.equal(
      await readFile(join(dir, "broken.token.json"), "utf8"),
      '{"readWrite": "short-secret-value"}',
    );
    await assert.rejects(() => ensureServiceTokens(dir, "../escape"), /Invalid service name/);
  });

  test("a hand-replaced token file supersedes the old hashes", async () => {
    const old = await ensureServiceTokens(dir, "manual");
    await rm(serviceTokenPath(dir, "manual"));
    const fresh = await ensureServiceTokens(dir, "manual");
    assert.notDeepEqual(fresh, old);
    const verifier = new TokenVerifier({ registryFile: tokenRegistryPath(dir), refreshIntervalMs: 0 });
    assert.equal(await verifier.verify(old.readWrite), undefined);
    assert.deepEqual(await verifier.verify(fresh.readWrite), { service: "manual", kind: "read-write" });
  });
});

describe("rotateServiceTokens and verification", () => {
  test("old tokens stay valid until the grace period ends, new ones at once", async () => {
    let clock = T0.getTime();
    const verifier = new TokenVerifier(
      { registryFile: tokenRegistryPath(dir), refreshIntervalMs: 0 },
      () => clock,
    );
    const old = await ensureServiceTokens(dir, "rot", { now: () => new Date(clock) });
    assert.deepEqual(await verifier.verify(old.readOnly), { service: "rot", kind: "read-only" });

    const rotated = await rotateServiceTokens(dir, "rot", { graceSeconds: 600, now: () => new Date(clock) });
    assert.equal(rotated.previousValidUntil, new Date(clock + 600_000).toISOString());
    const { previousValidUntil: _until, ...rotatedTokens } = rotated;
    assert.deepEqual(JSON.parse(await readFile(serviceTokenPath(dir, "rot"), "utf8")), rotatedTokens);
    assert.deepEqual(await verifier.verify(rotated.namespacedReadWrite), {
      service: "rot",
      kind: "read-write",
      namespaced: true,
    });
    assert.deepEqual(await verifier.verify(old.namespacedReadOnly), {
      service: "rot",
      kind: "read-only",
      namespaced: true,
    });
    assert.deepEqual(await verifier.verify(rotated.readWrite), { service: "rot", kind: "read-write" });
    assert.deepEqual(await verifier.verify(old.readWrite), { service: "rot", kind: "read-write" });

    clock += 599_000;
    assert.ok(await verifier.verify(old.readWrite));
    clock += 1_000;
    assert.equal(await verifier.verify(old.readWrite), undefined);
    assert.equal(await verifier.verify(old.readOnly), undefined);
    assert.ok(await verifier.verify(rotated.readOnly));

    // ensure after a rotation keeps the new tokens and prunes the expired ones.
    assert.deepEqual(await ensureServiceTokens(dir, "rot", { now: () => new Date(clock) }), rotatedTokens);
    assert.equal(await verifier.verify(old.namespacedReadOnly), undefined);
    const records = (await readTokenRegistry(tokenRegistryPath(dir))).filter((r) => r.service === "rot");
    assert.equal(records.length, 4);
  });

  test("a token file from before namespaced tokens keeps its two tokens and gets the namespaced ones", async () => {
    const legacy = { readWrite: "r".repeat(43), readOnly: "o".repeat(43) };
    await writeFile(serviceTokenPath(dir, "legacy"), JSON.stringify(legacy), { mode: 0o600 });
    const verifier = new TokenVerifier({ registryFile: tokenRegistryPath(dir), refreshIntervalMs: 0 });
    const tokens = await ensureServiceTokens(dir, "legacy");
    assert.equal(tokens.readWrite, legacy.readWrite);
    assert.equal(tokens.readOnly, legacy.readOnly);
    assert.deepEqual(JSON.parse(await readFile(serviceTokenPath(dir, "legacy"), "utf8")), tokens);
    assert.deepEqual(await verifier.verify(legacy.readWrite), { service: "legacy", kind: "read-write" });
    assert.deepEqual(await verifier.verify(tokens.namespacedReadWrite), {
      service: "legacy",
      kind: "read-write",
      namespaced: true,
    });
    // Idempotent from then on.
    assert.deepEqual(await ensureServiceTokens(dir, "legacy"), tokens);
  });

  test("graceSeconds 0 revokes the previous tokens at once", async () => {
    const verifier = new TokenVerifier({ registryFile: tokenRegistryPath(dir), refreshIntervalMs: 0 });
    const old = await ensureServiceTokens(dir, "now");
    const rotated = await rotateServiceTokens(dir, "now", { graceSeconds: 0 });
    assert.equal(await verifier.verify(old.readWrite), undefined);
    assert.ok(await verifier.verify(rotated.readWrite));
    await assert.rejects(() => rotateServiceTokens(dir, "now", { graceSeconds: -1 }), /graceSeconds/);
  });

  test("in-code records, unknown and oversized tokens", async () => {
    const verifier = new TokenVerifier({
      records: [
        { service: "x", kind: "read-only", hash: hashToken("t".repeat(43)), createdAt: T0.toISOString() },
      ],
    });
    assert.deepEqual(await verifier.verify("t".repeat(43)), { service: "x", kind: "read-only" });
    assert.equal(await verifier.verify("t".repeat(42)), undefined);
    assert.equal(await verifier.verify(undefined), undefined);
    assert.equal(await verifier.verify(""), undefined);
    assert.equal(await verifier.verify("t".repeat(10_000)), undefined);
  });

  test("a missing registry file means no valid tokens; a broken one keeps the last good state", async () => {
    const other = await mkdtemp(join(tmpdir(), "cacheplane-tokens-"));
    try {
      const verifier = new TokenVerifier({ registryFile: tokenRegistryPath(other), refreshIntervalMs: 0 });
      assert.equal(await verifier.verify("anything-at-all"), undefined);
      const tokens = await ensureServiceTokens(other, "svc");
      assert.ok(await verifier.verify(tokens.readWrite));
      await writeFile(tokenRegistryPath(other), "{ not json");
      assert.ok(await verifier.verify(tokens.readWrite));
    } finally {
      await rm(other, { recursive: true, force: true });
    }
  });
});

describe("remembered matches", () => {
  test("a token verified just before a rotation without grace is refused at once", async () => {
    const verifier = new TokenVerifier({ registryFile: tokenRegistryPath(dir), refreshIntervalMs: 0 });
    const old = await ensureServiceTokens(dir, "mem");
    assert.deepEqual(await verifier.verify(old.readWrite), { service: "mem", kind: "read-write" });
    assert.deepEqual(await verifier.verify(old.readWrite), { service: "mem", kind: "read-write" });
    const rotated = await rotateServiceTokens(dir, "mem", { graceSeconds: 0 });
    assert.equal(await verifier.verify(old.readWrite), undefined);
    assert.deepEqual(await verifier.verify(rotated.readWrite), { service: "mem", kind: "read-write" });
  });

  test("expiry applies to a remembered token", async () => {
    const token = "e".repeat(43);
    let clock = T0.getTime();
    const verifier = new TokenVerifier(
      {
        records: [
          {
            service: "x",
            kind: "read-only",
            hash: hashToken(token),
            createdAt: T0.toISOString(),
            expiresAt: new Date(clock + 10_000).toISOString(),
          },
        ],
      },
      () => clock,
    );
    assert.ok(verifier.check(token));
    clock += 8_000; // remembered again from here, past the expiry
    assert.ok(verifier.check(token));
    clock += 2_000;
    assert.equal(verifier.check(token), undefined);
    assert.equal(await verifier.verify(token), undefined);
  });

  test("only hashes of matched tokens are kept, never a token", async () => {
    const token = "k".repeat(43);
    const unknown = "u".repeat(43);
    const verifier = new TokenVerifier({
      records: [{ service: "x", kind: "read-write", hash: hashToken(token), createdAt: T0.toISOString() }],
    });
    for (let i = 0; i < 3; i++) {
      assert.ok(verifier.check(token));
      assert.equal(verifier.check(unknown), undefined);
    }
    const matches = (verifier as unknown as { matches: Map<string, unknown> }).matches;
    assert.deepEqual([...matches.keys()], [Buffer.from(hashToken(token), "hex").toString("base64")]);
    const everything = inspect(verifier, { depth: Number.POSITIVE_INFINITY, showHidden: true });
    assert.ok(!everything.includes(token) && !everything.includes(unknown));
  });

  test("check answers from the registry as last read; verify re-reads it when due", async () => {
    const other = await mkdtemp(join(tmpdir(), "cacheplane-tokens-"));
    try {
      const first = await ensureServiceTokens(other, "svc");
      const verifier = new TokenVerifier({
        registryFile: tokenRegistryPath(other),
        refreshIntervalMs: 60_000,
      });
      assert.equal(verifier.isCurrent(), false, "nothing read yet");
      assert.ok(await verifier.verify(first.readWrite));
      assert.equal(verifier.isCurrent(), true);
      const second = await rotateServiceTokens(other, "svc", { graceSeconds: 0 });
      // Within the refresh interval the registry is not re-read (as before remembered matches).
      assert.ok(verifier.check(first.readWrite));
      assert.equal(verifier.check(second.readWrite), undefined);
      await verifier.refresh(true);
      assert.equal(verifier.check(first.readWrite), undefined);
      assert.ok(verifier.check(second.readWrite));
    } finally {
      await rm(other, { recursive: true, force: true });
    }
  });
});
