/**
 * Running the commands of a namespaced token (see namespace.ts): the policy checks the command as
 * the client sent it, the namespace prefixes its keys and channels, the service's own connection runs
 * it (its ACL is the final guard), and the namespace removes the prefix from the reply. KEYS, SCAN,
 * DBSIZE, FLUSHDB and FLUSHALL are answered for the keyspace (keyspace-enumeration.ts); in a
 * pipeline they run in their place in the order, in a transaction they are refused (they cannot be
 * part of MULTI/EXEC).
 */
import { type CommandArg, checkCommand, type PolicyContext } from "./command-policy.js";
import { forbidden, GatewayError } from "./errors.js";
import { KEYSPACE_COMMANDS, KEYSPACE_WRITES, type KeyspaceEnumerator } from "./keyspace-enumeration.js";
import type { Namespace } from "./namespace.js";
import type { CommandOutcome, ServiceConnection } from "./redis-connection.js";
import { toGatewayError } from "./redis-errors.js";
import type { RedisReply } from "./reply-encoding.js";
import type { ScriptCompat } from "./script-compat.js";

/** What running a namespaced command needs. */
export interface NamespacedContext {
  policy: PolicyContext;
  namespace: Namespace;
  connection: ServiceConnection;
  scripts: ScriptCompat;
  /** The scanner identity's enumeration, when the gateway has one. */
  enumerator: KeyspaceEnumerator | undefined;
  deadline: number;
  timeoutMs: number;
}

function lowerName(args: readonly CommandArg[]): string {
  const first = args[0];
  return (typeof first === "string" ? first : (first?.toString("latin1") ?? "")).toLowerCase();
}

/** True for KEYS, SCAN, DBSIZE, FLUSHDB, FLUSHALL: answered by the gateway for the keyspace. */
export function isKeyspaceCommand(args: readonly CommandArg[]): boolean {
  return KEYSPACE_COMMANDS.has(lowerName(args));
}

/** The refusal of a keyspace command for this token, if any. */
function keyspaceCommandProblem(name: string, ctx: NamespacedContext): GatewayError | undefined {
  if (KEYSPACE_WRITES.has(name) && ctx.policy.kind === "read-only") {
    return forbidden(`'${name}' is not a read command and this token is read-only`);
  }
  if (!ctx.enumerator) {
    return forbidden(
      `'${name}' needs the platform's scanner identity, which this gateway has not loaded: run cacheplane apply (it provisions it) and restart the gateway`,
    );
  }
  return undefined;
}

/** Runs a keyspace command; errors become GatewayErrors. */
async function runKeyspaceCommand(args: readonly CommandArg[], ctx: NamespacedContext): Promise<RedisReply> {
  const problem = keyspaceCommandProblem(lowerName(args), ctx);
  if (problem) throw problem;
  try {
    return await ctx.enumerator!.run(ctx.namespace, args, ctx.connection, ctx.deadline);
  } catch (error) {
    throw error instanceof GatewayError ? error : toGatewayError(error, ctx.timeoutMs);
  }
}

/** The command ready for Redis (policy checked, names prefixed, scripts adapted), or why not. */
export function prepareNamespaced(
  args: readonly CommandArg[],
  ctx: NamespacedContext,
): readonly CommandArg[] | GatewayError {
  const denied = checkCommand(args, ctx.policy);
  if (denied) return denied;
  const rewritten = ctx.namespace.rewrite(args, ctx.policy.table);
  if (rewritten instanceof GatewayError) return rewritten;
  return ctx.scripts.adapt(rewritten);
}

/** One command of a namespaced token: its reply, names without the prefix. Throws GatewayErrors. */
export async function runNamespaced(
  args: readonly CommandArg[],
  ctx: NamespacedContext,
  callFailed: (error: unknown) => never,
): Promise<RedisReply> {
  if (isKeyspaceCommand(args)) return runKeyspaceCommand(args, ctx);
  const prepared = prepareNamespaced(args, ctx);
  if (prepared instanceof GatewayError) throw prepared;
  const reply = await ctx.connection.call(prepared, ctx.deadline).catch(callFailed);
  return ctx.namespace.reply(args, reply);
}

/**
 * A pipeline of a namespaced token: commands in order; a denied one gets its own error; keyspace
 * commands run where they stand (the commands before them have run by then).
 */
export async function pipelineNamespaced(
  commands: readonly (readonly CommandArg[])[],
  ctx: NamespacedContext,
): Promise<(CommandOutcome | GatewayError)[]> {
  const results: (CommandOutcome | GatewayError)[] = new Array(commands.length);
  let batch: { index: number; args: readonly CommandArg[]; prepared: readonly CommandArg[] }[] = [];
  const flush = async () => {
    if (batch.length === 0) return;
    const outcomes = await ctx.connection.pipeline(
      batch.map((b) => b.prepared),
      ctx.deadline,
    );
    batch.forEach((b, i) => {
      const outcome = outcomes[i]!;
      results[b.index] = "error" in outcome ? outcome : { reply: ctx.namespace.reply(b.args, outcome.reply) };
    });
    batch = [];
  };
  for (const [index, args] of commands.entries()) {
    if (isKeyspaceCommand(args)) {
      await flush();
      try {
        results[index] = { reply: await runKeyspaceCommand(args, ctx) };
      } catch (error) {
        if (!(error instanceof GatewayError) || error.status === 503) throw error;
        results[index] = error;
      }
      continue;
    }
    const prepared = prepareNamespaced(args, ctx);
    if (prepared instanceof GatewayError) results[index] = prepared;
    else batch.push({ index, args, prepared });
  }
  await flush();
  return results;
}

/**
 * The commands of a namespaced `/multi-exec`, ready for MULTI/EXEC, or the error that refuses the
 * whole transaction (nothing runs).
 */
export function prepareTransaction(
  commands: readonly (readonly CommandArg[])[],
  ctx: NamespacedContext,
): (readonly CommandArg[])[] | GatewayError {
  const prepared: (readonly CommandArg[])[] = [];
  for (const [i, args] of commands.entries()) {
    if (isKeyspaceCommand(args)) {
      return new GatewayError(
        400,
        `ERR '${lowerName(args)}' cannot run inside a transaction with a namespaced token (command ${i + 1}; transaction not run): send it on its own or in a /pipeline`,
      );
    }
    const one = prepareNamespaced(args, ctx);
    if (one instanceof GatewayError) {
      return new GatewayError(one.status, `${one.message} (command ${i + 1}; transaction not run)`);
    }
    prepared.push(one);
  }
  return prepared;
}
