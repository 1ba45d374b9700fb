// "An interrupted apply is finished by running it again", at every step of the gateway-token step:
// the real binary is SIGKILLed just before each of its file-system steps (a test-only preload counts
// them), and then `gateway` (where all secrets exist) and `apply` run again in-process. Both must
// succeed (a lock left by the killed process is taken over at once, instead of failing after 10 s with
// "Timed out waiting for lock file"), and the result must be complete and consistent.
import assert from "node:assert/strict";
import { type ChildProcess, spawn } from "node:child_process";
import { existsSync } from "node:fs";
import { readdir, readFile, rm, writeFile } from "node:fs/promises";
import { join, resolve } from "node:path";
import { after, test } from "node:test";
import { fileURLToPath } from "node:url";
import { hashToken, readTokenRegistry } from "@cacheplane/gateway";
import { type RedisServer, startRedis, stopAll } from "@cacheplane/testkit";
import { getFreePort } from "../src/dev/ports.js";
import { cli, tempDir, writeConfig } from "./helpers.js";

after(() => stopAll());

const repoRoot = resolve(fileURLToPath(new URL("../../..", import.meta.url)));
const bin = join(repoRoot, "packages/cli/bin/cacheplane.js");
const killHook = join(repoRoot, "packages/cli/test/fixtures/kill-hook.mjs");

const CONFIG = {
  stage: "test",
  region: "local",
  services: [
    { name: "orders", access: "read-write" },
    { name: "catalog", access: "read-only" },
  ],
};
const SERVICES = ["orders", "catalog"];
const USERS = ["orders", "catalog"];

/** Runs the binary with the kill hook; resolves with how it ended. */
function runKilled(
  args: string[],
  env: Record<string, string>,
): Promise<{ code: number | null; signal: NodeJS.Signals | null; stderr: string }> {
  return new Promise((resolvePromise, reject) => {
    const child: ChildProcess = spawn(process.execPath, ["--import", killHook, bin, ...args], {
      cwd: repoRoot,
      env: { PATH: process.env.PATH ?? "", ...env },
      stdio: ["ignore", "ignore", "pipe"],
    });
    let stderr = "";
    child.stderr?.on("data", (chunk: Buffer) => {
      stderr += chunk.toString("utf8");
    });
    child.once("error", reject);
    child.once("exit", (code, signal) => resolvePromise({ code, signal, stderr }));
  });
}

/** Starts `cacheplane gateway` in-process and stops it as soon as it is ready; resolves with its exit code and output. */
async function gatewayStarts(config: string, secrets: string): Promise<{ code: number; stderr: string }> {
  const { runCli } = await import("../src/main.js");
  const controller = new AbortController();
  let stderr = "";
  const code = await runCli(
    ["gateway", "--config", config, "--secrets-dir", secrets, "--port", String(await getFreePort())],
    {
      stdout: (text) => {
        if (text.includes("cacheplane gateway: ready")) controller.abort();
      },
      stderr: (text) => {
        stderr += text;
      },
      env: { PATH: process.env.PATH },
      cwd: repoRoot,
      stopSignal: controller.signal,
    },
  );
  return { code, stderr };
}

/** Every service has a well-formed token file whose hashes are in the registry; no lock or temp file is left. */
async function assertTokensComplete(secrets: string, context: string): Promise<void> {
  const records = await readTokenRegistry(join(secrets, "gateway-tokens.json"));
  for (const service of SERVICES) {
    const tokens = JSON.parse(await readFile(join(secrets, `${service}.token.json`), "utf8")) as {
      readWrite: string;
      readOnly: string;
      namespacedReadWrite: string;
      namespacedReadOnly: string;
    };
    for (const [kind, token, namespaced] of [
      ["read-write", tokens.readWrite, false],
      ["read-only", tokens.readOnly, false],
      ["read-write", tokens.namespacedReadWrite, true],
      ["read-only", tokens.namespacedReadOnly, true],
    ] as const) {
      assert.ok(
        records.some(
          (r) =>
            r.service === service &&
            r.kind === kind &&
            (r.namespaced === true) === namespaced &&
            r.hash === hashToken(token) &&
            !r.expiresAt,
        ),
        `${context}: ${service} ${kind}${namespaced ? " namespaced" : ""} token is not in the registry`,
      );
    }
  }
  // ... and the gateway's admin token (operator view): its file and exactly its hash.
  const { admin } = JSON.parse(await readFile(join(secrets, ".gateway-admin-token.json"), "utf8")) as {
    admin: string;
  };
  const adminRecords = records.filter((r) => r.kind === "admin");
  assert.deepEqual(
    adminRecords.map((r) => r.hash),
    [hashToken(admin)],
    `${context}: the registry holds exactly the current admin token`,
  );
  assert.equal(
    records.length,
    SERVICES.length * 4 + 1,
    `${context}: registry holds exactly the current tokens`,
  );
  const leftovers = (await readdir(secrets)).filter(
    (name) =>
      /(\.lock|\.break|\.tmp)$/.test(name) &&
      (!name.startsWith(".") || name.startsWith(".gateway-admin-token")),
  );
  assert.deepEqual(leftovers, [], `${context}: lock or temp files left behind`);
}

