/**
 * Messages of the invalidation bus (`<keyspace>:__cp:bus`). They carry the sender's id and key or
 * tag names, never values. Text: 16 hex characters of sender id, one type character, then:
 * - `k<key>`              one key (the rest of the message, as is)
 * - `m<JSON array>`       several keys
 * - `t<JSON array>`       tags (entries written with any of them are dropped)
 * - `a`                   everything (clear())
 * - `h`                   hello: a process's permission check when it starts its bus; ignored
 */

export type BusMessage =
  | { sender: string; type: "keys"; keys: readonly string[] }
  | { sender: string; type: "tags"; tags: readonly string[] }
  | { sender: string; type: "all" }
  | { sender: string; type: "hello" };

export const SENDER_ID_LENGTH = 16;

export function encodeKeys(sender: string, keys: readonly string[]): string {
  return keys.length === 1 ? `${sender}k${keys[0]}` : `${sender}m${JSON.stringify(keys)}`;
}

export function encodeTags(sender: string, tags: readonly string[]): string {
  return `${sender}t${JSON.stringify(tags)}`;
}

export function encodeAll(sender: string): string {
  return `${sender}a`;
}

export function encodeHello(sender: string): string {
  return `${sender}h`;
}

function stringArray(text: string): string[] | undefined {
  try {
    const parsed: unknown = JSON.parse(text);
    return Array.isArray(parsed) && parsed.every((k) => typeof k === "string") ? parsed : undefined;
  } catch {
    return undefined;
  }
}

/** The message, or `undefined` when it is not one (a process drops everything then, to be safe). */
export function decodeMessage(text: string): BusMessage | undefined {
  if (text.length <= SENDER_ID_LENGTH) return undefined;
  const sender = text.slice(0, SENDER_ID_LENGTH);
  const type = text.charCodeAt(SENDER_ID_LENGTH);
  const rest = text.slice(SENDER_ID_LENGTH + 1);
  switch (type) {
    case 107: // k
      return { sender, type: "keys", keys: [rest] };
    case 109: {
      // m
      const keys = stringArray(rest);
      return keys ? { sender, type: "keys", keys } : undefined;
    }
    case 116: {
      // t
      const tags = stringArray(rest);
      return tags ? { sender, type: "tags", tags } : undefined;
    }
    case 97: // a
      return { sender, type: "all" };
    case 104: // h
      return { sender, type: "hello" };
    default:
      return undefined;
  }
}
