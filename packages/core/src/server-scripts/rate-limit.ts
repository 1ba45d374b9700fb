/**
 * Atomic rate limit algorithms as Lua (one key each, so they work in cluster mode). Each returns
 * `{allowed (0|1), remaining, resetMs, retryAfterMs}`. Denied requests are not counted.
 * ARGV: limit, windowMs, cost[, nowMs[, unique id]]. The time comes from the caller because service
 * users are not granted TIME (scripts run under the caller's ACL); Lambda clocks are NTP-synced and
 * a caller whose clock lags simply gets no refill until it catches up.
 *
 * Redis calls per allowed request (steady state): fixed window 2 (INCRBY, PTTL), sliding window
 * counter 2 (HMGET, HINCRBY), token bucket 3 (HMGET, HSET, PEXPIRE), exact sliding log 5
 * (ZREMRANGEBYSCORE, ZCARD, ZRANGE, ZADD, PEXPIRE). The in-process versions for the memory store
 * (rate-limiter.ts) compute the same answers with the same arithmetic.
 */
import { defineServerScript } from "./define.js";

/**
 * Counter per window that starts with the first request. Counted first (INCRBY), undone when that
 * goes over the limit, so an allowed request costs INCRBY + PTTL (+ PEXPIRE for a new window).
 */
export const fixedWindowScript = defineServerScript(
  "fixedWindow",
  `local limit = tonumber(ARGV[1])
local window = tonumber(ARGV[2])
local cost = tonumber(ARGV[3])
local current = redis.call('INCRBY', KEYS[1], cost)
if current > limit then
  if current == cost then
    redis.call('DEL', KEYS[1])
    return {0, limit, window, window}
  end
  redis.call('DECRBY', KEYS[1], cost)
  local ttl = redis.call('PTTL', KEYS[1])
  if ttl < 0 then ttl = window end
  return {0, math.max(0, limit - current + cost), ttl, ttl}
end
local ttl = window
if current == cost then
  redis.call('PEXPIRE', KEYS[1], window)
else
  ttl = redis.call('PTTL', KEYS[1])
  if ttl < 0 then
    redis.call('PEXPIRE', KEYS[1], window)
    ttl = window
  end
end
return {1, limit - current, ttl, 0}`,
);

/**
 * Exact sliding log: a sorted set of the allowed requests of the last window (at most `limit`
 * entries). Exact, but it stores one entry per allowed request and costs five Redis calls. A cost
 * above 1,000 is refused, so no call (however a tenant spells its arguments) loops unboundedly.
 */
export const slidingWindowScript = defineServerScript(
  "slidingWindow",
  `local limit = tonumber(ARGV[1])
local window = tonumber(ARGV[2])
local cost = tonumber(ARGV[3])
local now = tonumber(ARGV[4])
local id = ARGV[5]
if cost > 1000 then return redis.error_reply('ERR cacheplane: sliding-window cost above 1000') end
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now - window)
local count = redis.call('ZCARD', KEYS[1])
if count + cost > limit then
  local retry = window
  if cost <= limit then
    local need = count + cost - limit
    local e = redis.call('ZRANGE', KEYS[1], need - 1, need - 1, 'WITHSCORES')
    if e[2] then retry = tonumber(e[2]) + window - now end
  end
  local reset = window
  local first = redis.call('ZRANGE', KEYS[1], 0, 0, 'WITHSCORES')
  if first[2] then reset = tonumber(first[2]) + window - now end
  return {0, math.max(0, limit - count), reset, math.max(1, retry)}
end
local oldest = now
if count > 0 then
  local first = redis.call('ZRANGE', KEYS[1], 0, 0, 'WITHSCORES')
  oldest = math.min(now, tonumber(first[2]))
end
if cost == 1 then
  redis.call('ZADD', KEYS[1], now, id)
else
  for i = 1, cost do
    redis.call('ZADD', KEYS[1], now, id .. ':' .. i)
  end
end
redis.call('PEXPIRE', KEYS[1], window)
return {1, limit - count - cost, oldest + window - now, 0}`,
);

/**
 * Sliding window counter (approximation): counts of the current and the previous fixed window,
 * the previous one weighted by how much of it still lies in the sliding window
 * (`prev * (window - elapsed) / window + current`). Constant memory (one small hash) and two Redis
 * calls; it assumes the previous window's requests were spread evenly, so it can admit a little
 * more or less than the exact log around window edges, and never more than `limit` within one
 * fixed window. Hash fields: w (window start, ms), c (current count), p (previous count).
 */
export const slidingWindowCounterScript = defineServerScript(
  "slidingWindowCounter",
  `local limit = tonumber(ARGV[1])
local window = tonumber(ARGV[2])
local cost = tonumber(ARGV[3])
local now = tonumber(ARGV[4])
local start = now - now % window
local data = redis.call('HMGET', KEYS[1], 'w', 'c', 'p')
local w = tonumber(data[1])
local cur = 0
local prev = 0
if w ~= nil and w >= start then
  start = w
  cur = tonumber(data[2]) or 0
  prev = tonumber(data[3]) or 0
elseif w ~= nil and w == start - window then
  prev = tonumber(data[2]) or 0
end
local elapsed = math.max(0, now - start)
local used = prev * (window - elapsed) / window + cur
if used + cost > limit then
  local retry = window
  if cost > limit then
    retry = window
  elseif cur + cost <= limit then
    retry = start + window - (limit - cur - cost) * window / prev - now
  else
    retry = start + 2 * window - (limit - cost) * window / cur - now
  end
  local reset = 0
  if cur > 0 then
    reset = start + 2 * window - now
  elseif prev > 0 then
    reset = start + window - now
  end
  return {0, math.max(0, math.floor(limit - used)), reset, math.max(1, math.ceil(retry))}
end
if w == start then
  redis.call('HINCRBY', KEYS[1], 'c', cost)
else
  redis.call('HSET', KEYS[1], 'w', start, 'c', cur + cost, 'p', prev)
  redis.call('PEXPIRE', KEYS[1], start + 2 * window - now)
end
return {1, math.floor(limit - used - cost), start + 2 * window - now, 0}`,
);

/** Bucket of `limit` tokens refilled continuously at `limit / window`. */
export const tokenBucketScript = defineServerScript(
  "tokenBucket",
  `local capacity = tonumber(ARGV[1])
local window = tonumber(ARGV[2])
local cost = tonumber(ARGV[3])
local rate = capacity / window
local now = tonumber(ARGV[4])
local data = redis.call('HMGET', KEYS[1], 'tokens', 'ts')
local tokens = tonumber(data[1])
local ts = tonumber(data[2])
if tokens == nil or ts == nil then
  tokens = capacity
  ts = now
end
if now > ts then
  tokens = math.min(capacity, tokens + (now - ts) * rate)
  ts = now
end
local allowed = 0
local retry = 0
if tokens >= cost then
  tokens = tokens - cost
  allowed = 1
else
  retry = math.ceil((cost - tokens) / rate)
end
redis.call('HSET', KEYS[1], 'tokens', tostring(tokens), 'ts', tostring(ts))
local full = math.ceil((capacity - tokens) / rate)
redis.call('PEXPIRE', KEYS[1], math.max(full, 1000))
return {allowed, math.floor(tokens), full, retry}`,
);
