import assert from "node:assert/strict";
import { type ChildProcess, execFile, spawn } from "node:child_process";
import { readFileSync } from "node:fs";
import { readFile, stat, writeFile } from "node:fs/promises";
import { join, resolve } from "node:path";
import { test } from "node:test";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { parseConfig } from "@cacheplane/core";
import { Redis } from "ioredis";
import { startDevPlatform } from "../src/dev/platform.js";
import { cli, SAMPLE_CONFIG, tempDir, writeConfig } from "./helpers.js";

const run = promisify(execFile);
const repoRoot = resolve(fileURLToPath(new URL("../../..", import.meta.url)));
const bin = join(repoRoot, "packages/cli/bin/cacheplane.js");

/** True when `pid` runs; a zombie (exited, not yet reaped by an init that may never reap it) is not. */
function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch {
    return false;
  }
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    return stat.slice(stat.lastIndexOf(")") + 2, stat.lastIndexOf(")") + 3) !== "Z";
  } catch {
    return process.platform !== "linux";
  }
}

/** Resolves with everything the child wrote to stdout once `line` appeared; rejects if it exits first. */
function waitForLine(child: ChildProcess, line: string, stderr: () => string): Promise<string> {
  return new Promise((resolvePromise, reject) => {
    let out = "";
    const onData = (chunk: Buffer) => {
      out += chunk.toString("utf8");
      if (out.split("\n").includes(line)) {
        child.stdout?.off("data", onData);
        child.off("exit", onExit);
        resolvePromise(out);
      }
    };
    const onExit = (code: number | null) =>
      reject(new Error(`cacheplane dev exited (${code}) before "${line}":\n${out}\n${stderr()}`));
    child.stdout?.on("data", onData);
    child.once("exit", onExit);
  });
}

