/** Generated service passwords. */
import { randomBytes } from "node:crypto";
import { PASSWORD_ALPHABET, PASSWORD_LENGTH } from "@cacheplane/core";

/**
 * A new random password: {@link PASSWORD_LENGTH} characters drawn uniformly from core's
 * {@link PASSWORD_ALPHABET} with `crypto.randomBytes` and rejection sampling (bytes that would bias
 * the modulo are thrown away), so every character carries log2(alphabet size) bits.
 */
export function generatePassword(length: number = PASSWORD_LENGTH): string {
  if (!Number.isInteger(length) || length < 1)
    throw new RangeError("password length must be a positive integer");
  const size = PASSWORD_ALPHABET.length;
  const limit = 256 - (256 % size);
  let out = "";
  while (out.length < length) {
    for (const byte of randomBytes(Math.max(16, (length - out.length) * 2))) {
      if (byte >= limit) continue;
      out += PASSWORD_ALPHABET[byte % size];
      if (out.length === length) break;
    }
  }
  return out;
}
