/** A reply as the console renders it. */
export type ConsoleReply =
  | null
  | undefined
  | number
  | string
  | Uint8Array
  | ConsoleReply[]
  | { error: string };
/** Bytes of a base64 string. */
export function base64ToBytes(text: string): Uint8Array;
/** Undoes `Upstash-Encoding: base64` (every string except a top-level "OK"). */
export function decodeBase64Reply(value: unknown, topLevel?: boolean): ConsoleReply;
/** `"..."` with redis-cli's escapes. */
export function quoteBytes(value: string | Uint8Array): string;
/** The lines redis-cli would print for `reply`. */
export function formatReply(reply: ConsoleReply, command?: string): { text: string; error: boolean }[];
