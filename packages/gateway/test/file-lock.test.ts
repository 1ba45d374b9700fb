// The token registry's lock file: exclusive across processes, taken over at once when its owner is
// gone (dead PID, or a PID reused by a later process), never taken from a live owner on this host,
// and aged out only when the owner cannot be checked (another host, unreadable content).
import assert from "node:assert/strict";
import { type ChildProcess, spawn } from "node:child_process";
import { existsSync } from "node:fs";
import { mkdtemp, readFile, rm, utimes, writeFile } from "node:fs/promises";
import { hostname, tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { fileURLToPath } from "node:url";
import { withFileLock } from "../src/file-lock.js";
import { currentProcessRecord, processStartIdentity, processState } from "../src/process-record.js";

const worker = fileURLToPath(new URL("./fixtures/lock-worker.ts", import.meta.url));
let dir: string;
before(async () => {
  dir = await mkdtemp(join(tmpdir(), "cacheplane-lock-"));
});
after(() => rm(dir, { recursive: true, force: true }));

function startWorker(...args: string[]): ChildProcess {
  return spawn(process.execPath, ["--import", "tsx", worker, ...args], {
    stdio: ["ignore", "pipe", "inherit"],
  });
}

function exited(child: ChildProcess): Promise<number | null> {
  return new Promise((r) =>
    child.exitCode !== null ? r(child.exitCode) : child.once("exit", (code) => r(code)),
  );
}

/** The PID of a process that has exited (nothing runs with it any more, as far as the test can tell). */
async function deadPid(): Promise<number> {
  const child = spawn(process.execPath, ["-e", ""], { stdio: "ignore" });
  await exited(child);
  assert.equal(processState({ pid: child.pid! }), "gone");
  return child.pid!;
}

const ran = async (path: string, options = {}) => withFileLock(path, async () => "ran", options);

describe("withFileLock", () => {
  test("a lock whose owner process is gone is taken over at once (no waiting allowed)", async () => {
    const path = join(dir, "dead.json");
    await writeFile(`${path}.lock`, JSON.stringify({ pid: await deadPid(), host: hostname(), nonce: "n" }));
    assert.equal(await ran(path, { waitMs: 0 }), "ran");
    assert.ok(!existsSync(`${path}.lock`), "released afterwards");
    // Earlier versions wrote a bare PID.
    await writeFile(`${path}.lock`, String(await deadPid()));
    assert.equal(await ran(path, { waitMs: 0 }), "ran");
  });

  test("a PID reused by a later process is not mistaken for the owner", async (t) => {
    const sleeper = spawn(process.execPath, ["-e", "setTimeout(() => {}, 60000)"], { stdio: "ignore" });
    t.after(() => sleeper.kill("SIGKILL"));
    const start = processStartIdentity(sleeper.pid!);
    if (start === undefined) {
      t.skip("no /proc on this platform: start identities are not available");
      return;
    }
    const path = join(dir, "reused.json");
    // The recorded owner had this PID but started at another time: that process is gone.
    const [boot, ticks] = [
      start.slice(0, start.lastIndexOf(":")),
      Number(start.slice(start.lastIndexOf(":") + 1)),
    ];
    const record = { pid: sleeper.pid, host: hostname(), start: `${boot}:${ticks - 1}`, nonce: "n" };
    await writeFile(`${path}.lock`, JSON.stringify(record));
    assert.equal(await ran(path, { waitMs: 0 }), "ran");
  });

  test("a lock held by a live process on this host is never taken; the error names it", async (t) => {
    const holder = startWorker(join(dir, "live.json"), "hold");
    t.after(() => holder.kill("SIGKILL"));
    await new Promise<void>((r) => holder.stdout!.once("data", () => r()));
    await assert.rejects(
      ran(join(dir, "live.json"), { waitMs: 300, staleMs: 1 }),
      new RegExp(
        `waiting for lock file .*live\\.json\\.lock \\(held by process ${holder.pid}, still running\\)`,
      ),
    );
    // Once the holder is killed (it never released), the next caller takes over at once.
    holder.kill("SIGKILL");
    await exited(holder);
    assert.equal(await ran(join(dir, "live.json"), { waitMs: 0 }), "ran");
  });

  test("locks of another host, or unreadable ones, are taken over only once they are old", async () => {
    for (const [name, content] of [
      ["other-host.json", JSON.stringify({ pid: process.pid, host: `not-${hostname()}`, nonce: "n" })],
      ["garbage.json", "{not json"],
    ] as const) {
      const path = join(dir, name);
      await writeFile(`${path}.lock`, content);
      await assert.rejects(ran(path, { waitMs: 100, staleMs: 60_000 }), /Timed out/);
      const old = new Date(Date.now() - 120_000);
      await utimes(`${path}.lock`, old, old);
      assert.equal(await ran(path, { waitMs: 0, staleMs: 60_000 }), "ran", name);
    }
  });

  test("our own PID on a lock this process does not hold is an earlier process's", async () => {
    const path = join(dir, "own.json");
    const me = currentProcessRecord();
    await writeFile(`${path}.lock`, JSON.stringify({ ...me, start: undefined, nonce: "not-ours" }));
    assert.equal(await ran(path, { waitMs: 0 }), "ran");
  });

  test("temp files left by a dead writer are removed under the lock; a live writer's are kept", async () => {
    const path = join(dir, "reg.json");
    const dead = await deadPid();
    const stale = join(dir, `reg.json.${dead}.0123456789ab.tmp`);
    const live = join(dir, `reg.json.${process.pid}.0123456789ab.tmp`);
    const unrelated = join(dir, `other.json.${dead}.0123456789ab.tmp`);
    for (const file of [stale, live, unrelated]) await writeFile(file, "x");
    await ran(path);
    assert.ok(!existsSync(stale));
    assert.ok(existsSync(live));
    assert.ok(existsSync(unrelated), "only files written under this lock are touched");
  });

  test("exclusive across processes, even while a holder is SIGKILLed mid-way: no increment lost", async () => {
    const file = join(dir, "counter");
    await writeFile(file, "0");
    const holder = startWorker(file, "hold");
    await new Promise<void>((r) => holder.stdout!.once("data", () => r()));
    const workers = Array.from({ length: 4 }, () => startWorker(file, "40"));
    // The workers queue behind the holder; killing it leaves its lock behind for them to take over.
    holder.kill("SIGKILL");
    const codes = await Promise.all(workers.map(exited));
    assert.deepEqual(codes, [0, 0, 0, 0]);
    assert.equal(await readFile(file, "utf8"), "160");
    assert.ok(!existsSync(`${file}.lock`));
  });
});
