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
 *
 * A negative cost is a refund of `-cost` points: every existing counter is lowered, never below
 * zero (its expiry stays; a counter whose window has ended is left alone); the reply is
 * `{1, count1, 0, count2, 0, ...}`. Refunds are this function rather than a second one because
 * every script's text is in the client's bundle (the library version hashes it), which is also
 * why the text is terse.
 */
export const multiLimitScript = defineServerScript(
  "multiLimit",
  `local n,c=#KEYS,tonumber(ARGV[1])
local b=n>${MAX_LIMITS_PER_CALL} or #ARGV~=1+2*n or c==nil or c>2^40 or c<-2^40 or c%1~=0
for i=1,n do local l,w=tonumber(ARGV[2*i]),tonumber(ARGV[2*i+1])
if b or l==nil or l<1 or l>2^50 or w==nil or w<1 or w>2^40 or w%1~=0 then return redis.error_reply('ERR cacheplane: multiLimit arguments') end end
local o={1}
for i=1,n do local k,w=KEYS[i],tonumber(ARGV[2*i+1])
if c<0 then
local v=tonumber(redis.call('GET',k)) or 0
if v>0 then v=redis.call('DECRBY',k,math.min(v,-c)) end
o[2*i]=v o[2*i+1]=0
else
local v=redis.call('INCRBY',k,c) local t=w
if v==c then redis.call('PEXPIRE',k,w) else t=redis.call('PTTL',k) if t<0 then redis.call('PEXPIRE',k,w) t=w end end
if v>tonumber(ARGV[2*i]) then o[1]=0 end
o[2*i]=v o[2*i+1]=t end end
if o[1]==0 then for i=1,n do local k=KEYS[i]
if o[2*i]==c then redis.call('DEL',k) else redis.call('DECRBY',k,c) end
o[2*i]=o[2*i]-c end end
return o`,
);
