/**
 * Several fixed-window limits checked together (e.g. 10/s and 1,000/day of one user): one key per
 * limit, all in one hash slot (the client puts the identifier in a `{hash tag}`), so one FCALL
 * checks them all in one round trip and counts the request in all of them only when every one
 * admits it. A request that any limit rejects leaves every counter as it was.
 *
 * Both functions validate all their arguments before the first write (a script that fails half-way
 * keeps the writes it made) and bound their work: at most 16 keys, a constant number of Redis calls
 * per key.
 */
import { defineServerScript } from "./define.js";

/** The most limits one call may check (the scripts refuse more keys). */
export const MAX_LIMITS_PER_CALL = 16;

/**
 * KEYS: one counter per limit (same slot). ARGV[1] cost; then per key its limit and its window in
 * ms. Returns `{allowed (0|1), count1, ttl1, count2, ttl2, ...}`: per key the count of its window
 * including this request when allowed, without it when rejected, and the ms until its window ends.
 * Steady state per key and allowed request: INCRBY + PTTL (+ PEXPIRE when a window starts);
 * rejected requests are undone (DECRBY, or DEL of a counter this request created).
 */
export const multiLimitScript = defineServerScript(
  "multiLimit",
  `local n = #KEYS
if n < 1 or n > ${MAX_LIMITS_PER_CALL} or #ARGV ~= 1 + 2 * n then
  return redis.error_reply('ERR cacheplane: multiLimit takes 1 to ${MAX_LIMITS_PER_CALL} keys, a cost, and a limit and a window per key')
end
local cost = tonumber(ARGV[1])
if cost == nil or cost < 1 or cost > 2^40 or cost % 1 ~= 0 then
  return redis.error_reply('ERR cacheplane: multiLimit cost must be a positive integer')
end
for i = 1, n do
  local limit = tonumber(ARGV[2 * i])
  local window = tonumber(ARGV[2 * i + 1])
  if limit == nil or limit < 1 or limit > 2^50 or window == nil or window < 1 or window > 2^40 or window % 1 ~= 0 then
    return redis.error_reply('ERR cacheplane: multiLimit limits and windows must be positive integers')
  end
end
local out = {1}
local denied = false
for i = 1, n do
  local window = tonumber(ARGV[2 * i + 1])
  local current = redis.call('INCRBY', KEYS[i], cost)
  local ttl = window
  if current == cost then
    redis.call('PEXPIRE', KEYS[i], window)
  else
    ttl = redis.call('PTTL', KEYS[i])
    if ttl < 0 then
      redis.call('PEXPIRE', KEYS[i], window)
      ttl = window
    end
  end
  if current > tonumber(ARGV[2 * i]) then denied = true end
  out[2 * i] = current
  out[2 * i + 1] = ttl
end
if denied then
  out[1] = 0
  for i = 1, n do
    local current = out[2 * i]
    if current == cost then
      redis.call('DEL', KEYS[i])
      out[2 * i + 1] = tonumber(ARGV[2 * i + 1])
    else
      redis.call('DECRBY', KEYS[i], cost)
    end
    out[2 * i] = current - cost
  end
end
return out`,
);

/**
 * KEYS: counters of `multiLimitScript`. ARGV[1] points to give back. Lowers every existing counter
 * by the points, never below zero (its expiry stays); a counter that does not exist (its window has
 * ended) is left alone. Returns the count of each key afterwards.
 */
export const multiLimitRefundScript = defineServerScript(
  "multiLimitRefund",
  `local n = #KEYS
if n < 1 or n > ${MAX_LIMITS_PER_CALL} or #ARGV ~= 1 then
  return redis.error_reply('ERR cacheplane: multiLimitRefund takes 1 to ${MAX_LIMITS_PER_CALL} keys and the points')
end
local points = tonumber(ARGV[1])
if points == nil or points < 1 or points > 2^40 or points % 1 ~= 0 then
  return redis.error_reply('ERR cacheplane: multiLimitRefund points must be a positive integer')
end
local out = {}
for i = 1, n do
  local current = tonumber(redis.call('GET', KEYS[i]))
  if current == nil then
    out[i] = 0
  else
    local back = math.min(current, points)
    if back > 0 then current = redis.call('DECRBY', KEYS[i], back) end
    out[i] = current
  end
end
return out`,
);
