import assert from "node:assert/strict";
import { existsSync, readFileSync } from "node:fs";
import { type AddressInfo, createServer } from "node:net";
import { after, test } from "node:test";
import { runningProcessCount, startRedis, stopAll } from "@cacheplane/testkit";
import { Redis } from "ioredis";
import { assertProcessGone } from "./process-helpers.js";

after(() => stopAll());

test("ACL on by default: default user refused, admin works, ACL SAVE persists across restart", async (t) => {
  const server = await startRedis();
  t.after(() => server.stop());
  const pid = server.pid;
  assert.equal(server.host, "127.0.0.1");
  assert.notEqual(server.port, 6379);
  assert.equal(server.admin.username, "admin");
  assert.match(server.admin.password, /^[A-Za-z0-9]{32,}$/);
  assert.equal(server.url, `redis://admin:${server.admin.password}@127.0.0.1:${server.port}`);
  assert.equal(server.tls, undefined);

  const anonymous = new Redis({
    host: server.host,
    port: server.port,
    lazyConnect: true,
    enableReadyCheck: false,
    retryStrategy: () => null,
    maxRetriesPerRequest: 0,
  });
  anonymous.on("error", () => undefined);
  try {
    await anonymous.connect();
    await assert.rejects(anonymous.ping(), /NOAUTH/);
    await assert.rejects(anonymous.auth("default", "anything"), /WRONGPASS/);
  } finally {
    anonymous.disconnect();
  }

  const admin = server.client();
  admin.on("error", () => undefined); // reconnect attempts during restart()
  assert.equal(await admin.ping(), "PONG");
  assert.equal(await admin.call("ACL", "WHOAMI"), "admin");
  assert.equal(await admin.set("k", "v"), "OK");

  // The admin URL works as-is.
  const byUrl = new Redis(server.url);
  assert.equal(await byUrl.call("ACL", "WHOAMI"), "admin");
  await byUrl.quit();

  assert.equal(await admin.call("ACL", "SETUSER", "svc", "on", ">svc-password", "~svc:*", "+get"), "OK");
  assert.equal(await admin.call("ACL", "SAVE"), "OK");
  assert.ok(server.aclFile);
  assert.match(readFileSync(server.aclFile, "utf8"), /^user svc on /m);
  assert.equal(await admin.call("ACL", "LOAD"), "OK");

  await server.restart();
  assert.notEqual(server.pid, pid);
  // The user saved with ACL SAVE survived the restart: the same aclfile was loaded again.
  const svc = new Redis({
    host: server.host,
    port: server.port,
    username: "svc",
    password: "svc-password",
    enableReadyCheck: false,
  });
  assert.equal(await svc.get("svc:missing"), null);
  await assert.rejects(svc.set("svc:x", "1"), /NOPERM/);
  await svc.quit();

  const lastPid = server.pid;
  const dir = server.dir;
  await server.stop();
  assertProcessGone(pid);
  assertProcessGone(lastPid);
  assert.equal(existsSync(dir), false, "temp dir removed");
  await server.stop(); // idempotent
});

test("acl: false: default user without password, extraConfig applied", async (t) => {
  const server = await startRedis({ acl: false, extraConfig: { "maxmemory-policy": "allkeys-lru" } });
  t.after(() => server.stop());
  const pid = server.pid;
  assert.deepEqual(server.admin, { username: "default", password: "" });
  assert.equal(server.url, `redis://127.0.0.1:${server.port}`);
  assert.equal(server.aclFile, undefined);

  const plain = new Redis({ host: server.host, port: server.port });
  assert.equal(await plain.ping(), "PONG");
  assert.equal(await plain.call("ACL", "WHOAMI"), "default");
  await plain.quit();

  const client = server.client();
  assert.deepEqual(await client.config("GET", "maxmemory-policy"), ["maxmemory-policy", "allkeys-lru"]);
  assert.deepEqual(await client.config("GET", "save"), ["save", ""]);
  assert.deepEqual(await client.config("GET", "appendonly"), ["appendonly", "no"]);

  await server.stop();
  assertProcessGone(pid);
  assert.equal(client.status, "end", "tracked client closed by stop()");
});

test("kill() then restart() answers again on the same port", async (t) => {
  const server = await startRedis();
  t.after(() => server.stop());
  const port = server.port;
  const firstPid = server.pid;
  const client = server.client();
  client.on("error", () => undefined); // reconnect attempts while the server is down
  assert.equal(await client.ping(), "PONG");

  await server.kill();
  assertProcessGone(firstPid);
  assert.equal(server.pid, undefined);

  await server.restart();
  assert.equal(server.port, port);
  assert.ok(server.pid !== undefined && server.pid !== firstPid);
  const fresh = new Redis({
    host: "127.0.0.1",
    port,
    username: server.admin.username,
    password: server.admin.password,
  });
  assert.equal(await fresh.ping(), "PONG");
  await fresh.quit();
  assert.equal(await client.ping(), "PONG", "tracked client reconnects by itself");

  const secondPid = server.pid;
  await server.stop();
  assertProcessGone(secondPid);
});

test("pause() makes commands time out, resume() brings them back; stop() works while paused", async (t) => {
  const server = await startRedis();
  t.after(() => server.stop());
  const pid = server.pid;
  const client = server.client({ commandTimeout: 300 });
  assert.equal(await client.ping(), "PONG");

  server.pause();
  const started = Date.now();
  await assert.rejects(client.ping(), /timed out/i);
  assert.ok(Date.now() - started >= 250, "timed out by commandTimeout");

  server.resume();
  assert.equal(await client.ping(), "PONG");

  server.pause();
  await server.stop();
  assertProcessGone(pid);
});

test("a server that cannot start rejects with its log tail and leaves nothing behind", async () => {
  await assert.rejects(
    startRedis({ acl: false, extraConfig: { "no-such-directive": "1" } }),
    (error: Error) => {
      assert.match(error.message, /exited with 1 during startup/);
      assert.match(error.message, /Bad directive or wrong number of arguments/);
      return true;
    },
  );
  assert.equal(runningProcessCount(), 0, "no redis-server left running");
});

test("a port that is already taken is retried with a new free port", async (t) => {
  const blocker = createServer();
  await new Promise<void>((resolve) => blocker.listen(0, "127.0.0.1", () => resolve()));
  t.after(() => blocker.close());
  const takenPort = (blocker.address() as AddressInfo).port;

  const server = await startRedis({ acl: false, preferredPort: takenPort });
  t.after(() => server.stop());
  assert.notEqual(server.port, takenPort);
  assert.match(server.logTail(100), /Address already in use/);
  assert.equal(await server.client().ping(), "PONG");
  const pid = server.pid;
  await server.stop();
  assertProcessGone(pid);

  // The shared Redis port is refused before anything is spawned or connected.
  await assert.rejects(startRedis({ preferredPort: 6379 }), /reserved/);
});
