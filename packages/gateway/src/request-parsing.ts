/**
 * The Upstash REST request shapes: routes, JSON command bodies (`["SET", "k", "v"]`, pipelines as
 * arrays of those) and path-style commands (`/set/k/v`, with a POST body appended as the last
 * argument and query parameters after it). Path segments are percent-decoded to raw bytes, so any
 * binary value can be sent.
 */
import type { CommandArg } from "./command-policy.js";
import { badRequest, tooLarge } from "./errors.js";

/** What a request asks for. */
export type Route =
  | { type: "command" }
  | { type: "pipeline" }
  | { type: "multi-exec" }
  | { type: "subscribe"; kind: "channel" | "pattern"; names: string[] }
  | { type: "console"; file: string }
  | { type: "operator"; file: string }
  | { type: "path-command"; segments: string[] };

/** Query parameters the gateway consumes itself (never passed on as arguments). */
export const RESERVED_QUERY_PARAMS: ReadonlySet<string> = new Set(["_token"]);

/** Routes a path (already stripped of any base path, starting with `/`). */
export function routeOf(pathname: string): Route {
  if (pathname === "/" || pathname === "") return { type: "command" };
  if (pathname === "/pipeline") return { type: "pipeline" };
  if (pathname === "/multi-exec") return { type: "multi-exec" };
  if (pathname === "/console" || pathname.startsWith("/console/")) {
    return { type: "console", file: pathname.slice("/console".length).replace(/^\//, "") };
  }
  if (pathname === "/operator" || pathname.startsWith("/operator/")) {
    return { type: "operator", file: pathname.slice("/operator".length).replace(/^\//, "") };
  }
  const segments = pathname.slice(1).split("/");
  const head = segments[0];
  if ((head === "subscribe" || head === "psubscribe") && segments.length > 1) {
    const names = segments.slice(1).map((s) => decodePathSegment(s).toString("utf8"));
    return { type: "subscribe", kind: head === "subscribe" ? "channel" : "pattern", names };
  }
  return { type: "path-command", segments };
}

function hexValue(code: number): number {
  if (code >= 48 && code <= 57) return code - 48;
  if (code >= 65 && code <= 70) return code - 55;
  if (code >= 97 && code <= 102) return code - 87;
  return -1;
}

/** Percent-decodes one path segment to bytes (`%FF` becomes byte 0xFF; a lone `%` stays as it is). */
export function decodePathSegment(segment: string): Buffer {
  if (!segment.includes("%")) return Buffer.from(segment, "utf8");
  const bytes: number[] = [];
  const raw = Buffer.from(segment, "utf8");
  for (let i = 0; i < raw.length; i++) {
    const byte = raw[i]!;
    if (byte === 0x25 && i + 2 < raw.length) {
      const hi = hexValue(raw[i + 1]!);
      const lo = hexValue(raw[i + 2]!);
      if (hi >= 0 && lo >= 0) {
        bytes.push(hi * 16 + lo);
        i += 2;
        continue;
      }
    }
    bytes.push(byte);
  }
  return Buffer.from(bytes);
}

/**
 * One path segment as a command argument: raw bytes when it has percent-escapes, else the segment
 * itself. Segments come from a WHATWG URL's pathname, which percent-encodes everything outside
 * printable ASCII, so a segment without `%` is ASCII and the string is exactly its bytes.
 */
function pathArg(segment: string): CommandArg {
  return segment.includes("%") ? decodePathSegment(segment) : segment;
}

/**
 * A path-style command: segments, then the body (when not empty) as one argument, then each query
 * parameter as `name` and, when it has one, `value` (`/set/k?EX=100` with body `v` is `SET k v EX 100`).
 */
export function pathCommand(
  segments: readonly string[],
  body: Buffer | undefined,
  query: URLSearchParams | undefined,
): CommandArg[] {
  const args: CommandArg[] = segments.map(pathArg);
  const name = args[0];
  if (name === undefined || name.length === 0) throw badRequest("no command in the path");
  if (typeof name !== "string") args[0] = name.toString("utf8");
  if (body && body.length > 0) args.push(body);
  if (query === undefined) return args;
  for (const [name, value] of query) {
    if (RESERVED_QUERY_PARAMS.has(name)) continue;
    args.push(name);
    if (value !== "") args.push(value);
  }
  return args;
}

function describe(value: unknown): string {
  if (value === null) return "null";
  if (Array.isArray(value)) return "array";
  return typeof value;
}

/**
 * One argument from JSON: strings as they are, finite numbers in their shortest form, booleans as
 * `true`/`false` (what `@upstash/redis` sends for boolean values). Anything else is a 400, whose
 * message names `where` and the index (built only then).
 */
function toArg(value: unknown, where: string, index: number): string {
  if (typeof value === "string") return value;
  if (typeof value === "number") {
    if (!Number.isFinite(value)) throw badRequest(`${where}[${index}]: numbers must be finite`);
    return Object.is(value, -0) ? "0" : String(value);
  }
  if (typeof value === "boolean") return value ? "true" : "false";
  throw badRequest(`${where}[${index}]: arguments must be strings or numbers, got ${describe(value)}`);
}

/** How messages name a command: 0 is the single command of `POST /`, else the n-th of a batch. */
function commandLabel(commandNumber: number): string {
  return commandNumber === 0 ? "command" : `command ${commandNumber}`;
}

function toCommand(value: unknown, commandNumber: number): CommandArg[] {
  if (!Array.isArray(value)) {
    throw badRequest(
      `${commandLabel(commandNumber)} must be a JSON array such as ["SET", "key", "value"], got ${describe(value)}`,
    );
  }
  if (value.length === 0)
    throw badRequest(`${commandLabel(commandNumber)} is empty; the first element is the command name`);
  if (typeof value[0] !== "string")
    throw badRequest(`${commandLabel(commandNumber)}: the first element must be the command name`);
  const args: CommandArg[] = new Array(value.length);
  for (let i = 0; i < value.length; i++) {
    const v: unknown = value[i];
    args[i] = typeof v === "string" ? v : toArg(v, commandLabel(commandNumber), i);
  }
  return args;
}

function parseJson(body: Buffer): unknown {
  if (body.length === 0) throw badRequest('empty body; send a JSON array such as ["GET", "key"]');
  try {
    return JSON.parse(body.toString("utf8"));
  } catch {
    throw badRequest("body is not valid JSON");
  }
}

/** The command of a `POST /` body: a JSON array of strings and numbers. */
export function parseJsonCommand(body: Buffer): CommandArg[] {
  return toCommand(parseJson(body), 0);
}

/** The commands of a `/pipeline` or `/multi-exec` body: a JSON array of command arrays. */
export function parseJsonCommands(body: Buffer, maxCommands: number): CommandArg[][] {
  const value = parseJson(body);
  if (!Array.isArray(value)) {
    throw badRequest(
      `body must be a JSON array of commands such as [["SET", "k", "v"], ["GET", "k"]], got ${describe(value)}`,
    );
  }
  if (value.length === 0) throw badRequest("no commands: the array is empty");
  if (value.length > maxCommands) {
    throw tooLarge(`too many commands: ${value.length} (limit ${maxCommands} per request)`);
  }
  return value.map((command, i) => toCommand(command, i + 1));
}
