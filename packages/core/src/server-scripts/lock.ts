/**
 * Lock acquisition with a fencing token. A lock is two keys in one hash slot (the client writes them
 * as `<name>` and `<name>:fence` with `<name>` ending in a `{hash tag}`): the lock itself (the
 * holder's token, expiring after the lock's ttl) and a fence counter that outlives the lock, so every
 * successful acquisition returns a number greater than every one returned before.
 *
 * The counter is `max(previous + 1, nowMs)`: strictly increasing while the counter key exists (it is
 * kept for `fenceTtlMs`, refreshed at every acquisition), and still increasing after a long idle
 * period in which it expired, because it then restarts from the caller's clock, which has moved on
 * by far more than any clock skew between callers.
 */
import { defineServerScript } from "./define.js";

/**
 * KEYS[1] lock, KEYS[2] fence counter (same slot); ARGV[1] token, ARGV[2] lock ttl ms, ARGV[3]
 * caller's clock in ms, ARGV[4] fence counter ttl ms. Returns the new fence (>= 1) when acquired,
 * 0 when the lock is held. O(1) whatever the arguments; malformed numbers are refused.
 */
export const lockAcquireScript = defineServerScript(
  "lockAcquire",
  `local ttl = tonumber(ARGV[2])
local now = tonumber(ARGV[3])
local keep = tonumber(ARGV[4])
if ttl == nil or ttl < 1 or ttl > 2^40 or now == nil or now < 0 or now > 2^50 or keep == nil or keep < 1 or keep > 2^40 then
  return redis.error_reply('ERR cacheplane: lockAcquire needs ttl, now and fence ttl as positive integers')
end
if redis.call('EXISTS', KEYS[1]) == 1 then return 0 end
local fence = math.floor(now)
local previous = tonumber(redis.call('GET', KEYS[2]))
if previous ~= nil and previous + 1 > fence then fence = previous + 1 end
if fence < 1 then fence = 1 end
redis.call('SET', KEYS[2], string.format('%.0f', fence), 'PX', math.floor(keep))
redis.call('SET', KEYS[1], ARGV[1], 'PX', math.floor(ttl))
return fence`,
);
