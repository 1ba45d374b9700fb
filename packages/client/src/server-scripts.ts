/**
 * Runs the platform's server scripts (see `@cacheplane/core/server-scripts`). First choice: FCALL of
 * the function library the platform loaded (`cacheplane apply` / `cacheplane dev`), which needs no
 * EVAL permission. When the library is not loaded on the server (or FCALL is not granted) and the
 * service may run scripts itself (`scripting: true`), the same text runs with EVALSHA (EVAL after
 * NOSCRIPT), and that choice is remembered per connection. When neither works the call fails with a
 * {@link CacheConfigError} that says what to do; after such an error the next call tries FCALL again
 * (the platform may have loaded the library meanwhile).
 */
import {
  SCRIPT_LIBRARY_NAME,
  type ServerScript,
  scriptFunctionName,
} from "@cacheplane/core/server-scripts/store";
import type { Cluster, Redis } from "ioredis";
import { CacheConfigError } from "./errors.js";

export type { ServerScript } from "@cacheplane/core/server-scripts/store";

type Arg = string | number | Buffer;
type Client = Redis | Cluster;

/** Connections on which FCALL failed but EVALSHA works. */
const evalClients = new WeakSet<Client>();

function replyMessage(err: unknown): string {
  return err instanceof Error ? err.message : "";
}

/** FCALL could not find the function (library not loaded, or another version) or is not granted. */
function functionUnusable(err: unknown): boolean {
  const message = replyMessage(err);
  return message.startsWith("ERR Function not found") || message.startsWith("NOPERM");
}

function evalScript(client: Client, script: ServerScript, keys: string[], args: Arg[]): Promise<unknown> {
  return client.evalsha(script.sha, keys.length, ...keys, ...args).catch((err: unknown) => {
    if (replyMessage(err).startsWith("NOSCRIPT"))
      return client.eval(script.lua, keys.length, ...keys, ...args);
    throw err;
  });
}

function unavailable(script: ServerScript, cause: unknown): CacheConfigError {
  return new CacheConfigError(
    `Server script "${script.name}" cannot run: the platform's script library ${SCRIPT_LIBRARY_NAME} is not ` +
      "loaded on this server (run `cacheplane apply`, which loads it on every node) and this service " +
      "may not run scripts of its own (that needs `scripting: true` in its config).",
    ["scripting"],
    { cause },
  );
}

/** One round trip in the normal case (FCALL, or EVALSHA once the connection is known to need it). */
export function runServerScript(
  client: Client,
  script: ServerScript,
  keys: string[],
  args: Arg[],
): Promise<unknown> {
  if (evalClients.has(client)) {
    return evalScript(client, script, keys, args).catch((err: unknown) => {
      if (!replyMessage(err).startsWith("NOPERM")) throw err;
      evalClients.delete(client);
      throw unavailable(script, err);
    });
  }
  const name = scriptFunctionName(script);
  return client.fcall(name, keys.length, ...keys, ...args).catch((err: unknown) => {
    if (!functionUnusable(err)) throw err;
    return evalScript(client, script, keys, args).then(
      (value) => {
        evalClients.add(client);
        return value;
      },
      (evalErr: unknown) => {
        throw replyMessage(evalErr).startsWith("NOPERM") ? unavailable(script, err) : evalErr;
      },
    );
  });
}
