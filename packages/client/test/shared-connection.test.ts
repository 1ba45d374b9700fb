/**
 * The one connection-from-secret implementation (`@cacheplane/client/connection`) that the client,
 * the gateway and `cacheplane doctor` share, against real redis-servers: fail fast while Redis is known
 * to be down, the "may want TLS" diagnosis for a plain connection to a TLS-only port, TLS with a
 * private CA to an IP address, and subscribers that survive a password rotation. No time is measured:
 * the timeouts are an hour, so an answer proves the fail-fast path.
 */
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { after, before, describe, it } from "node:test";
import { setTimeout as sleep } from "node:timers/promises";
import { fileURLToPath } from "node:url";
import {
  connectionHint,
  createRedisClient,
  RedisConnection,
  RedisUnavailableError,
  redisOptionsFromSecret,
  SecretSource,
  waitReady,
} from "@cacheplane/client/connection";
import { getFreePort, type RedisServer, startRedis } from "@cacheplane/testkit";
import { createServiceUser, secretFor } from "./helpers/redis.js";

const HOUR_MS = 3_600_000;
const PASSWORD = "Shared-Conn-Pw-5566778899";

function inline(value: object): SecretSource {
  return new SecretSource({ kind: "inline", value });
}

describe("fail fast while Redis is known to be down", () => {
  it("a refused connection is 'failed' with the cause and a hint; from then on 'down' at once", async () => {
    const port = await getFreePort();
    const connection = new RedisConnection({
      source: inline(secretFor({ host: "127.0.0.1", port }, "orders", PASSWORD)),
      connectTimeoutMs: HOUR_MS,
      commandTimeoutMs: HOUR_MS,
    });
    const errors: string[] = [];
    connection.onError((error) => errors.push(error.message));
    try {
      await assert.rejects(
        connection.acquire(),
        (error: unknown) =>
          error instanceof RedisUnavailableError &&
          error.reason === "failed" &&
          error.message.includes(`Redis at 127.0.0.1:${port} is not connected`) &&
          /ECONNREFUSED.*\(is the server running, and are host and port right\?\)/.test(error.message),
      );
      // Known to be down: refused at once, although the caller would wait an hour.
      for (let i = 0; i < 3; i++) {
        await assert.rejects(
          connection.acquire(),
          (error: unknown) => error instanceof RedisUnavailableError && error.reason === "down",
        );
      }
      assert.ok(errors.some((m) => m.startsWith(`Redis at 127.0.0.1:${port}: connect ECONNREFUSED`)));
      assert.ok(!errors.join("\n").includes(PASSWORD));
    } finally {
      await connection.close();
    }
  });
});

