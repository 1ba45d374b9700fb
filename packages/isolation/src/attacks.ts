/**
 * Every attack of issue 8 and the ones blocked before it, as one tenant (the attacker) against
 * another (the victim). An attack runs commands as the attacker through a transport; the judge
 * (matrix.ts) decides from the outcomes and from the victim's canaries whether it was blocked, a
 * breach (data read, changed or deleted; server or permissions changed) or a leak (names, counts,
 * connections or commands of others revealed).
 */
import {
  compareAndDeleteScript,
  fixedWindowScript,
  type ServerScript,
  scriptLibrary,
  slidingWindowScript,
} from "@cacheplane/core/server-scripts";
import { keySlot } from "@cacheplane/testkit";
import type { Canaries } from "./platform.js";
import type { Identity, Outcome, Scope, Transport } from "./transports.js";

export interface AttackContext {
  transport: Transport["name"];
  attacker: Identity;
  victim: Canaries;
  /** A scratch key of the attacker, in the canaries' slot. */
  own(name: string): string;
  /** Runs an attack step (judged). */
  exec(args: readonly (string | number)[], scope?: Scope): Promise<Outcome[]>;
  /** Runs a preparation step on the attacker's own keys (not judged). */
  setup(args: readonly (string | number)[], scope?: Scope): Promise<Outcome[]>;
  /** Opens a subscription as the attacker (judged). */
  subscribe(kind: "subscribe" | "psubscribe" | "ssubscribe", name: string): Promise<void>;
  /** Starts MONITOR as the attacker (judged). */
  monitor(): Promise<void>;
  /** Records evidence the attack itself found (e.g. a count that includes other keyspaces). */
  flag(kind: "breach" | "leak", detail: string): void;
  /** How many keys the attacker's own keyspace holds (admin count, for namespaced DBSIZE). */
  ownKeyCount(): Promise<number>;
}

export interface Attack {
  /** Short id shown in the table, e.g. `read.get`. */
  id: string;
  /** What the attack aims at: `victim keys`, `victim channels`, `server`, ... */
  target: string;
  /** What success would be. */
  kind: "breach" | "leak";
  description: string;
  run(ctx: AttackContext): Promise<void>;
  /** False when the attack does not apply (e.g. the victim has no script). @default true */
  applies?(ctx: AttackContext): boolean;
  /** Errors that show the attack failed for a reason other than permissions, harmlessly. */
  harmless?: RegExp;
  /**
   * `evidence`: with a namespaced token the command is expected to run (on the attacker's own
   * keyspace: the victim's names are prefixed), so only the evidence judges it (victim data or names
   * in a reply, canaries changed, what the attack flags). Default: a command that ran is a breach.
   */
  namespaced?: "evidence";
  /**
   * When success is an inherent, documented property of a setting, the doc reference; the matrix
   * reports it as `inherent` instead of a breach or leak.
   */
  inherent?(ctx: AttackContext): string | undefined;
}

const fn = (script: ServerScript) => scriptLibrary().functionName(script);

/** Scripting is inherent for services with `scripting: true` (docs/operations.md, "Scripting"). */
const scriptingInherent = (ctx: AttackContext) =>
  ctx.attacker.service.scripting && ctx.attacker.token === "read-write"
    ? "scripting: true (docs/operations.md#scripting)"
    : undefined;

const k = (ctx: AttackContext) => ctx.victim.keys;

