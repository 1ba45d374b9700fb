// `cacheplane gateway --workers N` (docs/decisions/0021): N processes serve one port, a crashed worker
// is replaced, SIGTERM drains the requests in flight.
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import cluster from "node:cluster";
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { after, type TestContext, test } from "node:test";
import { fileURLToPath } from "node:url";
import { getFreePort, startRedis, stopAll } from "@cacheplane/testkit";
import type { Redis } from "ioredis";
import { parseWorkers, restartDelayMs } from "../src/commands/gateway-workers.js";
import { cli, SAMPLE_CONFIG, startServing, tempDir, writeConfig } from "./helpers.js";

after(() => stopAll());

const BIN = fileURLToPath(new URL("../bin/cacheplane.js", import.meta.url));

/** `orders-api`'s Redis connections open now (one per gateway process that served it). */
async function serviceConnections(admin: Redis): Promise<number> {
  const list = (await admin.call("CLIENT", "LIST")) as string;
  return list.split("\n").filter((line) => / user=\S*orders\S* /.test(line)).length;
}

/** A GET on a new TCP connection (node:cluster hands connections to the workers in turn). */
async function getOnNewConnection(url: string, token: string): Promise<Response> {
  return fetch(`${url}/get/orders:w`, {
    headers: { authorization: `Bearer ${token}`, connection: "close" },
  });
}

async function waitFor(what: string, check: () => boolean | Promise<boolean>): Promise<void> {
  for (let i = 0; i < 400; i++) {
    if (await check()) return;
    await new Promise((r) => setTimeout(r, 50));
  }
  assert.fail(`timed out waiting for ${what}`);
}

async function platform(t: TestContext) {
  const server = await startRedis({ acl: true });
  t.after(() => server.stop());
  const admin = server.client();
  t.after(() => admin.disconnect());
  const dir = await tempDir(t);
  const config = await writeConfig(dir, SAMPLE_CONFIG);
  const secrets = join(dir, "secrets");
  const flags = ["--config", config, "--secrets-dir", secrets];
  const applied = await cli(["apply", ...flags, "--target", server.url]);
  assert.equal(applied.code, 0, applied.stderr);
  const tokens = JSON.parse(await readFile(join(secrets, "orders-api.token.json"), "utf8")) as {
    readWrite: string;
  };
  await admin.set("orders:w", '"worker"');
  return { server, admin, dir, flags, token: tokens.readWrite };
}

test("--workers is a whole number from 1 to 256; restarts back off", () => {
  assert.equal(parseWorkers("3"), 3);
  assert.ok(parseWorkers(undefined) >= 1);
  for (const bad of ["0", "-1", "1.5", "x", "257"]) assert.throws(() => parseWorkers(bad), /--workers/);
  assert.deepEqual([1, 2, 3, 8, 20].map(restartDelayMs), [100, 200, 400, 10_000, 10_000]);
});

test("two workers serve one port, and a killed worker is replaced while the other serves", async (t) => {
  const { server, admin, dir, flags, token } = await platform(t);
  const port = String(await getFreePort());
  const gateway = await startServing(
    t,
    ["gateway", ...flags, "--target", `redis://127.0.0.1:${server.port}`, "--port", port, "--workers", "2"],
    { cwd: dir, timeoutMs: 20_000 },
  );
  const { output } = gateway;
  const stdout = output.stdout;
  assert.match(stdout, /Workers: 2 processes/);
  assert.ok(!stdout.includes(token), "tokens are never printed");
  const url = /on (http:\/\/127\.0\.0\.1:\d+)/.exec(stdout)?.[1];
  assert.ok(url, stdout);
  const workers = () => Object.values(cluster.workers ?? {}).filter((w) => w !== undefined && !w.isDead());
  assert.equal(workers().length, 2);

  // Connections go to the workers in turn: both serve (each opens its own Redis connection).
  for (let i = 0; i < 6; i++) {
    const res = await getOnNewConnection(url!, token);
    assert.equal(res.status, 200);
    assert.deepEqual(await res.json(), { result: '"worker"' });
  }
  assert.equal(await serviceConnections(admin), 2, "both workers served requests");
  const bad = await fetch(`${url}/get/orders:w`, { headers: { authorization: "Bearer nope" } });
  assert.equal(bad.status, 401, "every worker checks tokens");

  // One worker dies: the other keeps serving, and a replacement starts.
  const victim = workers()[0]!;
  const victimPid = victim.process.pid;
  const exited = new Promise((resolve) => victim.once("exit", resolve));
  victim.process.kill("SIGKILL");
  await exited;
  for (let i = 0; i < 4; i++) {
    const res = await getOnNewConnection(url!, token);
    assert.equal(res.status, 200, "the surviving worker answers");
    await res.arrayBuffer();
  }
  await waitFor("a replacement worker", () => workers().length === 2);
  assert.ok(!workers().some((w) => w?.process.pid === victimPid));
  assert.match(output.stderr, /worker \d+ exited \(SIGKILL\); restarting it in \d+ ms/);
  await waitFor("the replacement to serve", async () => {
    for (let i = 0; i < 4; i++) {
      const res = await getOnNewConnection(url!, token);
      if (res.status !== 200) return false;
      await res.arrayBuffer();
    }
    return (await serviceConnections(admin)) === 2;
  });

  gateway.stop();
  assert.equal(await gateway.running, 0);
  assert.equal(workers().length, 0, "every worker stopped");
});

test("SIGTERM drains: the request in flight is answered, then every process exits", async (t) => {
  const { server, admin, dir, flags, token } = await platform(t);
  const port = String(await getFreePort());
  const child = spawn(
    process.execPath,
    [
      BIN,
      "gateway",
      ...flags,
      "--target",
      `redis://127.0.0.1:${server.port}`,
      "--port",
      port,
      "--workers",
      "2",
    ],
    { cwd: dir, stdio: ["ignore", "pipe", "pipe"] },
  );
  t.after(() => child.kill("SIGKILL"));
  let stdout = "";
  child.stdout.on("data", (chunk) => {
    stdout += chunk;
  });
  child.stderr.on("data", (chunk) => {
    stdout += chunk;
  });
  const exited = new Promise<number | null>((resolve) => child.once("exit", (code) => resolve(code)));
  await waitFor("the ready line", () => stdout.includes("cacheplane gateway: ready")).catch((e) => {
    throw new Error(`${e}\n${stdout}`);
  });
  const url = `http://127.0.0.1:${port}`;
  // Both workers connected to Redis.
  await waitFor("both workers' connections", async () => {
    const res = await getOnNewConnection(url, token);
    await res.arrayBuffer();
    return (await serviceConnections(admin)) === 2;
  });

  // Redis stops answering for a while: the next request stays in flight in its worker.
  await admin.call("CLIENT", "PAUSE", "1500", "ALL");
  const inFlight = fetch(`${url}/get/orders:w`, { headers: { authorization: `Bearer ${token}` } });
  await new Promise((r) => setTimeout(r, 300));
  child.kill("SIGTERM");
  const res = await inFlight;
  assert.equal(res.status, 200, "answered, not cut off");
  assert.deepEqual(await res.json(), { result: '"worker"' });
  assert.equal(await exited, 0, stdout);
  assert.match(stdout, /draining 2 workers/);
  await assert.rejects(fetch(`${url}/get/orders:w`), "nothing listens any more");
});