describe("TLS", () => {
  let server: RedisServer;
  before(async () => {
    server = await startRedis({ acl: true, tls: true });
    const admin = server.client();
    await createServiceUser(admin, "orders", PASSWORD);
    admin.disconnect();
  });
  after(async () => {
    await server.stop();
  });

  it("a plain connection to a TLS-only port says the server may want TLS", async () => {
    const secret = secretFor({ host: "127.0.0.1", port: server.port }, "orders", PASSWORD, { tls: false });
    // (The default command timeout: a command in flight when the connection drops is kept for a resend
    // by ioredis, its timer with it.)
    const connection = new RedisConnection({ source: inline(secret), connectTimeoutMs: HOUR_MS });
    const errors: string[] = [];
    connection.onError((error) => errors.push(error.message));
    try {
      // The TCP connection is accepted and dropped at the first bytes: that attempt failed, the
      // connection never worked (it is not "lost", so the next caller is not held for a reconnect).
      let refused: RedisUnavailableError | undefined;
      for (let i = 0; i < 100 && refused === undefined; i++) {
        try {
          const client = await connection.acquire();
          await client.ping().catch(() => undefined);
        } catch (error) {
          if (error instanceof RedisUnavailableError) refused = error;
          else throw error;
        }
        await sleep(10);
      }
      assert.ok(refused, "never refused");
      assert.match(refused.message, /ECONNRESET \(the server closed the connection at once: it may want TLS/);
      assert.ok(
        errors.some((m) => /it may want TLS; set tls: true in the secret, or use rediss:\/\//.test(m)),
      );
    } finally {
      await connection.close();
    }
  });

  it("TLS to an IP address with a private CA (no server name for an IP; the certificate names it)", async () => {
    const secret = secretFor({ host: "127.0.0.1", port: server.port }, "orders", PASSWORD, { tls: true });
    assert.equal(redisOptionsFromSecret(secret).tls?.servername, undefined);
    assert.equal(
      redisOptionsFromSecret({ ...secret, host: "cache.example" }).tls?.servername,
      "cache.example",
    );
    const connection = new RedisConnection({ source: inline(secret), tls: { ca: server.tls!.ca } });
    try {
      const client = await connection.acquire();
      assert.equal(await client.set("orders:tls", "v"), "OK");
    } finally {
      await connection.close();
    }
    // Without the CA: the attempt fails, and the hint says to pass the CA.
    const untrusted = await createRedisClient(secret, { connectTimeoutMs: HOUR_MS });
    untrusted.on("error", () => undefined);
    try {
      await assert.rejects(
        waitReady(untrusted, HOUR_MS),
        (error: unknown) =>
          error instanceof RedisUnavailableError &&
          error.reason === "failed" &&
          /certificate.*\(pass the CA that signed the server's certificate as the tls\.ca option\)/.test(
            error.message,
          ),
      );
    } finally {
      untrusted.disconnect();
    }
  });

  it("hints: every surface words the same causes the same way", () => {
    assert.match(connectionHint("write ECONNRESET", { tls: false }), /it may want TLS/);
    assert.equal(connectionHint("write ECONNRESET", { tls: true }).includes("may want TLS"), false);
    assert.match(
      connectionHint("self-signed certificate", { tls: true, caSetting: "--tls-ca <file>" }),
      /\(pass --tls-ca <file>\)$/,
    );
    assert.match(connectionHint("WRONGPASS invalid username-password pair", { tls: false }), /rotated/);
    assert.equal(connectionHint("something else", { tls: false }), "");
  });
});

describe("password rotation", () => {
  let server: RedisServer;
  let dir: string;
  before(async () => {
    server = await startRedis({ acl: true, tls: false });
    dir = await mkdtemp(join(tmpdir(), "cp-shared-"));
  });
  after(async () => {
    await server.stop();
    await rm(dir, { recursive: true, force: true });
  });

  it("a subscriber keeps its subscriptions: it reconnects with the new password and resubscribes", async () => {
    const admin = server.client();
    const user = "rotsub";
    const first = "first-Sub-Rotation-Pw-1111";
    const second = "second-Sub-Rotation-Pw-2222";
    await createServiceUser(admin, "orders", first, user);
    const file = join(dir, "rotsub.json");
    await writeFile(file, JSON.stringify({ ...secretFor(server, "orders", first), username: user }));
    const connection = new RedisConnection({
      source: new SecretSource({ kind: "file", path: file }, { minRefreshIntervalMs: 0 }),
      connectTimeoutMs: 2000,
    });
    try {
      const subscriber = await connection.subscriber();
      const received: string[] = [];
      subscriber.on("message", (_channel: string, message: string) => received.push(message));
      await subscriber.subscribe("orders:news");

      await admin.call("ACL", "SETUSER", user, "resetpass", `>${second}`);
      await writeFile(file, JSON.stringify({ ...secretFor(server, "orders", second), username: user }));
      await admin.call("CLIENT", "KILL", "USER", user);

      // Publish until the resubscribed connection hears it (bounded attempts, not a time).
      for (let i = 0; i < 200 && !received.includes(`after-${i - 1}`); i++) {
        await admin.publish("orders:news", `after-${i}`);
        await sleep(25);
      }
      assert.ok(
        received.some((m) => m.startsWith("after-")),
        "the subscriber never heard a message after the rotation",
      );
      const client = await connection.acquire();
      assert.equal(await client.set("orders:after-rotation", "1"), "OK");
    } finally {
      await connection.close();
      admin.disconnect();
    }
  });
});

describe("the @cacheplane/client/connection entry point", () => {
  it("loads only the connection modules, not the rest of the client", () => {
    const src = fileURLToPath(new URL("../src/", import.meta.url));
    const seen = new Set<string>();
    const visit = (file: string) => {
      if (seen.has(file)) return;
      seen.add(file);
      const text = readFileSync(file, "utf8");
      // Static imports and re-exports of sibling modules (type-only ones load nothing).
      for (const match of text.matchAll(/^(import|export)\s+(type\s+)?[^;]*?from\s+"(\.[^"]+)\.js";/gms)) {
        if (match[2]) continue;
        visit(resolve(dirname(file), `${match[3]}.ts`));
      }
    };
    visit(join(src, "connection.ts"));
    const loaded = [...seen].map((file) => file.slice(src.length)).sort();
    assert.deepEqual(loaded, [
      "connection-errors.ts",
      "connection-options.ts",
      "connection-state.ts",
      "connection.ts",
      "errors.ts",
      "iam-auth.ts",
      "iam-reauth.ts",
      "key-slot.ts",
      "node-builtins.ts",
      "redis-connection.ts",
      "secret-source.ts",
      "write-batching.ts",
    ]);
  });
});
