/**
 * ACL access strings. One string works for `ACL SETUSER` (after `reset`, before passwords) and for
 * ElastiCache's `AccessString`. Rules apply left to right, so the order is:
 *   state, key patterns, channel patterns, `-@all`, the preset's grants, the safety tail that takes
 *   dangerous commands back, then the service's explicit commands (which win, and must be allowed).
 */

/** Built-in access levels. */
export type AccessPreset = "read-only" | "read-write";

/** `"read-write"`, `"read-only"`, or a preset plus explicit command rules such as `["+hset", "-del", "+@hash"]`. */
export type AccessSpec =
  | AccessPreset
  | {
      /** Starting point before `commands`. @default "none" (only connection commands) */
      preset?: AccessPreset | "none";
      /** Extra rules: `cmd`/`+cmd` grants, `-cmd` denies; `@category` works too; `cmd|sub` for subcommands. */
      commands: string[];
    };

/** Commands every client needs: connection handling and cluster topology discovery. */
const CONNECTION_GRANTS = [
  "+@connection",
  "+cluster|slots",
  "+cluster|shards",
  "+cluster|nodes",
  "+cluster|info",
  "+cluster|myid",
  "+cluster|keyslot",
];

const PRESET_GRANTS: Record<AccessPreset | "none", string[]> = {
  none: [],
  "read-only": [
    "+@read",
    "+subscribe",
    "+psubscribe",
    "+ssubscribe",
    "+unsubscribe",
    "+punsubscribe",
    "+sunsubscribe",
  ],
  "read-write": [
    "+@read",
    "+@write",
    "+@transaction",
    "+@pubsub",
    "+fcall",
    "+fcall_ro",
    "+eval",
    "+evalsha",
    "+eval_ro",
    "+evalsha_ro",
    "+script|load",
    "+script|exists",
  ],
};

/**
 * Taken back after every preset: server administration, anything that lists or wipes keys beyond the
 * keyspace (`KEYS`, `RANDOMKEY`, `FLUSHALL`, `FLUSHDB` are in @dangerous or named here), and
 * server-wide scripting state.
 */
const SAFETY_TAIL = ["-@dangerous", "-@admin", "-randomkey", "-script|flush", "-script|kill", "-function"];

/** Categories and commands a service only gets with `allowDangerous: true`. */
export const DANGEROUS_CATEGORIES: ReadonlySet<string> = new Set([
  "@all",
  "@admin",
  "@dangerous",
  "@scripting",
]);
export const DANGEROUS_COMMANDS: ReadonlySet<string> = new Set([
  "acl",
  "bgrewriteaof",
  "bgsave",
  "client",
  "client|kill",
  "client|list",
  "client|pause",
  "cluster",
  "config",
  "debug",
  "failover",
  "flushall",
  "flushdb",
  "function",
  "info",
  "keys",
  "lastsave",
  "latency",
  "migrate",
  "module",
  "monitor",
  "psync",
  "randomkey",
  "replconf",
  "replicaof",
  "restore",
  "role",
  "save",
  "script",
  "script|flush",
  "script|kill",
  "shutdown",
  "slaveof",
  "slowlog",
  "sort",
  "swapdb",
  "sync",
]);

const RULE_PATTERN = /^[+-]?@?[a-z][a-z0-9_-]*(\|[a-z][a-z0-9_-]*)?$/;

/** Splits a rule into sign and name: `"+GET"` -> `["+", "get"]`, `"hset"` -> `["+", "hset"]`. */
export function parseCommandRule(rule: string): { sign: "+" | "-"; name: string } | undefined {
  const lowered = rule.trim().toLowerCase();
  if (!RULE_PATTERN.test(lowered)) return undefined;
  const sign = lowered.startsWith("-") ? "-" : "+";
  const name = lowered.replace(/^[+-]/, "");
  return { sign, name };
}

/** Subcommands of otherwise dangerous commands that any client may use. */
const SAFE_SUBCOMMANDS: ReadonlySet<string> = new Set([
  "client|setname",
  "client|getname",
  "client|id",
  "client|info",
  "client|setinfo",
  "client|tracking",
  "client|trackinginfo",
  "client|caching",
  "client|getredir",
  "client|reply",
  "cluster|slots",
  "cluster|shards",
  "cluster|nodes",
  "cluster|info",
  "cluster|myid",
  "cluster|keyslot",
  "script|load",
  "script|exists",
]);

/** True when granting `name` (a command, `cmd|sub` or `@category`) needs `allowDangerous`. */
export function isDangerousGrant(name: string): boolean {
  if (DANGEROUS_CATEGORIES.has(name) || DANGEROUS_COMMANDS.has(name)) return true;
  return name.includes("|") && !SAFE_SUBCOMMANDS.has(name) && DANGEROUS_COMMANDS.has(name.split("|")[0]!);
}

export interface AccessStringInput {
  keyspace: string;
  sharedKeyspaces?: readonly string[];
  access: AccessSpec;
  /** `false` writes `off`: the user exists but cannot authenticate. @default true */
  enabled?: boolean;
}

/**
 * The access string of a service, e.g. for keyspace `orders`, read-only:
 * `on ~orders:* resetchannels &orders:* -@all +@connection ... +@read ... -@dangerous ...`.
 * Deterministic: the same input always gives the same string. Does not validate dangerous grants;
 * the config schema does that before a string is ever built.
 */
export function buildAccessString(input: AccessStringInput): string {
  const spaces = [input.keyspace, ...(input.sharedKeyspaces ?? [])];
  const unique = [...new Set(spaces)];
  const preset = typeof input.access === "string" ? input.access : (input.access.preset ?? "none");
  const explicit =
    typeof input.access === "string"
      ? []
      : input.access.commands.map((rule) => {
          const parsed = parseCommandRule(rule);
          if (!parsed) throw new Error(`Invalid ACL command rule "${rule}"`);
          return `${parsed.sign}${parsed.name}`;
        });
  return [
    input.enabled === false ? "off" : "on",
    ...unique.map((ks) => `~${ks}:*`),
    "resetchannels",
    ...unique.map((ks) => `&${ks}:*`),
    "-@all",
    ...CONNECTION_GRANTS,
    ...PRESET_GRANTS[preset],
    ...SAFETY_TAIL,
    ...explicit,
  ].join(" ");
}

/** Collapses white space so that two spellings of one rule list compare equal. Order is kept: it matters. */
export function normalizeAccessString(access: string): string {
  return access.trim().split(/\s+/).join(" ");
}