test("dev end-to-end: the real binary starts redis-server, prints working redis-cli commands, stops on SIGINT", async (t) => {
  const dir = await tempDir(t);
  const config = join(dir, "platform.config.ts");
  await writeFile(
    config,
    `const services: Array<{ name: string; access: "read-write" | "read-only"; keyspace?: string }> = ${JSON.stringify(SAMPLE_CONFIG.services)};\nexport default { stage: "dev", region: "local", services };\n`,
  );
  const state = join(dir, "state");
  const child = spawn(process.execPath, [bin, "dev", "--config", config, "--dir", state], {
    cwd: repoRoot,
    stdio: ["ignore", "pipe", "pipe"],
  });
  let stderr = "";
  child.stderr.on("data", (chunk: Buffer) => {
    stderr += chunk.toString("utf8");
  });
  const exited = new Promise<{ code: number | null; signal: string | null }>((r) =>
    child.once("exit", (code, signal) => r({ code, signal })),
  );
  t.after(() => {
    if (child.exitCode === null && child.signalCode === null) child.kill("SIGKILL");
  });

  const stdout = await waitForLine(child, "cacheplane dev: ready", () => stderr);
  const pid = Number(/redis-server [\d.]+ \(pid (\d+)\)/.exec(stderr)?.[1]);
  t.after(() => killIfAlive(pid)); // a failed assertion SIGKILLs dev, which cannot stop its server then
  assert.ok(pid > 0 && isAlive(pid), stderr);
  assert.equal(stdout.split("\n").filter((l) => l === "cacheplane dev: ready").length, 1);

  // The printed instructions for orders-api: the secret file and a redis-cli command that works as is.
  const secretFile = join(state, "secrets", "orders-api.json");
  assert.ok(stdout.includes(`export REDIS_SECRET_FILE=${secretFile}`), stdout);
  const command = /^ {2}try {5}(redis-cli .* --user ordersapi .*)$/m.exec(stdout)?.[1];
  assert.ok(command, stdout);
  const secret = JSON.parse(await readFile(secretFile, "utf8")) as { password: string; port: number };
  assert.ok(!stdout.includes(secret.password) && !stderr.includes(secret.password), "password printed");
  const admin = JSON.parse(await readFile(join(state, "admin.json"), "utf8")) as { password: string };
  assert.ok(!stdout.includes(admin.password) && !stderr.includes(admin.password), "admin password printed");
  assert.equal((await stat(join(state, "admin.json"))).mode & 0o777, 0o600);

  const redisCli = async (...args: string[]) =>
    (await run("sh", ["-c", `${command} ${args.join(" ")}`], { cwd: dir })).stdout.trim();
  assert.equal(await redisCli("SET", "orders:greeting", "hello"), "OK");
  assert.equal(await redisCli("GET", "orders:greeting"), "hello");
  assert.equal(await redisCli("SET", "common:shared", "1"), "OK");
  assert.match(await redisCli("GET", "catalog:item"), /^NOPERM/);
  assert.match(await redisCli("FLUSHALL"), /^NOPERM/);

  // The gateway runs next to it: the printed curl line works with the service's token file.
  const gateway = /^gateway (http:\/\/127\.0\.0\.1:\d+) \(console: \1\/console\)$/m.exec(stdout)?.[1];
  assert.ok(gateway, stdout);
  const tokens = JSON.parse(await readFile(join(state, "secrets", "orders-api.token.json"), "utf8"));
  assert.ok(!stdout.includes(tokens.readWrite), "token printed");
  const viaHttp = await fetch(`${gateway}/get/orders:greeting`, {
    headers: { authorization: `Bearer ${tokens.readWrite}` },
  });
  assert.deepEqual(await viaHttp.json(), { result: "hello" });
  // The printed curl line works when pasted: a write with a read-write service's token (catalog,
  // first in name order, is read-only: its user could not SET).
  const curl = /^ {2}try {2}(curl .*)$/m.exec(stdout)?.[1];
  assert.ok(curl, stdout);
  assert.equal((await run("sh", ["-c", curl], { cwd: dir })).stdout, '{"result":"OK"}');
  assert.ok(!curl.includes("catalog"), curl);
  const written = /\/set\/([^/]+)\/world/.exec(curl)?.[1];
  assert.equal(written, "orders:hello");
  assert.equal(await redisCli("GET", "orders:hello"), "world");
  const consolePage = await fetch(`${gateway}/console`);
  assert.equal(consolePage.status, 200);
  assert.match(await consolePage.text(), /<html/i);
  // The operator view, sampled with the dev admin: the printed line names the token file only.
  const adminTokenFile = join(state, "secrets", ".gateway-admin-token.json");
  const operatorLine = /^ {2}operator view {2}(\S+) {2}\(paste the "admin" token of (.+)\)$/m.exec(stdout);
  assert.equal(operatorLine?.[1], `${gateway}/operator/`, stdout);
  assert.equal(resolve(repoRoot, operatorLine?.[2] ?? ""), adminTokenFile);
  const { admin: adminToken } = JSON.parse(await readFile(adminTokenFile, "utf8")) as { admin: string };
  assert.ok(!stdout.includes(adminToken) && !stderr.includes(adminToken), "admin token printed");
  type OperatorView = { services: { name: string; keys: number | null }[] };
  let view: OperatorView | undefined;
  for (let i = 0; i < 200; i++) {
    const answer: Response = await fetch(`${gateway}/operator/api/state`, {
      headers: { authorization: `Bearer ${adminToken}` },
    });
    assert.equal(answer.status, 200);
    view = (await answer.json()) as OperatorView;
    if (view?.services.find((s) => s.name === "orders-api")?.keys === 2) break;
    await new Promise((r) => setTimeout(r, 100));
  }
  assert.equal(view?.services.find((s) => s.name === "orders-api")?.keys, 2, JSON.stringify(view));

  child.kill("SIGINT");
  const how = await exited;
  assert.equal(how.code, 0, stderr);
  assert.match(stderr, /stopping redis-server/);
  assert.ok(!isAlive(pid), "redis-server is gone");
  // Secrets survive for the next run.
  assert.ok((await stat(secretFile)).isFile());
});

