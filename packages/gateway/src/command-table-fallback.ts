/**
 * Command facts used when `COMMAND` cannot be read from the server (older engines, restricted
 * users): which commands only read, which write, which are admin/dangerous/blocking. Taken from
 * Redis 7.0's own command table; anything not listed counts as unknown (read-only tokens may not run
 * it; read-write tokens pass it on for the ACL to decide).
 */

/** Commands (and `cmd|sub` subcommands) flagged `readonly`. */
export const FALLBACK_READONLY = `bitcount bitfield_ro bitpos dbsize dump eval_ro evalsha_ro exists expiretime fcall_ro
geodist geohash geopos georadius_ro georadiusbymember_ro geosearch get getbit getrange hexists hget hgetall hkeys hlen
hmget hrandfield hscan hstrlen hvals lcs lindex llen lolwut lpos lrange memory|usage mget object|encoding object|freq
object|idletime object|refcount pexpiretime pfcount pttl randomkey scan scard sdiff sinter sintercard sismember smembers
smismember srandmember sscan strlen substr sunion touch ttl type xinfo|consumers xinfo|groups xinfo|stream xlen xpending
xrange xrevrange zcard zcount zdiff zinter zintercard zlexcount zmscore zrandmember zrange zrangebylex zrangebyscore zrank
zrevrange zrevrangebylex zrevrangebyscore zrevrank zscan zscore zunion xread`;

/** Commands (and subcommands) flagged `write`. */
export const FALLBACK_WRITE = `append bitfield bitop copy decr decrby del expire expireat function|delete function|flush
function|load function|restore geoadd georadius georadiusbymember geosearchstore getdel getex getset hdel hincrby
hincrbyfloat hmset hset hsetnx incr incrby incrbyfloat linsert lmove lmpop lpop lpush lpushx lrem lset ltrim move mset
msetnx persist pexpire pexpireat pfadd pfmerge psetex rename renamenx rpop rpoplpush rpush rpushx sadd sdiffstore set
setbit setex setnx setrange sinterstore smove spop srem sunionstore unlink xack xadd xautoclaim xclaim xdel xgroup|create
xgroup|createconsumer xgroup|delconsumer xgroup|destroy xgroup|setid xsetid xtrim zadd zdiffstore zincrby zinterstore
zmpop zpopmax zpopmin zrangestore zrem zremrangebylex zremrangebyrank zremrangebyscore zunionstore xreadgroup`;

/** Commands in the `@blocking` category (XREAD/XREADGROUP only block with a BLOCK argument). */
export const FALLBACK_BLOCKING = `blmove blmpop blpop brpop brpoplpush bzmpop bzpopmax bzpopmin xread xreadgroup`;

/** Commands in `@admin` or `@dangerous` (containers stand for all their subcommands). */
export const FALLBACK_DANGEROUS = `acl bgrewriteaof bgsave client|kill client|list client|no-evict client|pause
client|unblock client|unpause cluster config debug failover flushall flushdb info keys lastsave latency migrate module
monitor pfdebug pfselftest psync replconf replicaof restore restore-asking role save shutdown slaveof slowlog sort sort_ro
swapdb sync`;

/** Commands with neither flag that clients commonly need; listed so the fallback table knows them. */
export const FALLBACK_OTHER = `ping echo time publish spublish eval evalsha fcall script|load script|exists script|flush
script|kill script|debug multi exec discard watch unwatch select auth hello reset quit subscribe psubscribe ssubscribe
unsubscribe punsubscribe sunsubscribe pubsub|channels pubsub|numsub pubsub|numpat pubsub|shardchannels
pubsub|shardnumsub wait waitaof readonly readwrite asking client|setname client|getname client|id client|info
client|reply client|tracking command|count command|info command|docs command|list`;

/** Splits one of the lists above into names. */
export function fallbackNames(list: string): string[] {
  return list.split(/\s+/).filter((n) => n.length > 0);
}
