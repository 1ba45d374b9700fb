/**
 * Virtual databases: what a namespaced token sees. The service's keyspace looks like a whole database
 * of its own: `<keyspace>:` is added to every key argument (found from the server's command table,
 * see key-positions.ts) and to every channel, and removed from every reply that names keys or
 * channels. The service's Redis user (and its ACL, `~<keyspace>:*`) still runs every command, so a
 * name such as `other:k` or `../x` becomes `<keyspace>:other:k` / `<keyspace>:../x`: inside the
 * keyspace, never outside it.
 *
 * Enumeration (KEYS, SCAN, DBSIZE, FLUSHDB, FLUSHALL) is answered by keyspace-enumeration.ts.
 */
import type { CommandArg } from "./command-policy.js";
import type { CommandTable } from "./command-table.js";
import { badRequest, type GatewayError } from "./errors.js";
import { keyPositions } from "./key-positions.js";
import type { RedisReply } from "./reply-encoding.js";

/** Commands whose argument 1 is a channel (PUBLISH) or a shard channel (SPUBLISH). */
const CHANNEL_COMMANDS: ReadonlySet<string> = new Set(["publish", "spublish"]);

/** How the reply of a command names keys, for {@link Namespace.reply}. */
const KEY_REPLIES: ReadonlyMap<string, "first" | "each-first"> = new Map([
  // [key, element] / [key, member, score] / [key, [elements...]]
  ["blpop", "first"],
  ["brpop", "first"],
  ["bzpopmin", "first"],
  ["bzpopmax", "first"],
  ["lmpop", "first"],
  ["blmpop", "first"],
  ["zmpop", "first"],
  ["bzmpop", "first"],
  // [[key, entries], ...]
  ["xread", "each-first"],
  ["xreadgroup", "each-first"],
]);

function nameOf(arg: CommandArg | undefined): string {
  if (arg === undefined) return "";
  return (typeof arg === "string" ? arg : arg.toString("latin1")).toLowerCase();
}

/** A keyspace seen as a database: prefixes names on the way in, removes the prefix on the way out. */
export class Namespace {
  /** `<keyspace>:` */
  readonly prefix: string;
  private readonly prefixBytes: Buffer;

  constructor(readonly keyspace: string) {
    this.prefix = `${keyspace}:`;
    this.prefixBytes = Buffer.from(this.prefix, "utf8");
  }

  /** `name` with the prefix (a string stays a string, bytes stay bytes). */
  add(name: CommandArg): CommandArg {
    return typeof name === "string" ? this.prefix + name : Buffer.concat([this.prefixBytes, name]);
  }

  /** True when `name` (bytes) starts with the prefix. */
  owns(name: Buffer): boolean {
    return (
      name.length >= this.prefixBytes.length &&
      this.prefixBytes.equals(name.subarray(0, this.prefixBytes.length))
    );
  }

  /** `name` without the prefix (unchanged when it does not carry it). */
  strip(name: Buffer): Buffer;
  strip(name: string): string;
  strip(name: Buffer | string): Buffer | string {
    if (typeof name === "string") return name.startsWith(this.prefix) ? name.slice(this.prefix.length) : name;
    return this.owns(name) ? name.subarray(this.prefixBytes.length) : name;
  }

  /** A glob pattern that matches `<keyspace>:<pattern>` (the keyspace's glob characters escaped). */
  pattern(pattern: CommandArg | undefined): Buffer {
    const escaped = Buffer.from(this.prefix.replace(/[*?[\]\\]/g, "\\$&"), "utf8");
    if (pattern === undefined) return Buffer.concat([escaped, Buffer.from("*")]);
    return Buffer.concat([escaped, typeof pattern === "string" ? Buffer.from(pattern, "utf8") : pattern]);
  }

  /**
   * `args` with every key and channel prefixed, or the error to answer with when the keys of the
   * command cannot be found (no key information in the server's table, an incomplete key
   * specification, a malformed numkeys).
   */
  rewrite(args: readonly CommandArg[], table: CommandTable): readonly CommandArg[] | GatewayError {
    const name = nameOf(args[0]);
    const { info } = table.resolve(args);
    const positions = keyPositions(args, info?.keys);
    if ("unknown" in positions) {
      return badRequest(
        positions.unknown === "malformed"
          ? "syntax error: the number of keys does not match the arguments"
          : `'${info?.name === name || info?.name?.startsWith(`${name}|`) ? info.name.replace("|", " ") : name}' is not available with a namespaced token: its keys cannot be found from the server's command table (${positions.unknown})`,
      );
    }
    const targets = positions.keys;
    if (CHANNEL_COMMANDS.has(name) && args.length > 1 && !targets.includes(1)) targets.push(1);
    if (targets.length === 0) return args;
    const out = [...args];
    for (const i of targets) out[i] = this.add(args[i]!);
    return out;
  }

  /** `reply` with the prefix removed from the key names it holds (for the commands that name keys). */
  reply(args: readonly CommandArg[], reply: RedisReply): RedisReply {
    const shape = KEY_REPLIES.get(nameOf(args[0]));
    if (shape === undefined || !Array.isArray(reply)) return reply;
    if (shape === "first") {
      const [key, ...rest] = reply;
      return Buffer.isBuffer(key) ? [this.strip(key), ...rest] : reply;
    }
    return reply.map((entry) => {
      if (!Array.isArray(entry)) return entry;
      const [key, ...rest] = entry;
      return Buffer.isBuffer(key) ? [this.strip(key), ...rest] : entry;
    });
  }
}
