/**
 * The policy layer: decides, before Redis sees a command, whether a token may run it. Redis's ACL
 * (the service's own user) is still the final guard; this layer adds what an ACL cannot express for
 * a shared HTTP connection and gives clear 403s:
 *
 * - commands that change or block the shared connection (SELECT, CLIENT, HELLO, MULTI, WATCH, WAIT,
 *   blocking pops, SUBSCRIBE outside `/subscribe`, MONITOR, ...) are refused;
 * - admin and dangerous commands (`@admin`, `@dangerous`: FLUSHALL, CONFIG, KEYS, DEBUG, ...) and
 *   commands that reveal other services' keys (DBSIZE, RANDOMKEY, PUBSUB, SCAN without a MATCH in
 *   the service's keyspace) are refused;
 * - only commands the command table flags `readonly` or `write` (plus PING, ECHO, TIME, PUBLISH and
 *   scripting) are allowed at all; read-only tokens get `readonly` commands (and PING/ECHO/TIME) only;
 * - EVAL/EVALSHA (and friends) need a read-write token and an access string that grants them.
 */
import { grantsCommand } from "./acl-rules.js";
import type { CommandTable, ResolvedCommand } from "./command-table.js";
import { badRequest, forbidden, type GatewayError } from "./errors.js";
import type { GatewayService } from "./services.js";
import type { TokenKind } from "./tokens.js";

/** One command argument: a string from JSON, or raw bytes from a path segment or request body. */
export type CommandArg = string | Buffer;

const DENIED: ReadonlyMap<string, string> = new Map([
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
  ["keys", "would list other services' keys; use SCAN with MATCH <keyspace>:*"],
  ["dbsize", "would count other services' keys"],
  ["randomkey", "would reveal other services' keys"],
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
  "script|exists",
]);
const SCRIPTING: ReadonlySet<string> = new Set([...READ_WRITE_EXTRAS].filter((c) => !c.endsWith("publish")));
const SCRIPTING_CATEGORIES = ["@slow", "@scripting"];

/** Everything the policy needs to know about the caller. */
export interface PolicyContext {
  service: Pick<GatewayService, "keyspace" | "sharedKeyspaces" | "accessString">;
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

function optionValues(args: readonly CommandArg[], from: number, option: string): string[] | undefined {
  const values: string[] = [];
  for (let i = from; i < args.length; i++) {
    if (text(args[i]).toLowerCase() === option) {
      values.push(text(args[i + 1]));
      i++;
    }
  }
  return values.length > 0 ? values : undefined;
}

function hasWord(args: readonly CommandArg[], from: number, word: string): boolean {
  for (let i = from; i < args.length; i++) if (text(args[i]).toLowerCase() === word) return true;
  return false;
}

function isKnown(resolved: ResolvedCommand): boolean {
  return resolved.info !== undefined;
}

/**
 * Checks one command. Returns `undefined` when it may be sent to Redis, else the error to answer
 * with (400 for a malformed command name, 403 for a denied command).
 */
export function checkCommand(args: readonly CommandArg[], ctx: PolicyContext): GatewayError | undefined {
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
  if (command === "scan") {
    const patterns = optionValues(args, 2, "match");
    if (!patterns?.every((p) => patternInKeyspace(p, ctx.service))) {
      return forbidden(`SCAN needs MATCH ${ctx.service.keyspace}:* (or another pattern inside the keyspace)`);
    }
  }
  if (command === "copy" && hasWord(args, 3, "db")) {
    return forbidden("COPY ... DB is not available: each service has one database");
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
  if (SCRIPTING.has(fullName)) {
    const access = ctx.service.accessString;
    if (access !== undefined && !grantsCommand(access, fullName, SCRIPTING_CATEGORIES)) {
      return forbidden(`this service's access does not grant '${shown}' (scripting)`);
    }
  }
  return undefined;
}
