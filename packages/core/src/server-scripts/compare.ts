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

/**
 * KEYS[1] key; ARGV[1] expected value, ARGV[2] new value, ARGV[3] ttl in ms. Replaces the value (and
 * its ttl) only when it currently equals the expected value: 1 when replaced, else 0. Used for
 * conflict-checked updates (sessions). The work is one comparison of two strings Redis already holds.
 */
export const compareAndSetScript = defineServerScript(
  "compareAndSet",
  `local ttl = tonumber(ARGV[3])
if ttl == nil or ttl < 1 or ttl > 2^40 then
  return redis.error_reply('ERR cacheplane: compareAndSet needs a positive ttl in ms')
end
if redis.call('GET', KEYS[1]) == ARGV[1] then
  redis.call('SET', KEYS[1], ARGV[2], 'PX', math.floor(ttl))
  return 1
end
return 0`,
);
