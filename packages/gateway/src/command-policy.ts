/**
 * The policy layer: decides, before Redis sees a command, whether a token may run it. Redis's ACL
 * (the service's own user) is still the final guard; this layer adds what an ACL cannot express for
 * a shared HTTP connection and gives clear 403s:
 *
 * - commands that change or block the shared connection (SELECT, CLIENT, HELLO, MULTI, WATCH, WAIT,
 *   blocking pops, SUBSCRIBE outside `/subscribe`, MONITOR, ...) are refused;
 * - admin and dangerous commands (`@admin`, `@dangerous`: FLUSHALL, CONFIG, KEYS, DEBUG, ...) and
 *   every command core's safety tail denies (`DENIED_COMMANDS`: SCAN, DBSIZE, RANDOMKEY, PUBSUB,
 *   CLIENT TRACKING, ... reveal other services' key or channel names; ACL key patterns do not
 *   filter them) are refused;
 * - only commands the command table flags `readonly` or `write` (plus PING, ECHO, TIME, PUBLISH,
 *   FCALL and scripting) are allowed at all; read-only tokens get `readonly` commands (and
 *   PING/ECHO/TIME) only, and never scripts or functions (a long one stalls every service);
 * - EVAL/EVALSHA (and friends) need a read-write token of a service with `scripting: true`.
 * Scripts run under the service's own ACL, so what Lua calls inside a script is refused by Redis
 * exactly as the same command outside it.
 */
import { DENIED_COMMANDS } from "@cacheplane/core";
import { grantsCommand } from "./acl-rules.js";
import type { CommandTable, ResolvedCommand } from "./command-table.js";
import { badRequest, forbidden, type GatewayError } from "./errors.js";
import type { GatewayService } from "./services.js";
import type { TokenKind } from "./tokens.js";

/** One command argument: a string from JSON, or raw bytes from a path segment or request body. */
export type CommandArg = string | Buffer;

// Later entries win in a Map built from pairs: core's list goes first, the gateway's own reasons after.
const DENIED: ReadonlyMap<string, string> = new Map([
  // Everything core's safety tail denies, with core's reason (the gateway's own reasons below win).
  ...DENIED_COMMANDS.map((c) => [c.name, `is denied on a shared cache: it ${c.reason}`] as const),
  ...[
    "auth",
    "hello",
    "select",
    "client",
    "reset",
    "quit",
    "multi",
    "exec",
    "discard",
    "watch",
    "unwatch",
    "readonly",
    "readwrite",
    "asking",
    "wait",
    "waitaof",
    "swapdb",
    "move",
    "monitor",
    "sync",
    "psync",
    "script|debug",
  ].map((c) => [c, "changes or blocks the gateway's shared connection"] as const),
  ...["subscribe", "psubscribe", "ssubscribe", "unsubscribe", "punsubscribe", "sunsubscribe"].map(
    (c) =>
      [
        c,
        "is only available as Server-Sent Events at /subscribe/<channel> or /psubscribe/<pattern>",
      ] as const,
  ),
  ["pubsub", "would list other services' channels"],
  ["keys", "would list other services' keys"],
  ["scan", "would list other services' keys (ACL key patterns do not filter SCAN)"],
  ["dbsize", "would count other services' keys"],
  ["randomkey", "would reveal other services' keys"],
  ["script|exists", "would reveal which scripts other services loaded"],
  ...[
    "flushall",
    "flushdb",
    "config",
    "acl",
    "debug",
    "shutdown",
    "module",
    "save",
    "bgsave",
    "bgrewriteaof",
    "lastsave",
    "info",
    "slowlog",
    "latency",
    "cluster",
    "failover",
    "replicaof",
    "slaveof",
    "role",
    "migrate",
    "restore",
    "restore-asking",
    "function",
    "script|flush",
    "script|kill",
  ].map((c) => [c, "is an admin command"] as const),
]);

const ALWAYS_ALLOWED: ReadonlySet<string> = new Set(["ping", "echo", "time"]);
const READ_WRITE_EXTRAS: ReadonlySet<string> = new Set([
  "publish",
  "spublish",
  "eval",
  "evalsha",
  "eval_ro",
  "evalsha_ro",
  "fcall",
  "fcall_ro",
  "script|load",
]);
/** The service's own Lua: needs `scripting: true`. */
const SCRIPTING: ReadonlySet<string> = new Set(["eval", "evalsha", "eval_ro", "evalsha_ro", "script|load"]);
/** The platform's function library: read-write tokens only. */
const FUNCTIONS: ReadonlySet<string> = new Set(["fcall", "fcall_ro"]);
const SCRIPTING_CATEGORIES = ["@slow", "@scripting"];

/** Everything the policy needs to know about the caller. */
export interface PolicyContext {
  service: Pick<GatewayService, "keyspace" | "sharedKeyspaces" | "accessString"> &
    Partial<Pick<GatewayService, "name" | "scripting">>;
  kind: TokenKind;
  table: CommandTable;
}

const COMMAND_NAME = /^[A-Za-z][A-Za-z0-9_.-]{0,63}$/;

function text(arg: CommandArg | undefined): string {
  if (arg === undefined) return "";
  return typeof arg === "string" ? arg : arg.toString("utf8");
}

/** True when a glob pattern can only match keys (or channels) inside the service's keyspaces. */
export function patternInKeyspace(pattern: string, service: PolicyContext["service"]): boolean {
  return [service.keyspace, ...service.sharedKeyspaces].some((ks) => pattern.startsWith(`${ks}:`));
}

