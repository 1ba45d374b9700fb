/**
 * Lua scripts run with EVALSHA, falling back to EVAL (which also loads the script) on NOSCRIPT,
 * so a script flush or a failover to a fresh node is harmless. Every script touches one key.
 */
import { createHash } from "node:crypto";
import type { Cluster, Redis } from "ioredis";

export interface LuaScript {
  readonly name: string;
  readonly lua: string;
  readonly sha: string;
}

export function luaScript(name: string, lua: string): LuaScript {
  return { name, lua, sha: createHash("sha1").update(lua).digest("hex") };
}

type Arg = string | number | Buffer;

/** One EVALSHA round trip; a second one (EVAL) only after NOSCRIPT. */
export function evalScript(
  client: Redis | Cluster,
  script: LuaScript,
  keys: string[],
  args: Arg[],
): Promise<unknown> {
  return client.evalsha(script.sha, keys.length, ...keys, ...args).catch((err: unknown) => {
    if (err instanceof Error && err.message.startsWith("NOSCRIPT")) {
      return client.eval(script.lua, keys.length, ...keys, ...args);
    }
    throw err;
  });
}

export const compareAndDeleteScript = luaScript(
  "compareAndDelete",
  `if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0`,
);

export const compareAndExpireScript = luaScript(
  "compareAndExpire",
  `if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('PEXPIRE', KEYS[1], ARGV[2]) end
return 0`,
);