test("startDevPlatform: a restart reuses the admin password, the port and the users (no changes)", async (t) => {
  const dir = await tempDir(t);
  const config = parseConfig(SAMPLE_CONFIG);
  const first = await startDevPlatform({ config, dir: join(dir, "state") });
  t.after(() => first.stop());
  assert.deepEqual(
    first.applied.map((a) => a.type),
    ["load-script-library", "create-user", "create-user", "create-user"],
  );
  const adminBefore = await readFile(first.adminFile, "utf8");
  const secretBefore = await readFile(first.services[0]!.secretFile, "utf8");

  // A second platform on the same directory refuses while the first runs.
  await assert.rejects(startDevPlatform({ config, dir: first.dir }), /still running \(pid \d+/);

  const firstPid = first.redisPid;
  await first.stop();
  assert.ok(!isAlive(firstPid));

  const second = await startDevPlatform({ config, dir: first.dir });
  t.after(() => second.stop());
  assert.equal(second.port, first.port, "same port as before");
  // Users survive in the ACL file; the script library lives in the dataset, which the dev server does
  // not persist, so it is loaded again.
  assert.deepEqual(
    second.applied.map((a) => a.type),
    ["load-script-library"],
    "users survived the restart",
  );
  assert.equal(await readFile(second.adminFile, "utf8"), adminBefore);
  assert.equal(await readFile(second.services[0]!.secretFile, "utf8"), secretBefore);

  const secret = JSON.parse(secretBefore) as { username: string; password: string };
  const client = new Redis({
    port: second.port,
    host: "127.0.0.1",
    username: secret.username,
    password: secret.password,
    lazyConnect: true,
    enableReadyCheck: false,
  });
  client.on("error", () => undefined);
  await client.connect();
  assert.equal(await client.call("PING"), "PONG");
  client.disconnect();
  await second.stop();
  assert.ok(!isAlive(second.redisPid));

  // The dev server mirrors the config: a service removed from it loses its user and secret.
  const smaller = parseConfig({ ...SAMPLE_CONFIG, services: SAMPLE_CONFIG.services.slice(0, 2) });
  const third = await startDevPlatform({ config: smaller, dir: first.dir });
  t.after(() => third.stop());
  assert.deepEqual(
    third.applied.map((a) => a.type),
    ["load-script-library", "delete-user"],
  );
  await assert.rejects(stat(join(third.secretsDir, "sessions.json")), /ENOENT/);
  await third.stop();
});

test("dev in-process: ready line, then stops when the stop signal fires", async (t) => {
  const dir = await tempDir(t);
  const config = await writeConfig(dir, SAMPLE_CONFIG);
  const controller = new AbortController();
  const lines: string[] = [];
  const { runCli } = await import("../src/main.js");
  const done = runCli(["dev", "--config", config, "--dir", join(dir, "state")], {
    stdout: (text) => {
      lines.push(text);
      if (text.includes("cacheplane dev: ready")) controller.abort();
    },
    stderr: () => undefined,
    env: { PATH: process.env.PATH },
    cwd: dir,
    stopSignal: controller.signal,
  });
  assert.equal(await done, 0);
  assert.ok(lines.join("").includes("orders-api  user ordersapi, read-write, keys orders:*, common:*"));
  const state = JSON.parse(await readFile(join(dir, "state", "dev.json"), "utf8")) as { pid?: number };
  assert.equal(state.pid, undefined, "no running pid recorded after stop");
});

test("dev without a redis-server binary prints the install hint and exits 1", async (t) => {
  const dir = await tempDir(t);
  const config = await writeConfig(dir, SAMPLE_CONFIG);
  const none = await cli(["dev", "--config", config, "--dir", join(dir, "s")], { env: { PATH: dir } });
  assert.equal(none.code, 1);
  assert.match(
    none.stderr,
    /^error: redis-server not found on PATH; install it with `sudo apt-get install -y redis-server` .* or `brew install redis`/,
  );
  const bad = await cli(["dev", "--config", config, "--dir", join(dir, "s")], {
    env: { PATH: process.env.PATH, REDIS_SERVER_BIN: join(dir, "nope") },
  });
  assert.equal(bad.code, 1);
  assert.match(bad.stderr, /REDIS_SERVER_BIN=.*nope is not an executable file/);
  const port = await cli(["dev", "--config", config, "--port", "99999"]);
  assert.equal(port.code, 2);
  assert.match(port.stderr, /--port 99999 is not a TCP port/);
});

/** Spawns the real `cacheplane dev` on `state`; `preload` adds `node --import` modules (the kill hook). */
function spawnDev(config: string, state: string, env: Record<string, string> = {}, preload: string[] = []) {
  const child = spawn(
    process.execPath,
    [...preload.flatMap((p) => ["--import", p]), bin, "dev", "--config", config, "--dir", state],
    {
      cwd: repoRoot,
      env: { PATH: process.env.PATH ?? "", ...env },
      stdio: ["ignore", "pipe", "pipe"],
    },
  );
  let stderr = "";
  child.stderr.on("data", (chunk: Buffer) => {
    stderr += chunk.toString("utf8");
  });
  const exited = new Promise<{ code: number | null; signal: string | null }>((r) =>
    child.once("exit", (code, signal) => r({ code, signal })),
  );
  return { child, exited, stderr: () => stderr };
}

function redisPidOf(stderr: string): number {
  const pids = [...stderr.matchAll(/redis-server [\d.]+ \(pid (\d+)\)/g)].map((m) => Number(m[1]));
  return pids[pids.length - 1] ?? 0;
}

/** SIGKILLs leftovers if a test fails half-way. */
function killIfAlive(...pids: number[]): void {
  for (const pid of pids) {
    try {
      if (pid > 0) process.kill(pid, "SIGKILL");
    } catch {
      // already gone
    }
  }
}

async function devConfig(dir: string): Promise<string> {
  const config = join(dir, "platform.config.ts");
  await writeFile(
    config,
    `export default { stage: "dev", region: "local", services: ${JSON.stringify(SAMPLE_CONFIG.services)} };\n`,
  );
  return config;
}

test("dev stops its redis-server on SIGHUP (terminal closed), even with its output streams gone", async (t) => {
  const dir = await tempDir(t);
  const config = await devConfig(dir);
  const dev = spawnDev(config, join(dir, "state"));
  t.after(() => killIfAlive(dev.child.pid ?? 0, redisPidOf(dev.stderr())));
  await waitForLine(dev.child, "cacheplane dev: ready", dev.stderr);
  const pid = redisPidOf(dev.stderr());
  assert.ok(pid > 0 && isAlive(pid), dev.stderr());

  // A closed terminal: the output goes nowhere (writes fail with EPIPE), then SIGHUP arrives.
  dev.child.stdout.destroy();
  dev.child.stderr.destroy();
  dev.child.kill("SIGHUP");
  const how = await dev.exited;
  assert.equal(how.signal, null, "dev handled SIGHUP instead of dying of it");
  assert.equal(how.code, 0);
  assert.ok(!isAlive(pid), "redis-server is gone");
  const state = JSON.parse(await readFile(join(dir, "state", "dev.json"), "utf8")) as { pid?: number };
  assert.equal(state.pid, undefined, "no running pid recorded after stop");
});

test("a new dev takes over the redis-server (and the token lock) a SIGKILLed dev left behind", async (t) => {
  const dir = await tempDir(t);
  const config = await devConfig(dir);
  const state = join(dir, "state");
  const secrets = join(state, "secrets");
  const killHook = join(repoRoot, "packages/cli/test/fixtures/kill-hook.mjs");

  // The first dev is SIGKILLed right after it created the gateway-token lock: its redis-server runs on.
  const first = spawnDev(
    config,
    state,
    { CACHEPLANE_KILL_DIR: secrets, CACHEPLANE_KILL_AFTER: "gateway-tokens\\.json\\.lock$" },
    [killHook],
  );
  t.after(() => killIfAlive(redisPidOf(first.stderr())));
  const killed = await first.exited;
  assert.equal(killed.signal, "SIGKILL", first.stderr());
  const stalePid = redisPidOf(first.stderr());
  assert.ok(stalePid > 0 && isAlive(stalePid), `the killed dev's redis-server runs on:\n${first.stderr()}`);
  assert.ok((await stat(join(secrets, "gateway-tokens.json.lock"))).isFile(), "the lock was left behind");

  const second = spawnDev(config, state);
  t.after(() => killIfAlive(second.child.pid ?? 0, redisPidOf(second.stderr())));
  const stdout = await waitForLine(second.child, "cacheplane dev: ready", second.stderr);
  assert.match(
    second.stderr(),
    new RegExp(`started redis-server \\(pid ${stalePid}\\) on .* is gone; stopping that server`),
  );
  assert.ok(!isAlive(stalePid), "the stale redis-server was stopped");
  const pid = redisPidOf(second.stderr());
  assert.ok(pid !== stalePid && isAlive(pid));
  assert.match(stdout, /^gateway http:\/\/127\.0\.0\.1:\d+ /m);

  // While the second runs, a third is refused (its owner is alive), and nothing of the second is touched.
  const third = spawnDev(config, state);
  const refused = await third.exited;
  assert.equal(refused.code, 1);
  assert.match(third.stderr(), new RegExp(`still running \\(pid ${pid}, port \\d+\\); stop that one`));
  assert.ok(isAlive(pid));

  second.child.kill("SIGINT");
  assert.equal((await second.exited).code, 0, second.stderr());
  assert.ok(!isAlive(pid));
});

test("the printed curl example reads with a read-only token when no service may write", async (t) => {
  const { curlExample } = await import("../src/dev/gateway-hook.js");
  const dir = await tempDir(t);
  const config = parseConfig({
    stage: "dev",
    region: "local",
    services: [
      { name: "zeta", access: "read-only" },
      { name: "alpha", access: { preset: "read-only", commands: ["+ping"] } },
    ],
  });
  const files = { zeta: join(dir, "it's here", "zeta.token.json"), alpha: join(dir, "alpha.token.json") };
  const line = curlExample(config, "http://127.0.0.1:8080", files);
  assert.ok(line);
  assert.match(line, /^curl -s http:\/\/127\.0\.0\.1:8080\/get\/zeta:hello -H "Authorization: Bearer "/);
  assert.ok(line.includes('["readOnly"]'), line);
  // The path with a quote in it survives the shell: the command substitution prints the token.
  const { mkdir } = await import("node:fs/promises");
  await mkdir(join(dir, "it's here"));
  await writeFile(files.zeta, JSON.stringify({ readWrite: "w".repeat(43), readOnly: "r".repeat(43) }));
  const header = /-H (.*)$/.exec(line)![1]!;
  assert.equal(
    (await run("sh", ["-c", `printf %s ${header}`])).stdout,
    `Authorization: Bearer ${"r".repeat(43)}`,
  );
  assert.equal(
    curlExample(parseConfig({ stage: "d", region: "local", services: [] }), "http://x", {}),
    undefined,
  );
});