function hasWord(args: readonly CommandArg[], from: number, word: string): boolean {
  for (let i = from; i < args.length; i++) if (text(args[i]).toLowerCase() === word) return true;
  return false;
}

function isKnown(resolved: ResolvedCommand): boolean {
  return resolved.info !== undefined;
}

/**
 * Command names, exactly as sent, that a kind of token may run with any arguments, per command
 * table: the verdict of a command without subcommands that is not denied, not admin or dangerous,
 * not blocking, not COPY (its DB option) and no script or function depends only on its name, the
 * token's kind and the table. Remembered after the first full check, so the common commands skip
 * the lookups; bounded, since names arrive in any letter case.
 */
const plainlyAllowed = new WeakMap<CommandTable, Record<TokenKind, Set<string>>>();
const PLAINLY_ALLOWED_MAX = 512;

function allowedNames(table: CommandTable): Record<TokenKind, Set<string>> {
  let names = plainlyAllowed.get(table);
  if (names === undefined) {
    names = { "read-write": new Set(), "read-only": new Set() };
    plainlyAllowed.set(table, names);
  }
  return names;
}

/**
 * Checks one command. Returns `undefined` when it may be sent to Redis, else the error to answer
 * with (400 for a malformed command name, 403 for a denied command).
 */
export function checkCommand(args: readonly CommandArg[], ctx: PolicyContext): GatewayError | undefined {
  const first = args[0];
  if (typeof first === "string" && plainlyAllowed.get(ctx.table)?.[ctx.kind].has(first)) return undefined;
  const verdict = fullCheck(args, ctx);
  if (verdict === undefined && typeof first === "string") {
    const { command, fullName, info } = ctx.table.resolve(args);
    const plain =
      info !== undefined &&
      info.subcommands === undefined &&
      fullName === command &&
      !info.categories.has("@blocking") &&
      !info.flags.has("blocking") &&
      command !== "copy" &&
      !SCRIPTING.has(command) &&
      !FUNCTIONS.has(command);
    if (plain) {
      const names = allowedNames(ctx.table)[ctx.kind];
      if (names.size < PLAINLY_ALLOWED_MAX) names.add(first);
    }
  }
  return verdict;
}

/** {@link checkCommand} without the remembered names. */
function fullCheck(args: readonly CommandArg[], ctx: PolicyContext): GatewayError | undefined {
  const rawName = text(args[0]);
  if (!COMMAND_NAME.test(rawName)) {
    return badRequest("invalid command name: expected letters, digits, '.', '_' or '-'");
  }
  const resolved = ctx.table.resolve(args);
  const { command, fullName, info } = resolved;
  // Only names the table knows are echoed back; an unknown subcommand is user input.
  const shown = info?.name === fullName ? fullName.replace("|", " ") : command;
  const reason = DENIED.get(command) ?? DENIED.get(fullName);
  if (reason) return forbidden(`'${shown}' ${reason}`);
  const categories = info?.categories ?? new Set<string>();
  const flags = info?.flags ?? new Set<string>();
  if (categories.has("@admin") || categories.has("@dangerous") || flags.has("admin")) {
    return forbidden(`'${shown}' is an admin or dangerous command`);
  }
  const blocking = categories.has("@blocking") || flags.has("blocking");
  if (blocking) {
    const streamRead = command === "xread" || command === "xreadgroup";
    if (!streamRead || hasWord(args, 1, "block")) {
      return forbidden(`'${shown}' blocks; blocking commands are not available over HTTP`);
    }
  }
  if (command === "copy" && hasWord(args, 3, "db")) {
    return forbidden("COPY ... DB is not available: each service has one database");
  }

  if (SCRIPTING.has(fullName) || FUNCTIONS.has(fullName)) {
    const problem = scriptingProblem(fullName, shown, ctx);
    if (problem) return problem;
  }
  const readsOnly = flags.has("readonly") || ALWAYS_ALLOWED.has(fullName);
  if (ctx.kind === "read-only") {
    if (!readsOnly) {
      return isKnown(resolved) || ctx.table.source === "fallback"
        ? forbidden(`'${shown}' is not a read command and this token is read-only`)
        : badRequest(`unknown command '${rawName}'`);
    }
  } else {
    const allowed = readsOnly || flags.has("write") || READ_WRITE_EXTRAS.has(fullName);
    if (!allowed) {
      if (!isKnown(resolved)) {
        // The server's own table does not know it: Redis would refuse it too. With the static
        // fallback table, newer commands pass on to the ACL.
        if (ctx.table.source === "server") return badRequest(`unknown command '${rawName}'`);
      } else {
        return forbidden(`'${shown}' is not available over HTTP`);
      }
    }
  }
  return undefined;
}

/**
 * Scripts and functions: never for read-only tokens (an EVAL_RO loop stalls every service, and
 * nobody but an admin can SCRIPT KILL it); the service's own Lua only with `scripting: true`.
 */
function scriptingProblem(fullName: string, shown: string, ctx: PolicyContext): GatewayError | undefined {
  if (ctx.kind === "read-only") {
    return forbidden(
      `'${shown}' is not available to read-only tokens: they run no scripts or functions (a long script stalls every service)`,
    );
  }
  if (!SCRIPTING.has(fullName)) return undefined;
  const { scripting, accessString, name } = ctx.service;
  const allowed =
    scripting !== undefined
      ? scripting
      : accessString === undefined || grantsCommand(accessString, fullName, SCRIPTING_CATEGORIES);
  if (allowed) return undefined;
  return forbidden(
    `${name ? `service "${name}"` : "this service"} may not run its own scripts ('${shown}'): set scripting: true ` +
      "on it in the platform config (trusted services only: a long script blocks every service)",
  );
}
