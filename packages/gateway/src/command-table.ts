/**
 * What the gateway knows about each command: its flags (`readonly`, `write`, `blocking`, ...) and ACL
 * categories (`@admin`, `@dangerous`, `@blocking`, ...). Read once per Redis connection from the
 * server's `COMMAND` reply (so modules and newer engines are covered), with a static fallback.
 */
import {
  FALLBACK_BLOCKING,
  FALLBACK_DANGEROUS,
  FALLBACK_OTHER,
  FALLBACK_READONLY,
  FALLBACK_WRITE,
  fallbackNames,
} from "./command-table-fallback.js";

/** Where a key specification starts looking for keys (Redis 7 `COMMAND` key specs). */
export type KeySpecBegin =
  | { type: "index"; index: number }
  | { type: "keyword"; keyword: string; startfrom: number }
  | { type: "unknown" };

/** How a key specification finds the keys from where it starts. */
export type KeySpecFind =
  | { type: "range"; lastkey: number; keystep: number; limit: number }
  | { type: "keynum"; keynumidx: number; firstkey: number; keystep: number }
  | { type: "unknown" };

/** One key specification of a command, as the server's `COMMAND` reply describes it. */
export interface KeySpec {
  /** Upper-case flags such as `RO`, `RW`, `INCOMPLETE`, `NOT_KEY`. */
  flags: ReadonlySet<string>;
  begin: KeySpecBegin;
  find: KeySpecFind;
}

/** Where a command's keys are. */
export interface KeyLocation {
  arity: number;
  /** Legacy first key, last key, step (Redis 6 and later). */
  first: number;
  last: number;
  step: number;
  /** The `movablekeys` flag: the legacy triple does not find every key. */
  movable: boolean;
  /** The key specifications (Redis 7 and later); undefined on older servers. */
  specs?: readonly KeySpec[];
}

/** Facts about one command or subcommand (`object|encoding`). */
export interface CommandInfo {
  /** Lowercase name; subcommands are `parent|sub`. */
  name: string;
  flags: ReadonlySet<string>;
  categories: ReadonlySet<string>;
  /** Subcommands by their lowercase name (`encoding`), for container commands. */
  subcommands?: ReadonlyMap<string, CommandInfo>;
  /** Where the keys are (from the server's table; absent in the static fallback). */
  keys?: KeyLocation;
}

/** A command line resolved against the table. */
export interface ResolvedCommand {
  /** Lowercase command name (`object`). */
  command: string;
  /** Lowercase full name: `object|encoding` for a subcommand, else the command. */
  fullName: string;
  /** Facts about `fullName`, or undefined when the table does not know it. */
  info?: CommandInfo;
}

function asString(value: unknown): string | undefined {
  if (typeof value === "string") return value;
  if (Buffer.isBuffer(value)) return value.toString("utf8");
  return undefined;
}

function asStringList(value: unknown): string[] {
  return Array.isArray(value) ? value.map(asString).filter((s): s is string => s !== undefined) : [];
}

function asInteger(value: unknown): number | undefined {
  const n = typeof value === "number" ? value : Number(asString(value));
  return Number.isInteger(n) ? n : undefined;
}

/** A RESP2 map (a flat array of name, value, ...) as an object. */
function pairs(value: unknown): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  if (!Array.isArray(value)) return out;
  for (let i = 0; i + 1 < value.length; i += 2) {
    const key = asString(value[i]);
    if (key !== undefined) out[key.toLowerCase()] = value[i + 1];
  }
  return out;
}

function parseBegin(value: unknown): KeySpecBegin {
  const outer = pairs(value);
  const spec = pairs(outer.spec);
  const type = asString(outer.type);
  if (type === "index") {
    const index = asInteger(spec.index);
    if (index !== undefined) return { type, index };
  }
  if (type === "keyword") {
    const keyword = asString(spec.keyword);
    const startfrom = asInteger(spec.startfrom);
    if (keyword !== undefined && startfrom !== undefined) return { type, keyword, startfrom };
  }
  return { type: "unknown" };
}

function parseFind(value: unknown): KeySpecFind {
  const outer = pairs(value);
  const spec = pairs(outer.spec);
  const type = asString(outer.type);
  if (type === "range") {
    const [lastkey, keystep, limit] = [spec.lastkey, spec.keystep, spec.limit].map(asInteger);
    if (lastkey !== undefined && keystep !== undefined && limit !== undefined)
      return { type, lastkey, keystep, limit };
  }
  if (type === "keynum") {
    const [keynumidx, firstkey, keystep] = [spec.keynumidx, spec.firstkey, spec.keystep].map(asInteger);
    if (keynumidx !== undefined && firstkey !== undefined && keystep !== undefined)
      return { type, keynumidx, firstkey, keystep };
  }
  return { type: "unknown" };
}

