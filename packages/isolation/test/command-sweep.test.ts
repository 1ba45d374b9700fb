// The enumeration sweep: every command and subcommand the server reports (COMMAND INFO) is checked
// with ACL DRYRUN as each preset's user (read-only, read-write, read-write with scripting: true), and
// the set each may run must equal the reviewed allow-list checked into the repo
// (packages/isolation/reviewed/<engine>-<major.minor>.json). A command a new server version (or a
// change of the presets) newly allows fails this test until someone reviews it: can it list, count or
// reach other tenants' keys, channels, connections or commands? Regenerate the list for review with
//   UPDATE_REVIEWED_COMMANDS=1 npm run test:only -- packages/isolation/test/command-sweep
// and read the diff before committing it.
import assert from "node:assert/strict";
import { readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { after, before, test } from "node:test";
import { fileURLToPath } from "node:url";
import { buildAccessString, DENIED_COMMANDS, deniedEntry } from "@cacheplane/core";
import { dryRunVerdict, parseCommandInfo, placeholderArgv } from "@cacheplane/provisioner";
import { type RedisServer, startRedis, stopAll } from "@cacheplane/testkit";
import type { Redis } from "ioredis";

const REVIEWED_DIR = fileURLToPath(new URL("../reviewed/", import.meta.url));

const PRESETS = {
  "read-only": buildAccessString({ keyspace: "sweep", access: "read-only" }),
  "read-write": buildAccessString({ keyspace: "sweep", access: "read-write" }),
  "read-write+scripting": buildAccessString({ keyspace: "sweep", access: "read-write", scripting: true }),
} as const;
type Preset = keyof typeof PRESETS;

interface Reviewed {
  server: string;
  note: string;
  allowed: Record<Preset, string[]>;
}

let server: RedisServer;
let admin: Redis;

before(async () => {
  server = await startRedis();
  admin = server.client();
});
after(async () => {
  admin?.disconnect();
  await server?.stop();
  await stopAll();
});

async function serverFamily(): Promise<{ file: string; label: string }> {
  const info = String(await admin.info("server"));
  const valkey = /^valkey_version:(\S+)/m.exec(info)?.[1];
  const version = valkey ?? /^redis_version:(\S+)/m.exec(info)?.[1] ?? "unknown";
  const engine = valkey ? "valkey" : "redis";
  const minor = version.split(".").slice(0, 2).join(".");
  return { file: join(REVIEWED_DIR, `${engine}-${minor}.json`), label: `${engine} ${version}` };
}

test("every command a preset may run is on the reviewed allow-list, and nothing else", async () => {
  const commands = parseCommandInfo(await admin.call("COMMAND", "INFO")).filter((c) => !c.hasSubcommands);
  assert.ok(commands.length > 200, `the server reported ${commands.length} commands`);
  const allowed = {} as Record<Preset, string[]>;
  for (const [preset, access] of Object.entries(PRESETS) as [Preset, string][]) {
    const user = `sweep-${preset.replace(/[^a-z]/g, "")}`;
    await admin.call("ACL", "SETUSER", user, "reset", ...access.split(" "), "resetpass", "off");
    const verdicts = await Promise.all(
      commands.map(async (command) => {
        const argv = placeholderArgv(command, "sweep:x");
        try {
          return dryRunVerdict(await admin.call("ACL", "DRYRUN", user, ...argv));
        } catch (error) {
          return dryRunVerdict(undefined, error instanceof Error ? error.message : String(error));
        }
      }),
    );
    allowed[preset] = commands.filter((_, i) => verdicts[i] === "allowed").map((c) => c.name);
    await admin.call("ACL", "DELUSER", user);
  }

  // Whatever the list says, these must never be allowed: core's deny list, @admin, @dangerous.
  const categories = new Map(commands.map((c) => [c.name, c.categories]));
  for (const [preset, names] of Object.entries(allowed)) {
    for (const name of names) {
      assert.equal(deniedEntry(name), undefined, `${preset} may run ${name}, which core denies`);
      const cats = categories.get(name) ?? [];
      assert.ok(
        !cats.includes("@admin") && !cats.includes("@dangerous"),
        `${preset} may run ${name} (${cats})`,
      );
    }
  }
  assert.ok(!allowed["read-only"].some((n) => ["eval", "eval_ro", "fcall", "fcall_ro"].includes(n)));
  assert.ok(!allowed["read-write"].some((n) => n.startsWith("eval") || n.startsWith("script|")));
  assert.ok(allowed["read-write"].includes("fcall"), "read-write calls the platform's functions");
  assert.ok(DENIED_COMMANDS.length > 50);

  const { file, label } = await serverFamily();
  if (process.env.UPDATE_REVIEWED_COMMANDS) {
    const reviewed: Reviewed = {
      server: label,
      note: "Commands each preset may run (ACL DRYRUN). Review every addition: can it list, count or reach other tenants' keys, channels, connections or commands?",
      allowed,
    };
    await writeFile(file, `${JSON.stringify(reviewed, null, 2)}\n`);
  }
  let reviewed: Reviewed;
  try {
    reviewed = JSON.parse(await readFile(file, "utf8")) as Reviewed;
  } catch {
    assert.fail(
      `no reviewed allow-list for ${label} (${file}). Generate it with UPDATE_REVIEWED_COMMANDS=1, review every command, commit it.`,
    );
  }
  for (const preset of Object.keys(PRESETS) as Preset[]) {
    const expected = new Set(reviewed.allowed[preset]);
    const actual = new Set(allowed[preset]);
    const added = [...actual].filter((n) => !expected.has(n));
    const removed = [...expected].filter((n) => !actual.has(n));
    assert.deepEqual(
      { added, removed },
      { added: [], removed: [] },
      `${preset} on ${label} differs from ${file}: review the added commands before updating the list`,
    );
  }
});
