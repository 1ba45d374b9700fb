// Property tests of the namespaced rewriting against the real server (fast-check):
// - random commands built from the server's own COMMAND table: the keys the server itself finds in
//   the rewritten command (COMMAND GETKEYS, which runs Redis's getkeys procedures, not the key
//   specifications the gateway evaluates) are exactly the original's keys with `<keyspace>:` in front:
//   the rewritten command touches only `<keyspace>:` keys;
// - prefix/unprefix round-trips for names and for the replies that name keys;
// - the glob matcher of namespaced pattern subscriptions agrees with Redis's own (KEYS).
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { type RedisServer, startRedis, stopAll } from "@cacheplane/testkit";
import fc from "fast-check";
import type { Redis } from "ioredis";
import type { CommandArg } from "../src/command-policy.js";
import { CommandTable } from "../src/command-table.js";
import { globMatch } from "../src/glob-match.js";
import { Namespace } from "../src/namespace.js";

let server: RedisServer;
let admin: Redis;
let table: CommandTable;
let names: string[];
const ns = new Namespace("tenant");

before(async () => {
  server = await startRedis();
  admin = server.client();
  const reply = (await admin.call("COMMAND")) as unknown[];
  table = CommandTable.fromCommandReply(reply);
  names = [];
  for (const entry of reply as unknown[][]) {
    const name = String(entry[0]);
    const subs = (entry[9] as unknown[][]) ?? [];
    if (subs.length === 0) names.push(name);
    for (const sub of subs) names.push(String(sub[0]).replace("|", " "));
  }
});
after(async () => {
  admin?.disconnect();
  await server?.stop();
  await stopAll();
});

/** Arguments that make movable-key commands interesting: numbers, their keywords, names. */
const token = fc.oneof(
  { arbitrary: fc.constantFrom("0", "1", "2", "3", "-1", "5"), weight: 4 },
  {
    arbitrary: fc.constantFrom(
      "STREAMS",
      "STORE",
      "STOREDIST",
      "KEYS",
      "COUNT",
      "WEIGHTS",
      "LEFT",
      "MIN",
      "GET",
      "BY",
      "WITHSCORES",
      "FROMMEMBER",
      "BYRADIUS",
      "km",
      "$",
      ">",
    ),
    weight: 3,
  },
  { arbitrary: fc.constantFrom("k1", "k2", "other:x", "tenant:y", "../z", "{tag}a", ""), weight: 4 },
  { arbitrary: fc.string({ maxLength: 6 }), weight: 1 },
);

async function getKeys(args: readonly CommandArg[]): Promise<string[] | undefined> {
  try {
    const keys = (await admin.call("COMMAND", "GETKEYS", ...(args as (string | Buffer)[]))) as string[];
    return keys.map(String);
  } catch {
    return undefined; // no keys, wrong arity, malformed
  }
}

describe("namespaced rewriting against the server's own key finding", () => {
  test("property: the rewritten command's keys are exactly the original's, prefixed", async () => {
    let compared = 0;
    let withKeys = 0;
    await fc.assert(
      fc.asyncProperty(fc.constantFrom(...names), fc.array(token, { maxLength: 9 }), async (name, rest) => {
        const args: CommandArg[] = [...name.split(" "), ...rest];
        const rewritten = ns.rewrite(args, table);
        const original = await getKeys(args);
        if (!Array.isArray(rewritten)) {
          // Refused by the gateway: only when the server could not find the keys either, for
          // commands whose key specification is incomplete (SORT, MIGRATE: denied by the policy),
          // or for a numkeys such as "1 " that the server's key finding reads with atoi() but the
          // command itself refuses (it parses numkeys strictly), as the gateway does.
          const cmd = name.split(" ")[0]!.toLowerCase();
          const sloppyNumber = rest.some((a) => /^\s*[+-]?\d/.test(a) && !/^-?\d+$/.test(a));
          assert.ok(
            original === undefined ||
              original.length === 0 ||
              sloppyNumber ||
              ["sort", "sort_ro", "migrate"].includes(cmd),
            `${args.join(" ")} was refused but the server finds keys ${JSON.stringify(original)}`,
          );
          return;
        }
        const after = await getKeys(rewritten);
        compared++;
        if (original === undefined) {
          // No keys before: none after either, except PUBLISH/SPUBLISH channels.
          if (after !== undefined)
            assert.ok(
              after.every((k) => k.startsWith("tenant:")),
              `${args.join(" ")} -> ${after}`,
            );
          return;
        }
        if (original.length > 0) withKeys++;
        assert.deepEqual(
          after,
          original.map((k) => `tenant:${k}`),
          `${args.join(" ")} -> ${rewritten.map(String).join(" ")}`,
        );
      }),
      { numRuns: 3000 },
    );
    // The runs exercised real key positions, not only refusals.
    assert.ok(compared > 500 && withKeys > 200, `${compared} compared, ${withKeys} with keys`);
  });

  test("every key-taking command the server knows gets its keys found (movable keys included)", async () => {
    const cases: string[][] = [
      ["EVAL", "return 1", "2", "k1", "k2", "arg"],
      ["EVALSHA_RO", "abc", "1", "k1", "arg"],
      ["FCALL", "f", "2", "k1", "k2", "a"],
      ["XREAD", "COUNT", "2", "STREAMS", "s1", "s2", "0", "0"],
      ["XREADGROUP", "GROUP", "g", "c", "STREAMS", "s1", ">"],
      ["ZUNIONSTORE", "dst", "2", "z1", "z2", "WEIGHTS", "1", "2"],
      ["ZINTER", "2", "z1", "z2"],
      ["ZINTERCARD", "2", "z1", "z2", "LIMIT", "1"],
      ["ZDIFFSTORE", "dst", "2", "z1", "z2"],
      ["SINTERCARD", "2", "s1", "s2"],
      ["LMPOP", "2", "l1", "l2", "LEFT"],
      ["BLMPOP", "0", "2", "l1", "l2", "LEFT"],
      ["ZMPOP", "2", "z1", "z2", "MIN"],
      ["BZMPOP", "0", "1", "z1", "MAX"],
      ["GEORADIUS", "g", "0", "0", "1", "km", "STORE", "dst"],
      ["GEORADIUSBYMEMBER", "g", "m", "1", "km", "STOREDIST", "dst"],
      ["GEOSEARCHSTORE", "dst", "src", "FROMMEMBER", "m", "BYRADIUS", "1", "km"],
      ["OBJECT", "ENCODING", "k"],
      ["MEMORY", "USAGE", "k"],
      ["XGROUP", "CREATE", "s", "g", "$"],
      ["XINFO", "STREAM", "s"],
      ["MSET", "k1", "v", "k2", "v"],
      ["BITOP", "AND", "dst", "a", "b"],
      ["LCS", "a", "b"],
      ["BLMOVE", "a", "b", "LEFT", "RIGHT", "0"],
      ["COPY", "a", "b", "DB", "1"],
    ];
    for (const args of cases) {
      const original = await getKeys(args);
      assert.ok(original && original.length > 0, `the server finds keys in ${args.join(" ")}`);
      const rewritten = ns.rewrite(args, table);
      assert.ok(Array.isArray(rewritten), `${args.join(" ")}: ${String(rewritten)}`);
      assert.deepEqual(
        await getKeys(rewritten),
        original.map((k) => `tenant:${k}`),
        args.join(" "),
      );
    }
  });
});