/** Data attacks on the victim's keys: read, write, delete, rename, copy, move, sort, dump, migrate. */
const DATA: Attack[] = [
  {
    id: "read.get",
    target: "victim keys",
    kind: "breach",
    description: "GET a victim key",
    run: async (c) => {
      await c.exec(["GET", k(c).str]);
    },
  },
  {
    id: "read.mget",
    target: "victim keys",
    kind: "breach",
    description: "MGET an own and a victim key",
    run: async (c) => {
      await c.exec(["MGET", c.own("x"), k(c).str]);
    },
  },
  {
    id: "read.hgetall",
    target: "victim keys",
    kind: "breach",
    description: "HGETALL a victim hash",
    run: async (c) => {
      await c.exec(["HGETALL", k(c).hash]);
    },
  },
  {
    id: "read.lrange",
    target: "victim keys",
    kind: "breach",
    description: "LRANGE a victim list",
    run: async (c) => {
      await c.exec(["LRANGE", k(c).list, 0, -1]);
    },
  },
  {
    id: "read.xrange",
    target: "victim keys",
    kind: "breach",
    description: "XRANGE a victim stream",
    run: async (c) => {
      await c.exec(["XRANGE", k(c).stream, "-", "+"]);
    },
  },
  {
    id: "read.xread",
    target: "victim keys",
    kind: "breach",
    description: "XREAD a victim stream",
    run: async (c) => {
      await c.exec(["XREAD", "COUNT", 1, "STREAMS", k(c).stream, "0"]);
    },
  },
  {
    id: "read.dump",
    target: "victim keys",
    kind: "breach",
    description: "DUMP a victim key",
    run: async (c) => {
      await c.exec(["DUMP", k(c).str]);
    },
  },
  {
    id: "read.exists",
    target: "victim keys",
    kind: "leak",
    description: "EXISTS/TYPE/PTTL of a victim key",
    run: async (c) => {
      await c.exec(["EXISTS", k(c).str]);
      await c.exec(["TYPE", k(c).str]);
      await c.exec(["PTTL", k(c).str]);
    },
  },
  {
    id: "read.object",
    target: "victim keys",
    kind: "leak",
    description: "OBJECT ENCODING / MEMORY USAGE of a victim key",
    run: async (c) => {
      await c.exec(["OBJECT", "ENCODING", k(c).str]);
      await c.exec(["MEMORY", "USAGE", k(c).str]);
    },
  },
  {
    id: "write.set",
    target: "victim keys",
    kind: "breach",
    description: "SET / APPEND / HSET a victim key",
    run: async (c) => {
      await c.exec(["SET", k(c).str, "evil"]);
      await c.exec(["APPEND", k(c).str, "evil"]);
      await c.exec(["HSET", k(c).hash, "f", "evil"]);
    },
  },
  {
    id: "write.expire",
    target: "victim keys",
    kind: "breach",
    description: "PEXPIRE / PERSIST a victim key",
    run: async (c) => {
      await c.exec(["PEXPIRE", k(c).str, 1_000_000]);
      await c.exec(["PERSIST", k(c).str]);
    },
  },
  {
    id: "delete.del",
    target: "victim keys",
    kind: "breach",
    description: "DEL / UNLINK a victim key",
    run: async (c) => {
      await c.exec(["DEL", k(c).set]);
      await c.exec(["UNLINK", k(c).zset]);
    },
  },
  {
    id: "rename.away",
    target: "victim keys",
    kind: "breach",
    description: "RENAME a victim key into the own keyspace",
    run: async (c) => {
      await c.exec(["RENAME", k(c).str, c.own("stolen")]);
    },
  },
  {
    id: "rename.onto",
    target: "victim keys",
    kind: "breach",
    description: "RENAME an own key onto a victim key",
    run: async (c) => {
      await c.setup(["SET", c.own("x"), "evil"]);
      await c.exec(["RENAME", c.own("x"), k(c).str]);
    },
  },
  {
    id: "copy.from",
    target: "victim keys",
    kind: "breach",
    description: "COPY a victim key into the own keyspace",
    run: async (c) => {
      await c.exec(["COPY", k(c).hash, c.own("copy"), "REPLACE"]);
    },
  },
  {
    id: "copy.onto",
    target: "victim keys",
    kind: "breach",
    description: "COPY an own key over a victim key",
    run: async (c) => {
      await c.setup(["SET", c.own("x"), "evil"]);
      await c.exec(["COPY", c.own("x"), k(c).str, "REPLACE"]);
    },
  },
  {
    id: "move.lmove",
    target: "victim keys",
    kind: "breach",
    description: "LMOVE / SUNIONSTORE / ZUNIONSTORE / BITOP from victim keys",
    run: async (c) => {
      await c.exec(["LMOVE", k(c).list, c.own("l"), "LEFT", "RIGHT"]);
      await c.exec(["SUNIONSTORE", c.own("s"), k(c).set]);
      await c.exec(["ZUNIONSTORE", c.own("z"), 1, k(c).zset]);
      await c.exec(["BITOP", "OR", c.own("b"), k(c).str]);
    },
  },
  {
    id: "sort.by-get",
    target: "victim keys",
    kind: "breach",
    description: "SORT / SORT_RO an own list BY/GET victim patterns",
    run: async (c) => {
      await c.setup(["RPUSH", c.own("sortme"), "str"]);
      const prefix = `${c.victim.service.keyspace}:${c.victim.tag}:`;
      await c.exec(["SORT", c.own("sortme"), "BY", "nosort", "GET", `${prefix}*`, "ALPHA"]);
      await c.exec(["SORT_RO", c.own("sortme"), "BY", "nosort", "GET", `${prefix}*`, "ALPHA"]);
    },
  },
  {
    id: "restore.onto",
    target: "victim keys",
    kind: "breach",
    description: "RESTORE a payload onto a victim key",
    run: async (c) => {
      await c.setup(["SET", c.own("x"), "evil"]);
      const [dump] = await c.setup(["DUMP", c.own("x")]);
      const payload = dump?.ok && typeof dump.value === "string" ? dump.value : "x";
      await c.exec(["RESTORE", k(c).str, 0, payload, "REPLACE"]);
    },
  },
  {
    id: "migrate.away",
    target: "victim keys",
    kind: "breach",
    description: "MIGRATE a victim key to another server",
    run: async (c) => {
      await c.exec(["MIGRATE", "127.0.0.1", 1, k(c).str, 0, 100]);
    },
  },
  {
    id: "eval.declared",
    target: "victim keys",
    kind: "breach",
    description: "EVAL reading a victim key declared in KEYS",
    run: async (c) => {
      await c.exec(["EVAL", "return redis.call('GET', KEYS[1])", 1, k(c).str]);
    },
  },
  {
    id: "eval.undeclared",
    target: "victim keys",
    kind: "breach",
    description: "EVAL / EVAL_RO reading an undeclared victim key",
    run: async (c) => {
      await c.exec(["EVAL", "return redis.call('GET', ARGV[1])", 0, k(c).str]);
      await c.exec(["EVAL", "return redis.call('GET', ARGV[1])", 1, c.own("x"), k(c).str]);
      await c.exec(["EVAL_RO", "return redis.call('GET', ARGV[1])", 0, k(c).str]);
      await c.exec(["EVAL", "return redis.call('DEL', ARGV[1])", 0, k(c).list]);
    },
  },
  {
    id: "evalsha.victim-script",
    target: "victim scripts",
    kind: "leak",
    description: "EVALSHA / EVALSHA_RO of the victim's cached script",
    applies: (c) => c.victim.scriptSha !== undefined,
    run: async (c) => {
      await c.exec(["EVALSHA", c.victim.scriptSha!, 0]);
      await c.exec(["EVALSHA_RO", c.victim.scriptSha!, 0]);
    },
    inherent: (c) =>
      c.attacker.service.scripting && c.victim.service.scripting
        ? "shared script cache (docs/operations.md#scripting)"
        : undefined,
  },
  {
    id: "script.exists",
    target: "victim scripts",
    kind: "leak",
    description: "SCRIPT EXISTS of the victim's script",
    run: async (c) => {
      await c.exec(["SCRIPT", "EXISTS", c.victim.scriptSha ?? "0".repeat(40)], "server");
    },
  },
  {
    id: "fcall.victim-keys",
    target: "victim keys",
    kind: "breach",
    description: "FCALL a platform function on victim keys",
    run: async (c) => {
      await c.exec(["FCALL", fn(fixedWindowScript), 1, k(c).str, 10, 60_000, 1]);
      await c.exec(["FCALL", fn(compareAndDeleteScript), 1, k(c).str, `${c.victim.valueMarker}-str`]);
      await c.exec(["FCALL_RO", fn(fixedWindowScript), 1, k(c).str, 10, 60_000, 1]);
    },
  },
  {
    id: "fcall.undeclared",
    target: "victim keys",
    kind: "breach",
    description: "FCALL with the victim key in ARGV, no keys declared",
    harmless: /must be strings or integers|attempt to|Wrong number|number of keys/i,
    run: async (c) => {
      await c.exec(["FCALL", fn(compareAndDeleteScript), 0, k(c).str, `${c.victim.valueMarker}-str`]);
    },
  },
  {
    id: "fcall.abusive",
    target: "server CPU",
    kind: "breach",
    description: "FCALL with abusive arguments (cost 10^6, non-numbers, write function via FCALL_RO)",
    harmless:
      /cost above 1000|attempt to|arithmetic|not a number|Can not execute a script with write flag|must be strings/i,
    run: async (c) => {
      await c.exec([
        "FCALL",
        fn(slidingWindowScript),
        1,
        c.own("rl"),
        10_000_000,
        60_000,
        1_000_000,
        Date.now(),
        "id",
      ]);
      await c.exec(["FCALL", fn(fixedWindowScript), 1, c.own("rl2"), "lots", "forever", "much"]);
      await c.exec(["FCALL_RO", fn(fixedWindowScript), 1, c.own("rl3"), 5, 60_000, 1]);
    },
  },
];