/** The key specifications of a `COMMAND` entry (index 8), or undefined when the server has none. */
function parseKeySpecs(value: unknown): KeySpec[] | undefined {
  if (!Array.isArray(value)) return undefined;
  return value.map((raw) => {
    const spec = pairs(raw);
    return {
      flags: new Set(asStringList(spec.flags).map((f) => f.toUpperCase())),
      begin: parseBegin(spec.begin_search),
      find: parseFind(spec.find_keys),
    };
  });
}

function parseEntry(raw: unknown): CommandInfo | undefined {
  if (!Array.isArray(raw)) return undefined;
  const name = asString(raw[0])?.toLowerCase();
  if (!name) return undefined;
  const flags = new Set(asStringList(raw[2]).map((f) => f.toLowerCase()));
  const info: CommandInfo = {
    name,
    flags,
    categories: new Set(asStringList(raw[6]).map((c) => c.toLowerCase())),
  };
  const [arity, first, last, step] = [raw[1], raw[3], raw[4], raw[5]].map(asInteger);
  if (arity !== undefined && first !== undefined && last !== undefined && step !== undefined) {
    const specs = parseKeySpecs(raw[8]);
    info.keys = { arity, first, last, step, movable: flags.has("movablekeys"), ...(specs ? { specs } : {}) };
  }
  const subs = Array.isArray(raw[9]) ? raw[9] : [];
  if (subs.length > 0) {
    const map = new Map<string, CommandInfo>();
    for (const sub of subs) {
      const parsed = parseEntry(sub);
      if (parsed) map.set(parsed.name.slice(parsed.name.indexOf("|") + 1), parsed);
    }
    info.subcommands = map;
  }
  return info;
}

/** The command table of one server. */
export class CommandTable {
  private constructor(
    private readonly commands: ReadonlyMap<string, CommandInfo>,
    /** `server` when read from `COMMAND`, `fallback` for the static table. */
    readonly source: "server" | "fallback",
  ) {}

  /** Builds the table from a `COMMAND` reply (Redis 6 and 7 shapes). */
  static fromCommandReply(reply: unknown): CommandTable {
    const map = new Map<string, CommandInfo>();
    for (const raw of Array.isArray(reply) ? reply : []) {
      const info = parseEntry(raw);
      if (info) map.set(info.name, info);
    }
    if (map.size === 0) throw new Error("COMMAND returned no commands");
    return new CommandTable(map, "server");
  }

  /** The static table used when `COMMAND` is not available. */
  static fallback(): CommandTable {
    const flags = new Map<string, Set<string>>();
    const cats = new Map<string, Set<string>>();
    const add = (list: string, flag?: string, category?: string) => {
      for (const name of fallbackNames(list)) {
        if (!flags.has(name)) flags.set(name, new Set());
        if (!cats.has(name)) cats.set(name, new Set());
        if (flag) flags.get(name)!.add(flag);
        if (category) cats.get(name)!.add(category);
      }
    };
    add(FALLBACK_READONLY, "readonly");
    add(FALLBACK_WRITE, "write");
    add(FALLBACK_BLOCKING, "blocking", "@blocking");
    add(FALLBACK_DANGEROUS, undefined, "@dangerous");
    add(FALLBACK_OTHER);
    const map = new Map<string, CommandInfo>();
    const containers = new Map<string, Map<string, CommandInfo>>();
    for (const [name, f] of flags) {
      const info: CommandInfo = { name, flags: f, categories: cats.get(name)! };
      const bar = name.indexOf("|");
      if (bar < 0) {
        map.set(name, info);
        continue;
      }
      const parent = name.slice(0, bar);
      let subs = containers.get(parent);
      if (!subs) {
        subs = new Map();
        containers.set(parent, subs);
      }
      subs.set(name.slice(bar + 1), info);
    }
    for (const [parent, subs] of containers) {
      const existing = map.get(parent);
      map.set(parent, {
        name: parent,
        flags: existing?.flags ?? new Set(),
        categories: existing?.categories ?? new Set(),
        subcommands: subs,
      });
    }
    return new CommandTable(map, "fallback");
  }

  /** Number of top-level commands known. */
  get size(): number {
    return this.commands.size;
  }

  /** Resolves `args` (command name first, subcommand second for containers). */
  resolve(args: readonly (string | Buffer)[]): ResolvedCommand {
    const command = (asString(args[0]) ?? "").toLowerCase();
    const info = this.commands.get(command);
    if (!info?.subcommands || info.subcommands.size === 0) {
      return info ? { command, fullName: command, info } : { command, fullName: command };
    }
    const sub = (asString(args[1]) ?? "").toLowerCase();
    const subInfo = info.subcommands.get(sub);
    const fullName = `${command}|${sub}`;
    if (subInfo) return { command, fullName, info: subInfo };
    // An unknown subcommand inherits the container's categories (e.g. @dangerous of `config`).
    // Its `name` stays the container's, so messages never echo the unknown subcommand back.
    return { command, fullName, info: { name: command, flags: new Set(), categories: info.categories } };
  }
}
