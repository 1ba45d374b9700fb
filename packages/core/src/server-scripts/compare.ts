/** Compare-and-act scripts for locks: only the holder of a lock's token may release or extend it. */
import { defineServerScript } from "./define.js";

/** KEYS[1] lock key; ARGV[1] token. 1 when the key held the token and was deleted, else 0. */
export const compareAndDeleteScript = defineServerScript(
  "compareAndDelete",
  `if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0`,
);

/** KEYS[1] lock key; ARGV[1] token, ARGV[2] new ttl in ms. 1 when extended, else 0. */
export const compareAndExpireScript = defineServerScript(
  "compareAndExpire",
  `if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('PEXPIRE', KEYS[1], ARGV[2]) end
return 0`,
);