/** Enumeration: key names, counts, channels, connections, other databases. */
const ENUMERATION: Attack[] = [
  {
    id: "scan",
    target: "all key names",
    kind: "leak",
    description: "SCAN 0 COUNT 100000 (also TYPE stream, MATCH victim:*)",
    run: async (c) => {
      await c.exec(["SCAN", "0", "COUNT", 100_000], "server");
      await c.exec(["SCAN", "0", "COUNT", 100_000, "TYPE", "stream"], "server");
      await c.exec(["SCAN", "0", "MATCH", `${c.victim.service.keyspace}:*`, "COUNT", 100_000], "server");
    },
  },
  {
    id: "keys",
    target: "all key names",
    kind: "leak",
    description: "KEYS *",
    run: async (c) => {
      await c.exec(["KEYS", "*"], "server");
    },
  },
  {
    id: "randomkey",
    target: "all key names",
    kind: "leak",
    description: "RANDOMKEY",
    run: async (c) => {
      await c.exec(["RANDOMKEY"], "server");
    },
  },
  {
    id: "dbsize",
    target: "key counts",
    kind: "leak",
    description: "DBSIZE",
    run: async (c) => {
      await c.exec(["DBSIZE"], "server");
    },
  },
  {
    id: "lua.scan",
    target: "all key names",
    kind: "leak",
    description: "SCAN, DBSIZE, KEYS, PUBSUB inside EVAL / EVAL_RO",
    run: async (c) => {
      for (const body of [
        "return redis.call('SCAN', '0', 'COUNT', '10000')",
        "return redis.call('DBSIZE')",
        "return redis.call('KEYS', '*')",
        "return redis.call('PUBSUB', 'CHANNELS')",
      ]) {
        await c.exec(["EVAL", body, 0], "server");
        await c.exec(["EVAL_RO", body, 0], "server");
      }
    },
  },
  {
    id: "pubsub.channels",
    target: "channel names",
    kind: "leak",
    description: "PUBSUB CHANNELS / NUMSUB / NUMPAT / SHARDCHANNELS / SHARDNUMSUB",
    run: async (c) => {
      await c.exec(["PUBSUB", "CHANNELS"], "server");
      await c.exec(["PUBSUB", "NUMSUB", c.victim.channel], "server");
      await c.exec(["PUBSUB", "NUMPAT"], "server");
      await c.exec(["PUBSUB", "SHARDCHANNELS"], "server");
      await c.exec(["PUBSUB", "SHARDNUMSUB", c.victim.shardChannel], "server");
    },
  },
  {
    id: "subscribe.victim",
    target: "victim channels",
    kind: "breach",
    description: "SUBSCRIBE / SSUBSCRIBE a victim channel, PSUBSCRIBE *",
    run: async (c) => {
      await c.subscribe("subscribe", c.victim.channel);
      await c.subscribe("psubscribe", "*");
      await c.subscribe("psubscribe", `${c.victim.service.keyspace}:*`);
      if (c.transport !== "gateway") await c.subscribe("ssubscribe", c.victim.shardChannel);
    },
  },
  {
    id: "publish.victim",
    target: "victim channels",
    kind: "breach",
    description: "PUBLISH / SPUBLISH to a victim channel",
    run: async (c) => {
      const outcomes = await c.exec(["PUBLISH", c.victim.channel, "evil"], "server");
      for (const o of outcomes)
        if (c.attacker.namespaced && o.ok && Number(o.value) > 0)
          c.flag("breach", `PUBLISH reached ${String(o.value)} subscriber(s) of the victim's channel`);
      await c.exec(["SPUBLISH", c.victim.shardChannel, "evil"]);
    },
  },
  {
    id: "tracking.bcast",
    target: "key names (live)",
    kind: "leak",
    description:
      "CLIENT TRACKING ON BCAST PREFIX victim: (REDIRECT to self), CACHING, GETREDIR, TRACKINGINFO",
    run: async (c) => {
      const [id] = await c.setup(["CLIENT", "ID"]);
      const self = id?.ok ? String(id.value) : "1";
      await c.exec([
        "CLIENT",
        "TRACKING",
        "ON",
        "REDIRECT",
        self,
        "BCAST",
        "PREFIX",
        `${c.victim.service.keyspace}:`,
      ]);
      await c.exec(["CLIENT", "TRACKING", "ON", "REDIRECT", self, "BCAST"]);
      await c.exec(["CLIENT", "CACHING", "YES"]);
      await c.exec(["CLIENT", "GETREDIR"]);
      await c.exec(["CLIENT", "TRACKINGINFO"]);
    },
  },
  {
    id: "tracking.redirect",
    target: "victim connection",
    kind: "leak",
    description: "CLIENT TRACKING ON REDIRECT <victim connection id> (id oracle, message injection)",
    run: async (c) => {
      await c.exec(["CLIENT", "TRACKING", "ON", "REDIRECT", String(c.victim.clientId ?? 1)]);
    },
  },
  {
    id: "client.list",
    target: "connections",
    kind: "leak",
    description: "CLIENT LIST / CLIENT INFO of others",
    run: async (c) => {
      await c.exec(["CLIENT", "LIST"], "server");
    },
  },
  {
    id: "client.kill",
    target: "victim connection",
    kind: "breach",
    description: "CLIENT KILL the victim's connection / PAUSE / UNBLOCK / NO-EVICT",
    run: async (c) => {
      await c.exec(["CLIENT", "KILL", "ID", String(1_000_000_000 + (c.victim.clientId ?? 0))], "server");
      await c.exec(["CLIENT", "PAUSE", "1", "WRITE"], "server");
      await c.exec(["CLIENT", "UNBLOCK", String(c.victim.clientId ?? 1)], "server");
      await c.exec(["CLIENT", "NO-EVICT", "ON"], "server");
    },
  },
  {
    id: "cluster.getkeysinslot",
    target: "all key names",
    kind: "leak",
    description: "CLUSTER GETKEYSINSLOT / COUNTKEYSINSLOT of the victim's slot",
    run: async (c) => {
      const slot = String(keySlot(c.victim.keys.str));
      await c.exec(["CLUSTER", "GETKEYSINSLOT", slot, 100]);
      await c.exec(["CLUSTER", "COUNTKEYSINSLOT", slot]);
    },
  },
  {
    id: "select",
    target: "other databases",
    kind: "breach",
    description: "SELECT 1, MOVE an own key to db 1, SWAPDB 1 2",
    run: async (c) => {
      await c.exec(["SELECT", "1"]);
      await c.setup(["SET", c.own("moved"), "x"]);
      await c.exec(["MOVE", c.own("moved"), "1"]);
      await c.exec(["SWAPDB", "1", "2"], "server");
    },
  },
  {
    id: "memory.stats",
    target: "key counts",
    kind: "leak",
    description: "MEMORY STATS / DOCTOR / MALLOC-STATS",
    run: async (c) => {
      await c.exec(["MEMORY", "STATS"], "server");
      await c.exec(["MEMORY", "DOCTOR"], "server");
      await c.exec(["MEMORY", "MALLOC-STATS"], "server");
    },
  },
  {
    id: "info",
    target: "key counts",
    kind: "leak",
    description: "INFO keyspace / clients / commandstats",
    run: async (c) => {
      await c.exec(["INFO", "keyspace"], "server");
      await c.exec(["INFO", "commandstats"], "server");
    },
  },
  { id: "monitor", target: "all commands", kind: "leak", description: "MONITOR", run: (c) => c.monitor() },
  {
    id: "slowlog",
    target: "all commands",
    kind: "leak",
    description: "SLOWLOG GET / LATENCY LATEST",
    run: async (c) => {
      await c.exec(["SLOWLOG", "GET", "128"], "server");
      await c.exec(["LATENCY", "LATEST"], "server");
    },
  },
  {
    id: "acl.read",
    target: "users",
    kind: "leak",
    description: "ACL LIST / USERS / GETUSER victim / LOG",
    run: async (c) => {
      await c.exec(["ACL", "LIST"], "server");
      await c.exec(["ACL", "USERS"], "server");
      await c.exec(["ACL", "GETUSER", c.victim.service.userId], "server");
      await c.exec(["ACL", "LOG"], "server");
    },
  },
  {
    id: "function.list",
    target: "platform library",
    kind: "leak",
    description: "FUNCTION LIST / DUMP / STATS",
    run: async (c) => {
      await c.exec(["FUNCTION", "LIST"], "server");
      await c.exec(["FUNCTION", "DUMP"], "server");
    },
  },
];

