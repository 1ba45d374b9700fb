/**
 * ACL access strings. One string works for `ACL SETUSER` (after `reset`, before passwords) and for
 * ElastiCache's `AccessString`. Rules apply left to right, so the order is:
 *   state, key patterns, channel patterns, `-@all`, connection commands, the preset's grants, the
 *   scripting grants (`scripting: true` only), the service's explicit commands, and last the safety
 *   tail that takes back everything in `DENIED_COMMANDS` (and EVAL/SCRIPT unless `scripting: true`).
 * Because the tail comes after the explicit commands, no explicit rule (`+@slow`, `+@keyspace`,
 * `+@connection`, ...) can grant back what it denies. Only `allowDangerous: true` moves the explicit
 * commands after the tail, so they win again; the provisioner then reports every dangerous command the
 * user can run (verified with `ACL DRYRUN` on the server).
 */
import { DENIED_COMMANDS, deniedEntry, SCRIPTING_COMMANDS } from "./denied-commands.js";

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

/**
 * Commands every client needs: connection handling, cluster topology discovery, and `TIME` (the
 * server's clock: keyless, reveals nothing about other tenants; Upstash clients and rate limiters
 * that share one clock across instances call it).
 */
const CONNECTION_GRANTS = [
  "+@connection",
  "+time",
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
  // FCALL runs only functions the platform loaded (tenants never get FUNCTION): the client's atomic
  // operations (rate limits, locks) from the `cacheplane_<version>` library (decision 0006).
  "read-write": ["+@read", "+@write", "+@transaction", "+@pubsub", "+fcall", "+fcall_ro"],
};

/** What `scripting: true` adds: the service may run its own Lua (EVAL and friends, SCRIPT LOAD). */
const SCRIPTING_GRANTS = ["+eval", "+evalsha", "+eval_ro", "+evalsha_ro", "+script|load"];

/**
 * Taken back last: `@dangerous`, `@admin` and every command in `DENIED_COMMANDS` by name (so a future
 * change of Redis's categories cannot reopen one of them), then scripting unless the service has
 * `scripting: true`.
 */
function safetyTail(scripting: boolean): string[] {
  const tail = ["-@dangerous", "-@admin", ...DENIED_COMMANDS.map((c) => `-${c.name}`)];
  if (!scripting) tail.push(...SCRIPTING_COMMANDS.map((c) => `-${c.name}`));
  return tail;
}

/** Categories a service only gets with `allowDangerous: true` (they hold administration or arbitrary Lua). */
export const DANGEROUS_CATEGORIES: ReadonlySet<string> = new Set([
  "@all",
  "@admin",
  "@dangerous",
  "@scripting",
]);

/**
 * Whole commands a service only gets with `allowDangerous: true`: every command of `DENIED_COMMANDS`
 * plus parents whose grant would mostly be administration (`client`, `cluster`, `script`).
 */
export const DANGEROUS_COMMANDS: ReadonlySet<string> = new Set([
  ...DENIED_COMMANDS.map((c) => c.name),
  "client",
  "cluster",
  "memory",
  "script",
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

/** Subcommands of otherwise dangerous parents that any client may use. */
const SAFE_SUBCOMMANDS: ReadonlySet<string> = new Set([
  "client|setname",
  "client|getname",
  "client|id",
  "client|info",
  "client|setinfo",
  "client|reply",
  "cluster|slots",
  "cluster|shards",
  "cluster|nodes",
  "cluster|info",
  "cluster|myid",
  "cluster|keyslot",
  "memory|usage",
]);

/**
 * True when granting `name` (a command, `cmd|sub` or `@category`) needs `allowDangerous`: a dangerous
 * category, or a command (or subcommand) the safety tail denies, or a whole dangerous parent.
 * Scripting commands (EVAL, SCRIPT LOAD, ...) are not dangerous here: they need `scripting: true`
 * (see {@link explicitGrantProblem}).
 */
export function isDangerousGrant(name: string): boolean {
  const lowered = name.toLowerCase();
  if (DANGEROUS_CATEGORIES.has(lowered)) return true;
  if (SAFE_SUBCOMMANDS.has(lowered)) return false;
  if (DANGEROUS_COMMANDS.has(lowered) || deniedEntry(lowered) !== undefined) return true;
  const parent = lowered.includes("|") ? lowered.slice(0, lowered.indexOf("|")) : undefined;
  return parent !== undefined && parent !== "script" && DANGEROUS_COMMANDS.has(parent);
}

/** True for EVAL, EVALSHA, EVAL_RO, EVALSHA_RO, `script|load` and `script|exists` (what `scripting: true` is about). */
export function isScriptingCommand(name: string): boolean {
  const lowered = name.toLowerCase();
  return deniedEntry(lowered, SCRIPTING_COMMANDS) !== undefined && !isDangerousGrant(lowered);
}

/**
 * Why an explicit grant (`+name`) is refused for a service, or undefined when it is fine. Grants of
 * categories such as `+@slow` are fine: the safety tail after them takes back every denied command.
 */
export function explicitGrantProblem(
  name: string,
  service: { allowDangerous?: boolean; scripting?: boolean },
): { kind: "dangerous" | "scripting"; message: string } | undefined {
  if (service.allowDangerous === true) return undefined;
  const lowered = name.toLowerCase();
  if (isDangerousGrant(lowered)) {
    const denied = deniedEntry(lowered);
    const what = lowered.startsWith("@") ? "category" : "command";
    const why = denied ? ` (${denied.reason})` : "";
    return {
      kind: "dangerous",
      message: `${what} "${lowered}" is dangerous on a shared cache${why}`,
    };
  }
  if (isScriptingCommand(lowered) && service.scripting !== true) {
    return { kind: "scripting", message: `"${lowered}" runs Lua` };
  }
  return undefined;
}

export interface AccessStringInput {
  keyspace: string;
  sharedKeyspaces?: readonly string[];
  access: AccessSpec;
  /** `false` writes `off`: the user exists but cannot authenticate. @default true */
  enabled?: boolean;
  /** Grant EVAL, EVALSHA, EVAL_RO, EVALSHA_RO and SCRIPT LOAD. @default false */
  scripting?: boolean;
  /** Put the explicit commands after the safety tail, so they can grant dangerous commands. @default false */
  allowDangerous?: boolean;
}

/**
 * The access string of a service, e.g. for keyspace `orders`, read-only:
 * `on ~orders:* resetchannels &orders:* -@all +@connection ... +@read ... -@dangerous -@admin -keys -scan ...`.
 * Deterministic: the same input always gives the same string. Does not validate explicit grants
 * (the config schema does that before a string is ever built); without `allowDangerous` the tail wins
 * over them anyway.
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
  const scripting = input.scripting === true;
  const dangerous = input.allowDangerous === true;
  return [
    input.enabled === false ? "off" : "on",
    ...unique.map((ks) => `~${ks}:*`),
    "resetchannels",
    ...unique.map((ks) => `&${ks}:*`),
    "-@all",
    ...CONNECTION_GRANTS,
    ...PRESET_GRANTS[preset],
    ...(scripting ? SCRIPTING_GRANTS : []),
    ...(dangerous ? [] : explicit),
    ...safetyTail(scripting),
    ...(dangerous ? explicit : []),
  ].join(" ");
}

/** Collapses white space so that two spellings of one rule list compare equal. Order is kept: it matters. */
export function normalizeAccessString(access: string): string {
  return access.trim().split(/\s+/).join(" ");
}
