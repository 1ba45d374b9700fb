/**
 * Turns Redis replies (as ioredis returns them with Buffer replies and string numbers) into Upstash's
 * JSON: bulk and status strings as JSON strings (UTF-8, invalid bytes become U+FFFD) or, with
 * `Upstash-Encoding: base64`, as base64 — every string, recursively, except a top-level `"OK"`, as
 * Upstash does; integers as JSON numbers with their exact digits; nil as `null`; arrays as arrays.
 */

/** A reply as the gateway's Redis connection returns it. */
export type RedisReply = Buffer | string | number | null | undefined | Error | RedisReply[];

/** How strings are written: UTF-8 text or base64 of the raw bytes. */
export type ResponseEncoding = "utf8" | "base64";

const INTEGER = /^-?\d+$/;
const OK = Buffer.from("OK");

function stringJson(bytes: Buffer, encoding: ResponseEncoding, topLevel: boolean): string {
  if (encoding === "base64") {
    if (topLevel && bytes.equals(OK)) return '"OK"';
    return JSON.stringify(bytes.toString("base64"));
  }
  return JSON.stringify(bytes.toString("utf8"));
}

/** The JSON text of a reply (the value of `result`). */
export function replyToJson(reply: RedisReply, encoding: ResponseEncoding, topLevel = true): string {
  if (reply === null || reply === undefined) return "null";
  if (Buffer.isBuffer(reply)) return stringJson(reply, encoding, topLevel);
  if (typeof reply === "number") return Number.isFinite(reply) ? String(reply) : "null";
  if (typeof reply === "string") {
    // With `stringNumbers`, integer replies arrive as strings of digits.
    return INTEGER.test(reply) ? reply : stringJson(Buffer.from(reply, "utf8"), encoding, topLevel);
  }
  if (reply instanceof Error) return stringJson(Buffer.from(reply.message, "utf8"), encoding, false);
  return `[${reply.map((item) => replyToJson(item, encoding, false)).join(",")}]`;
}

/** `{"result": ...}` for a successful command. */
export function resultJson(reply: RedisReply, encoding: ResponseEncoding): string {
  return `{"result":${replyToJson(reply, encoding)}}`;
}

/** `{"error": "..."}`. Error messages are never base64-encoded (Upstash clients read them as text). */
export function errorJson(message: string): string {
  return JSON.stringify({ error: message });
}

/** Plain JS value of a reply (UTF-8 strings, numbers; big integers as strings), for adapters like AppSync. */
export function replyToValue(reply: RedisReply): unknown {
  if (reply === null || reply === undefined) return null;
  if (Buffer.isBuffer(reply)) return reply.toString("utf8");
  if (typeof reply === "string") {
    if (!INTEGER.test(reply)) return reply;
    const n = Number(reply);
    return Number.isSafeInteger(n) ? n : reply;
  }
  if (typeof reply === "number") return reply;
  if (reply instanceof Error) return reply.message;
  return reply.map(replyToValue);
}