/** Administration: permissions, configuration, wiping, stopping, scripting state. */
const ADMIN: Attack[] = [
  {
    id: "acl.setuser",
    target: "permissions",
    kind: "breach",
    description: "ACL SETUSER evil ~* &* +@all / DELUSER victim",
    run: async (c) => {
      await c.exec(
        [
          "ACL",
          "SETUSER",
          `matrix-evil-${c.attacker.service.userId}`,
          "on",
          ">evil-password-123456",
          "~*",
          "&*",
          "+@all",
        ],
        "server",
      );
      await c.exec(["ACL", "DELUSER", c.victim.service.userId], "server");
    },
  },
  {
    id: "config",
    target: "server config",
    kind: "breach",
    description: "CONFIG GET * / CONFIG SET / RESETSTAT",
    run: async (c) => {
      await c.exec(["CONFIG", "GET", "requirepass"], "server");
      await c.exec(["CONFIG", "SET", "maxmemory-samples", "5"], "server");
      await c.exec(["CONFIG", "RESETSTAT"], "server");
    },
  },
  {
    id: "flushall",
    target: "all data",
    kind: "breach",
    description: "FLUSHALL / FLUSHDB",
    run: async (c) => {
      await c.exec(["FLUSHALL"], "server");
      await c.exec(["FLUSHDB"], "server");
    },
  },
  {
    id: "shutdown",
    target: "server",
    kind: "breach",
    description: "SHUTDOWN ABORT / FAILOVER ABORT / REPLICAOF NO ONE",
    run: async (c) => {
      await c.exec(["SHUTDOWN", "ABORT"], "server");
      await c.exec(["FAILOVER", "ABORT"], "server");
      await c.exec(["REPLICAOF", "NO", "ONE"], "server");
    },
  },
  {
    id: "debug",
    target: "server",
    kind: "breach",
    description: "DEBUG SLEEP 0 / OBJECT / PFDEBUG / PFSELFTEST",
    run: async (c) => {
      await c.exec(["DEBUG", "SLEEP", "0"], "server");
      await c.exec(["DEBUG", "OBJECT", c.victim.keys.str]);
      await c.exec(["PFSELFTEST"], "server");
    },
  },
  {
    id: "persistence",
    target: "server",
    kind: "breach",
    description: "SAVE / BGSAVE SCHEDULE / BGREWRITEAOF / LASTSAVE",
    run: async (c) => {
      await c.exec(["LASTSAVE"], "server");
      await c.exec(["BGSAVE", "SCHEDULE"], "server");
    },
  },
  {
    id: "module",
    target: "server",
    kind: "breach",
    description: "MODULE LIST / LOAD",
    run: async (c) => {
      await c.exec(["MODULE", "LIST"], "server");
      await c.exec(["MODULE", "LOAD", "/nonexistent/evil.so"], "server");
    },
  },
  {
    id: "script.flush",
    target: "all scripts",
    kind: "breach",
    description: "SCRIPT FLUSH / SCRIPT KILL / FUNCTION FLUSH / FUNCTION DELETE",
    run: async (c) => {
      await c.exec(["SCRIPT", "FLUSH"], "server");
      await c.exec(["SCRIPT", "KILL"], "server");
      await c.exec(["FUNCTION", "KILL"], "server");
      await c.exec(["FUNCTION", "DELETE", scriptLibrary().name], "server");
      await c.exec(["FUNCTION", "FLUSH"], "server");
    },
  },
  {
    id: "lua.freeze",
    target: "every tenant (BUSY)",
    kind: "breach",
    description: "run arbitrary Lua (a long loop would BUSY everyone): EVAL / EVAL_RO / SCRIPT LOAD",
    inherent: scriptingInherent,
    run: async (c) => {
      await c.exec(["EVAL", "return 1", 0]);
      await c.exec(["EVAL_RO", "return 1", 0]);
      await c.exec(["SCRIPT", "LOAD", "return 1"]);
    },
  },
  {
    id: "fcall.readonly-token",
    target: "every tenant (BUSY)",
    kind: "breach",
    description: "FCALL / FCALL_RO with a read-only identity",
    applies: (c) => c.attacker.token === "read-only" || c.attacker.service.access === "read-only",
    run: async (c) => {
      await c.exec(["FCALL_RO", fn(fixedWindowScript), 1, c.own("ro"), 5, 60_000, 1]);
      await c.exec(["FCALL", fn(fixedWindowScript), 1, c.own("ro"), 5, 60_000, 1]);
    },
  },
];