describe("round trips", () => {
  test("property: strip(add(name)) is name, for text and bytes", () => {
    fc.assert(
      fc.property(
        fc.oneof(
          fc.string(),
          fc.uint8Array({ maxLength: 40 }).map((a) => Buffer.from(a)),
        ),
        (name) => {
          const added = ns.add(name);
          if (typeof name === "string") {
            assert.equal(typeof added, "string");
            assert.equal(ns.strip(added as string), name);
            assert.ok((added as string).startsWith("tenant:"));
          } else {
            assert.ok(Buffer.isBuffer(added));
            assert.ok(ns.owns(added as Buffer));
            assert.deepEqual(ns.strip(added as Buffer), name);
          }
        },
      ),
      { numRuns: 500 },
    );
  });

  test("property: replies that name keys come back as the client named them", async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.string({ minLength: 1, maxLength: 10 }), { minLength: 1, maxLength: 3 }),
        async (streams) => {
          const keys = [...new Set(streams)];
          for (const k of keys) await admin.xadd(`tenant:${k}`, "*", "f", "v");
          const args = ["XREAD", "STREAMS", ...keys, ...keys.map(() => "0")];
          const rewritten = ns.rewrite(args, table) as string[];
          const reply = (await admin.callBuffer(rewritten[0]!, ...rewritten.slice(1))) as [Buffer, unknown][];
          const shown = ns.reply(args, reply as never) as [Buffer, unknown][];
          assert.deepEqual(
            shown.map(([k]) => k.toString()),
            reply.map(([k]) => k.toString().slice("tenant:".length)),
          );
          assert.deepEqual(new Set(shown.map(([k]) => k.toString())), new Set(keys));
          await admin.del(...keys.map((k) => `tenant:${k}`));
        },
      ),
      { numRuns: 60 },
    );
  });
});

describe("glob patterns as Redis matches them", () => {
  test("property: globMatch agrees with KEYS for random patterns and names", async () => {
    const alphabet = fc.constantFrom("a", "b", "-", "^", "\\", "[", "]", "*", "?", ":");
    const nameChars = fc.constantFrom("a", "b", "-", "^", "\\", "[", "]", ":", "*");
    await fc.assert(
      fc.asyncProperty(
        fc.array(alphabet, { maxLength: 7 }).map((a) => a.join("")),
        fc.array(nameChars, { minLength: 1, maxLength: 6 }).map((a) => a.join("")),
        async (pattern, name) => {
          const key = `glob:${name}`;
          await admin.set(key, "1");
          const redisSays = ((await admin.keys(`glob:${pattern}`)) as string[]).includes(key);
          await admin.del(key);
          assert.equal(
            globMatch(`glob:${pattern}`, key),
            redisSays,
            `pattern ${JSON.stringify(pattern)} name ${JSON.stringify(name)}`,
          );
        },
      ),
      { numRuns: 1500 },
    );
  });

  test("many stars do not make matching slow (linear backtracking)", () => {
    assert.equal(globMatch(`${"*a".repeat(40)}b`, "a".repeat(5000)), false);
    assert.equal(globMatch("*a*b*c*", `${"x".repeat(1000)}a${"y".repeat(1000)}b${"z".repeat(1000)}c`), true);
  });
});
