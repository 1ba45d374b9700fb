import { randomBytes } from "node:crypto";

const ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
// Largest multiple of 62 below 256: bytes at or above it are rejected so every character is equally likely.
const LIMIT = 256 - (256 % ALPHABET.length);

/** A random alphanumeric string (safe in URLs, redis.conf and ACL rules), 40 characters by default. */
export function randomPassword(length = 40): string {
  let out = "";
  while (out.length < length) {
    for (const byte of randomBytes(length * 2)) {
      if (byte >= LIMIT) continue;
      out += ALPHABET[byte % ALPHABET.length];
      if (out.length === length) break;
    }
  }
  return out;
}
