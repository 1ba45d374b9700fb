/**
 * Atomic rate limit algorithms as Lua (one key each, so they work in cluster mode). Each returns
 * `{allowed (0|1), remaining, resetMs, retryAfterMs}`. Denied requests are not counted.
 * ARGV: limit, windowMs, cost[, nowMs[, unique id]]. The time comes from the caller because service
 * users are not granted TIME (scripts run under the caller's ACL); Lambda clocks are NTP-synced and
 * a caller whose clock lags simply gets no refill until it catches up.
 */
import { luaScript } from "../lua-scripts.js";

/** Counter per window that starts with the first request (INCRBY + PEXPIRE). */
export const fixedWindowScript = luaScript(
  "fixedWindow",
  `local limit = tonumber(ARGV[1])
local window = tonumber(ARGV[2])
local cost = tonumber(ARGV[3])
local current = tonumber(redis.call('GET', KEYS[1]) or '0')
local ttl = redis.call('PTTL', KEYS[1])
if current + cost > limit then
  if ttl < 0 then ttl = window end
  return {0, math.max(0, limit - current), ttl, ttl}
end
current = redis.call('INCRBY', KEYS[1], cost)
if ttl < 0 then
  redis.call('PEXPIRE', KEYS[1], window)
  ttl = window
end
return {1, limit - current, ttl, 0}`,
);

/** Exact sliding log: a sorted set of the allowed requests of the last window (at most `limit` entries). */
export const slidingWindowScript = luaScript(
  "slidingWindow",
  `local limit = tonumber(ARGV[1])
local window = tonumber(ARGV[2])
local cost = tonumber(ARGV[3])
local now = tonumber(ARGV[4])
local id = ARGV[5]
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
for i = 1, cost do
  redis.call('ZADD', KEYS[1], now, id .. ':' .. i)
end
redis.call('PEXPIRE', KEYS[1], window)
local first = redis.call('ZRANGE', KEYS[1], 0, 0, 'WITHSCORES')
return {1, limit - count - cost, tonumber(first[2]) + window - now, 0}`,
);

/** Bucket of `limit` tokens refilled continuously at `limit / window`. */
export const tokenBucketScript = luaScript(
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
