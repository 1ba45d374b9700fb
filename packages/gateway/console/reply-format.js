// Renders replies the way redis-cli prints them on a terminal:
//   (nil) · (integer) 1 · "string" with \xHH escapes · OK (status) · (error) ... ·
//   numbered lists "1) ..." with nested lists indented · (empty array).
// A reply is: null | number | string (text) | Uint8Array (bytes) | Array | { error: string }.

const STATUS_REPLIES = new Set(["OK", "PONG", "QUEUED"]);
const REPR_ESCAPES = { 92: "\\\\", 34: '\\"', 10: "\\n", 13: "\\r", 9: "\\t", 7: "\\a", 8: "\\b" };

/** Bytes of a base64 string. */
export function base64ToBytes(text) {
  const binary = atob(text);
  const bytes = new Uint8Array(binary.length);
  for (let i = 0; i < binary.length; i++) bytes[i] = binary.charCodeAt(i);
  return bytes;
}

/**
 * Undoes `Upstash-Encoding: base64`: every string is base64 except a top-level "OK".
 * Strings become Uint8Array; numbers, null and errors stay as they are.
 */
export function decodeBase64Reply(value, topLevel = true) {
  if (typeof value === "string") {
    if (topLevel && value === "OK") return new TextEncoder().encode("OK");
    try {
      return base64ToBytes(value);
    } catch {
      return new TextEncoder().encode(value);
    }
  }
  if (Array.isArray(value)) return value.map((v) => decodeBase64Reply(v, false));
  return value;
}

function bytesOf(value) {
  return typeof value === "string" ? new TextEncoder().encode(value) : value;
}

/** `"..."` with redis-cli's escapes (sdscatrepr): printable ASCII as is, other bytes as \xHH. */
export function quoteBytes(value) {
  let out = '"';
  for (const b of bytesOf(value)) {
    if (REPR_ESCAPES[b] !== undefined) out += REPR_ESCAPES[b];
    else if (b >= 32 && b <= 126) out += String.fromCharCode(b);
    else out += `\\x${b.toString(16).padStart(2, "0")}`;
  }
  return `${out}"`;
}

function isStatus(value, command) {
  const text = new TextDecoder().decode(bytesOf(value));
  if (STATUS_REPLIES.has(text)) return true;
  return command === "type" && /^[a-z]+$/.test(text);
}

/**
 * The lines of a reply, each `{ text, error }`.
 * @param {unknown} reply
 * @param {string} [command] lowercase command name, for status replies such as TYPE's
 * @returns {{ text: string, error: boolean }[]}
 */
export function formatReply(reply, command = "") {
  if (reply === null || reply === undefined) return [{ text: "(nil)", error: false }];
  if (typeof reply === "number") return [{ text: `(integer) ${reply}`, error: false }];
  if (typeof reply === "string" || reply instanceof Uint8Array) {
    const text = isStatus(reply, command) ? new TextDecoder().decode(bytesOf(reply)) : quoteBytes(reply);
    return [{ text, error: false }];
  }
  if (Array.isArray(reply)) {
    if (reply.length === 0) return [{ text: "(empty array)", error: false }];
    const width = String(reply.length).length;
    const lines = [];
    reply.forEach((item, index) => {
      const prefix = `${String(index + 1).padStart(width, " ")}) `;
      const indent = " ".repeat(prefix.length);
      formatReply(item, command).forEach((line, j) => {
        lines.push({ text: `${j === 0 ? prefix : indent}${line.text}`, error: line.error });
      });
    });
    return lines;
  }
  if (typeof reply === "object" && typeof reply.error === "string") {
    return [{ text: `(error) ${reply.error}`, error: true }];
  }
  return [{ text: String(reply), error: false }];
}