async function reset(server: RedisServer, secrets: string): Promise<void> {
  const admin = server.client();
  await admin.call("ACL", "DELUSER", ...USERS);
  admin.disconnect();
  await rm(secrets, { recursive: true, force: true });
}

test("apply SIGKILLed at every step of issuing gateway tokens: gateway and the next apply finish, without waiting", async (t) => {
  const server = await startRedis({ acl: true });
  t.after(() => server.stop());
  const dir = await tempDir(t);
  const config = await writeConfig(dir, CONFIG);
  const secrets = join(dir, "secrets");
  const args = ["apply", "--config", config, "--target", server.url, "--secrets-dir", secrets];

  // A run without a kill lists the steps; the token step is every step on a token or registry file.
  const log = join(dir, "steps.log");
  const reference = await runKilled(args, { CACHEPLANE_KILL_DIR: secrets, CACHEPLANE_KILL_LOG: log });
  assert.equal(reference.code, 0, reference.stderr);
  const steps = (await readFile(log, "utf8")).trimEnd().split("\n");
  const tokenSteps = steps
    .map((line) => line.split(" "))
    .filter(([, , ...paths]) =>
      paths.some((p) => /gateway-tokens\.json|\.token\.json|\.gateway-admin-token\.json/.test(p)),
    )
    .map(([n, call, ...paths]) => ({
      n: Number(n),
      what: `${call} ${paths.map((p) => p.slice(secrets.length + 1)).join(" ")}`,
    }));
  assert.ok(tokenSteps.length >= 12, `expected the token step to have many steps:\n${steps.join("\n")}`);

  let lockLeftBehind = 0;
  for (const step of tokenSteps) {
    await reset(server, secrets);
    const killed = await runKilled(args, {
      CACHEPLANE_KILL_DIR: secrets,
      CACHEPLANE_KILL_AT: String(step.n),
    });
    assert.equal(killed.signal, "SIGKILL", `step ${step.n} (${step.what}) was not reached: ${killed.stderr}`);
    const context = `killed before step ${step.n} (${step.what})`;

    if (existsSync(join(secrets, "gateway-tokens.json.lock"))) {
      lockLeftBehind++;
      // The gateway issues tokens under the same lock: it must start, not wait for the dead owner.
      const gateway = await gatewayStarts(config, secrets);
      assert.equal(gateway.code, 0, `${context}: gateway: ${gateway.stderr}`);
    }
    const again = await cli(args);
    assert.equal(again.code, 0, `${context}: apply again: ${again.stderr}`);
    await assertTokensComplete(secrets, context);
    const plan = await cli(["plan", ...args.slice(1), "--json"]);
    assert.equal(plan.stdout, "[]\n", `${context}: plan after the second apply`);
  }
  assert.ok(lockLeftBehind >= 2, "some kill points left the lock file behind (the case this test is about)");
});

test("a lock left by a dead process (current or earlier lock format) is taken over at once by apply", async (t) => {
  const server = await startRedis({ acl: true });
  t.after(() => server.stop());
  const dir = await tempDir(t);
  const config = await writeConfig(dir, CONFIG);
  const secrets = join(dir, "secrets");
  const args = ["apply", "--config", config, "--target", server.url, "--secrets-dir", secrets];
  assert.equal((await cli(args)).code, 0);

  // A lock whose owner PID is gone (the kernel reports no such process).
  const child = spawn(process.execPath, ["-e", ""], { stdio: "ignore" });
  const deadPid = await new Promise<number>((r) => child.once("exit", () => r(child.pid!)));
  const lock = join(secrets, "gateway-tokens.json.lock");
  await writeFile(
    lock,
    `${JSON.stringify({ pid: deadPid, host: (await import("node:os")).hostname(), nonce: "x" })}\n`,
  );
  const taken = await cli(args);
  assert.equal(taken.code, 0, taken.stderr);
  assert.ok(!existsSync(lock));

  // A lock in the format of earlier versions (a bare PID) is judged the same way.
  await writeFile(lock, String(deadPid));
  assert.equal((await cli(args)).code, 0);
  assert.ok(!existsSync(lock));
});
