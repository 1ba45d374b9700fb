/**
 * `Upstash-Response-Format: resp2`: replies as RESP2 bytes (what a TCP client reads) instead of JSON.
 *
 * What is exact: integers (`:n`), bulk strings (`$n`, raw bytes), arrays (`*n`), nil, and errors
 * (`-ERR ...`). What needs knowledge of the command: the Redis client library hands status replies
 * (`+OK`) and bulk strings over alike (as bytes), so a string is written as a status reply when the
 * command's reply is one (`SET` without `GET`, `MSET`, `RENAME`, `TYPE`, `PING` without an argument,
 * ... see {@link STATUS_REPLY_COMMANDS}), else as a bulk string; and a nil is written as a nil array
 * (`*-1`) for the commands whose nil is an array (`XREAD`, `LMPOP`, ...; nested nils of `GEOPOS`),
 * else as a nil bulk string (`$-1`). A Lua script's status reply (`return {ok="x"}`) therefore comes
 * back as a bulk string.
 */
import type { CommandArg } from "./command-policy.js";
import type { RedisReply } from "./reply-encoding.js";

const CRLF = "\r\n";
const INTEGER = /^-?\d+$/;

/** Commands whose (non-error, non-nil) reply is a status reply (`+OK`, `+PONG`, `+string`, ...). */
export const STATUS_REPLY_COMMANDS: ReadonlySet<string> = new Set([
  "set",
  "setex",
  "psetex",
  "mset",
  "rename",
  "lset",
  "ltrim",
  "hmset",
  "pfmerge",
  "xsetid",
  "xgroup|create",
  "xgroup|setid",
  "type",
  "ping",
  "flushdb",
  "flushall",
  "script|flush",
  "select",
  "swapdb",
  "restore",
  "migrate",
]);

/** Commands whose nil reply is a nil array (`*-1`) in RESP2. */
export const NIL_ARRAY_COMMANDS: ReadonlySet<string> = new Set([
  "xread",
  "xreadgroup",
  "lmpop",
  "zmpop",
  "blmpop",
  "bzmpop",
  "blpop",
  "brpop",
  "bzpopmin",
  "bzpopmax",
]);

function text(arg: CommandArg | undefined): string {
  if (arg === undefined) return "";
  return (typeof arg === "string" ? arg : arg.toString("utf8")).toLowerCase();
}

/** How the top-level reply of `args` is written: which strings are status replies, which nils arrays. */
export interface Resp2Shape {
  status: boolean;
  nilArray: boolean;
  /** `GEOPOS`: a missing member is a nested nil array. */
  nestedNilArray: boolean;
}

/** The RESP2 shape of the reply to `args` (see the module comment). */
export function resp2Shape(args: readonly CommandArg[]): Resp2Shape {
  const name = text(args[0]);
  const full = name === "xgroup" || name === "script" ? `${name}|${text(args[1])}` : name;
  let status = STATUS_REPLY_COMMANDS.has(full);
  if (name === "set") {
    for (let i = 3; i < args.length; i++) if (text(args[i]) === "get") status = false;
  }
  if (name === "ping" && args.length > 1) status = false;
  return { status, nilArray: NIL_ARRAY_COMMANDS.has(name), nestedNilArray: name === "geopos" };
}

function line(prefix: string, body: string): Buffer {
  return Buffer.from(`${prefix}${body}${CRLF}`, "utf8");
}

/** A RESP2 error line; line breaks in the message become spaces (an error is one line). */
export function resp2Error(message: string): Buffer {
  return line("-", message.replace(/[\r\n]+/g, " "));
}

function encode(reply: RedisReply, shape: Resp2Shape, topLevel: boolean, out: Buffer[]): void {
  if (reply === null || reply === undefined) {
    out.push(Buffer.from((topLevel ? shape.nilArray : shape.nestedNilArray) ? `*-1${CRLF}` : `$-1${CRLF}`));
    return;
  }
  if (reply instanceof Error) {
    out.push(resp2Error(reply.message));
    return;
  }
  if (typeof reply === "number") {
    out.push(line(":", Number.isFinite(reply) ? String(Math.trunc(reply)) : "0"));
    return;
  }
  if (typeof reply === "string") {
    // With `stringNumbers`, integer replies arrive as strings of digits; bulk strings as Buffers.
    if (INTEGER.test(reply)) {
      out.push(line(":", reply));
      return;
    }
    encodeString(Buffer.from(reply, "utf8"), topLevel && shape.status, out);
    return;
  }
  if (Buffer.isBuffer(reply)) {
    encodeString(reply, topLevel && shape.status, out);
    return;
  }
  out.push(Buffer.from(`*${reply.length}${CRLF}`));
  for (const item of reply) encode(item, shape, false, out);
}

function encodeString(bytes: Buffer, status: boolean, out: Buffer[]): void {
  if (status && !bytes.includes(13) && !bytes.includes(10)) {
    out.push(Buffer.from("+"), bytes, Buffer.from(CRLF));
    return;
  }
  out.push(Buffer.from(`$${bytes.length}${CRLF}`), bytes, Buffer.from(CRLF));
}

/** The RESP2 bytes of one reply to `args`. */
export function resp2Reply(reply: RedisReply, args: readonly CommandArg[]): Buffer {
  const out: Buffer[] = [];
  encode(reply, resp2Shape(args), true, out);
  return Buffer.concat(out);
}
