import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { accessSync, constants, existsSync } from "node:fs";
import { createServer } from "node:net";
import { after, test } from "node:test";
import { fileURLToPath } from "node:url";
import {
  findRedisServer,
  getFreePort,
  keySlot,
  randomPassword,
  runningProcessCount,
  splitSlots,
  startRedis,
  stopAll,
} from "@cacheplane/testkit";
import { assertProcessGone, assertProcessGoneSoon } from "./process-helpers.js";

after(() => stopAll());

const repoRoot = fileURLToPath(new URL("../../..", import.meta.url));
const fixture = fileURLToPath(new URL("./fixtures/leave-running.ts", import.meta.url));

function withEnv(env: Record<string, string | undefined>, fn: () => void): void {
  const saved = Object.fromEntries(Object.keys(env).map((k) => [k, process.env[k]]));
  for (const [k, v] of Object.entries(env)) {
    if (v === undefined) delete process.env[k];
    else process.env[k] = v;
  }
  try {
    fn();
  } finally {
    for (const [k, v] of Object.entries(saved)) {
      if (v === undefined) delete process.env[k];
      else process.env[k] = v;
    }
  }
}

test("getFreePort returns a bindable port that is never 6379", async () => {
  const port = await getFreePort();
  assert.ok(Number.isInteger(port) && port > 0 && port < 65536);
  assert.notEqual(port, 6379);
  await new Promise<void>((resolve, reject) => {
    const server = createServer();
    server.once("error", reject);
    server.listen(port, "127.0.0.1", () => server.close(() => resolve()));
  });
});

test("findRedisServer: PATH lookup, REDIS_SERVER_BIN, install hint when missing", () => {
  const bin = findRedisServer();
  accessSync(bin, constants.X_OK);
  withEnv({ REDIS_SERVER_BIN: bin }, () => assert.equal(findRedisServer(), bin));
  withEnv({ REDIS_SERVER_BIN: "/nonexistent/redis-server" }, () =>
    assert.throws(
      () => findRedisServer(),
      /REDIS_SERVER_BIN=\/nonexistent\/redis-server.*apt-get install -y redis-server/,
    ),
  );
  withEnv({ REDIS_SERVER_BIN: undefined, PATH: "/nonexistent" }, () =>
    assert.throws(() => findRedisServer(), /sudo apt-get install -y redis-server/),
  );
});

test("keySlot matches Redis Cluster hashing; splitSlots covers all slots", () => {
  assert.equal(keySlot("123456789"), 0x31c3 % 16384);
  assert.equal(keySlot("foo"), 12182);
  assert.equal(keySlot("{user1000}.following"), keySlot("{user1000}.followers"));
  assert.equal(keySlot("foo{}{bar}"), keySlot("foo{}{bar}")); // empty tag: whole key hashed
  assert.notEqual(keySlot("foo{}{bar}"), keySlot("bar"));
  assert.deepEqual(splitSlots(3), [
    [0, 5460],
    [5461, 10921],
    [10922, 16383],
  ]);
  assert.deepEqual(splitSlots(1), [[0, 16383]]);
});

test("randomPassword is alphanumeric, 32+ characters and random", () => {
  const a = randomPassword();
  const b = randomPassword();
  assert.match(a, /^[A-Za-z0-9]{32,}$/);
  assert.notEqual(a, b);
  assert.equal(randomPassword(64).length, 64);
});

test("stopAll stops every server started by this process", async () => {
  const servers = await Promise.all([startRedis({ acl: false }), startRedis()]);
  const pids = servers.map((s) => s.pid);
  assert.notEqual(servers[0]!.port, servers[1]!.port);
  await stopAll();
  for (const pid of pids) assertProcessGone(pid);
  for (const server of servers) assert.equal(existsSync(server.dir), false);
  assert.equal(runningProcessCount(), 0);
});

async function runFixture(mode: "exit" | "wait", signal?: NodeJS.Signals) {
  const child = spawn(process.execPath, ["--import", "tsx", fixture, mode], {
    cwd: repoRoot,
    stdio: ["ignore", "pipe", "inherit"],
  });
  const exited = new Promise<number | null>((resolve) => child.once("exit", (code) => resolve(code)));
  const report = await new Promise<{ pid: number; dir: string }>((resolve, reject) => {
    let out = "";
    child.stdout.on("data", (chunk) => {
      out += chunk;
      const line = out.split("\n")[0];
      if (out.includes("\n") && line) resolve(JSON.parse(line));
    });
    child.once("exit", (code) => reject(new Error(`fixture exited with ${code} before reporting`)));
  });
  if (signal) child.kill(signal);
  return { ...report, code: await exited };
}

test("a process that exits without stop() still SIGKILLs its servers (exit hook)", async () => {
  const { pid, dir, code } = await runFixture("exit");
  assert.equal(code, 0);
  await assertProcessGoneSoon(pid);
  assert.equal(existsSync(dir), false);
});

test("SIGTERM stops the servers, then exits", async () => {
  const { pid, dir, code } = await runFixture("wait", "SIGTERM");
  assert.equal(code, 143);
  await assertProcessGoneSoon(pid);
  assert.equal(existsSync(dir), false);
});