/** Attacks that run (on the attacker's own keyspace) with a namespaced token; the evidence judges them. */
const EVIDENCE_WITH_NAMESPACE = new Set([
  ...DATA.map((a) => a.id),
  "scan",
  "keys",
  "dbsize",
  "subscribe.victim",
  "publish.victim",
  "flushall",
]);

const ns = (c: AttackContext) => c.attacker.namespaced === true;
const vks = (c: AttackContext) => c.victim.service.keyspace;

/**
 * Namespaced tokens only (issue 11): names that try to leave the keyspace, crafted SCAN cursors and
 * MATCH patterns, KEYS patterns, DBSIZE counts, FLUSHDB, channels named after the victim's.
 */
const NAMESPACED: Attack[] = [
  {
    id: "ns.escape-names",
    target: "victim keys",
    kind: "breach",
    namespaced: "evidence",
    description:
      "names that look like paths or other keyspaces: ../<victim key>, <victim key>, \\<victim key>",
    applies: ns,
    run: async (c) => {
      for (const name of [k(c).str, `../${k(c).str}`, `..\\${k(c).str}`, `/${k(c).str}`, ` ${k(c).str}`]) {
        await c.exec(["GET", name]);
        await c.exec(["SET", name, "evil"]);
        await c.exec(["DEL", name]);
      }
      await c.exec(["MGET", k(c).str, k(c).hash]);
      await c.exec(["RENAME", k(c).list, "mine"]);
      await c.exec(["COPY", k(c).hash, k(c).set, "REPLACE"]);
      await c.exec(["EVAL", "return redis.call('GET', KEYS[1])", 1, k(c).str]);
    },
  },
  {
    id: "ns.scan-crafted",
    target: "all key names",
    kind: "leak",
    namespaced: "evidence",
    description:
      "SCAN with crafted cursors (2^64-1, huge, odd) and MATCH patterns (*, ../*, victim:*, \\*, [v]ictim:*)",
    applies: ns,
    run: async (c) => {
      const victim = vks(c);
      for (const cursor of [
        "0",
        "1",
        "7",
        "18446744073709551615",
        "340282366920938463463374607431768211455",
      ]) {
        for (const match of [
          "*",
          "../*",
          `${victim}:*`,
          `*${c.victim.tag}*`,
          "\\*",
          `[${victim[0]}]${victim.slice(1)}:*`,
        ]) {
          await c.exec(["SCAN", cursor, "MATCH", match, "COUNT", 1000]);
          await c.exec(["SCAN", cursor, "MATCH", match, "COUNT", 1000, "TYPE", "string"]);
        }
      }
    },
  },
  {
    id: "ns.keys-crafted",
    target: "all key names",
    kind: "leak",
    namespaced: "evidence",
    description: "KEYS *, ../*, victim:*, *<victim tag>*",
    applies: ns,
    run: async (c) => {
      for (const pattern of ["*", "../*", `${vks(c)}:*`, `*${c.victim.tag}*`, "*:*:*"])
        await c.exec(["KEYS", pattern]);
    },
  },
  {
    id: "ns.dbsize",
    target: "key counts",
    kind: "leak",
    namespaced: "evidence",
    description: "DBSIZE counts only the attacker's own keyspace",
    applies: ns,
    run: async (c) => {
      const [outcome] = await c.exec(["DBSIZE"]);
      const own = await c.ownKeyCount();
      if (outcome?.ok && Number(outcome.value) !== own)
        c.flag("leak", `DBSIZE answered ${String(outcome.value)}, the attacker's keyspace holds ${own}`);
    },
  },
  {
    id: "ns.flushdb",
    target: "all data",
    kind: "breach",
    namespaced: "evidence",
    description: "FLUSHDB / FLUSHALL ASYNC delete only the attacker's own keyspace",
    applies: ns,
    run: async (c) => {
      await c.exec(["FLUSHDB"]);
      await c.exec(["FLUSHALL", "ASYNC"]);
    },
  },
  {
    id: "ns.channels",
    target: "victim channels",
    kind: "breach",
    namespaced: "evidence",
    description:
      "PUBLISH to the victim's channel names (must reach no victim subscriber); SUBSCRIBE/PSUBSCRIBE them",
    applies: ns,
    run: async (c) => {
      for (const channel of [c.victim.channel, `../${c.victim.channel}`, `${vks(c)}:*`]) {
        const [outcome] = await c.exec(["PUBLISH", channel, "evil"]);
        if (outcome?.ok && Number(outcome.value) > 0)
          c.flag(
            "breach",
            `PUBLISH ${channel} reached ${String(outcome.value)} subscriber(s) of another keyspace`,
          );
      }
      await c.subscribe("subscribe", c.victim.channel);
      await c.subscribe("psubscribe", `${vks(c)}:*`);
      await c.subscribe("psubscribe", "*");
    },
  },
];

/** The whole matrix, in table order. */
export const ATTACKS: readonly Attack[] = Object.freeze(
  [...DATA, ...ENUMERATION, ...ADMIN]
    .map((attack) =>
      EVIDENCE_WITH_NAMESPACE.has(attack.id) ? { ...attack, namespaced: "evidence" as const } : attack,
    )
    .concat(NAMESPACED),
);
