/**
 * Write batching for an ioredis connection (docs/decisions/0021, 0022): while the connection has
 * commands in flight, every command written in the same turn of the event loop leaves in one socket
 * write (`cork()` on the first, `uncork()` in `setImmediate`, i.e. once the I/O callbacks of this turn
 * have run: the requests a server received together, the callers a batch of replies woke up), so
 * Redis reads them with one `read()` and answers them with one `write()` instead of paying a system
 * call and a wake-up per command.
 *
 * Adaptive: a command written while nothing is in flight (ioredis's `commandQueue` is empty) and
 * nothing is corked goes out at once, unless the connection's last corked write carried more commands
 * than one caller writes (then many callers are active: their replies arrived together and their next
 * commands follow in this turn). A lone caller then pays no wait for the rest of the turn (its reply
 * cannot come back together with anyone else's), and batching starts with the next command of the
 * turn, when replies are outstanding anyway. Pipeline commands (ioredis's `Pipeline`, `multi`) never
 * start a cork: the pipeline writes them in one write of its own. A batch leaves early once it holds
 * {@link MAX_BATCH} commands, so Redis works on the first ones while the rest are written.
 *
 * Unlike ioredis's `enableAutoPipelining` there is no pipeline object, no extra promise and no wait
 * for an earlier batch: each command is still sent by ioredis's own `sendCommand`, so it keeps its
 * `commandTimeout` (started when it is sent), its own reply or error (a bad command never fails its
 * neighbours), the fail-fast refusal while the connection is down (no offline queue), Buffer replies
 * and cluster routing (every node of a cluster batches its own socket).
 */
import type { Cluster, Redis } from "ioredis";

/** Marks an instance already batched. */
const BATCHED = Symbol.for("cacheplane.writeBatching");

/**
 * The most commands one caller's call writes together on one connection (a `get` on a cluster node
 * holding both its key and the generation: two GETs). A corked write of more means several callers
 * were active: an idle connection whose last batch was larger corks its next command too.
 */
const LONE_CALLER_BATCH = 2;

/**
 * The most commands one corked write carries; the command that fills it leaves at once with the
 * others, and the next one starts a new batch. Redis then starts on the first commands of a busy
 * turn while the client is still writing the rest, instead of one process waiting for the other:
 * with Redis on its own core, a turn of 50 rate-limit FCALLs in a single write ran at 0.84x
 * rate-limiter-flexible's unbatched calls, in writes of at most 16 at 1.33x, and 50-caller
 * get/set throughput rose too (bench `ratelimits` and `client`, decision 0022).
 */
export const MAX_BATCH = 16;

type Corkable = { cork(): void; uncork(): void };
/** What the wrapper reads of an ioredis connection (`commandQueue`: the commands awaiting a reply). */
type Connection = { status: string; stream?: Corkable; commandQueue?: { length: number } };
type SendCommand = (this: Redis, command: unknown, stream?: unknown) => unknown;

function uncork(stream: Corkable): void {
  stream.uncork();
}

/**
 * Makes `redis` (one connection) write the commands of a tick together while it has commands in
 * flight. Idempotent. Only commands written while the connection is ready are corked; the handshake
 * (AUTH) and everything else is untouched.
 */
export function batchWritesPerTick(redis: Redis): void {
  const target = redis as unknown as Record<symbol, boolean> & { sendCommand: SendCommand };
  if (target[BATCHED]) return;
  target[BATCHED] = true;
  const original = target.sendCommand;
  /** The socket corked in this turn (undefined: none). */
  let corked: Corkable | undefined;
  /** Commands written since the cork, and in the last corked write. */
  let batched = 0;
  let lastBatch = 0;
  const flush = () => {
    const stream = corked;
    if (stream === undefined) return; // already left full (MAX_BATCH)
    corked = undefined;
    lastBatch = batched;
    batched = 0;
    uncork(stream);
  };
  target.sendCommand = function (this: Redis, command: unknown, stream?: unknown) {
    if (corked !== undefined) {
      if (++batched >= MAX_BATCH) {
        // The batch is full: it leaves with this command; the turn's next command corks anew.
        const full = corked;
        corked = undefined;
        lastBatch = batched;
        batched = 0;
        const result = original.call(this, command, stream);
        uncork(full);
        return result;
      }
    } else if (stream === undefined) {
      const connection = this as unknown as Connection;
      // Write now when nothing is in flight, unless the last batch shows several callers (their
      // replies arrived together, so the others' commands follow in this turn). Without a
      // `commandQueue` (an ioredis that renamed it), always batch.
      if (
        connection.status === "ready" &&
        (lastBatch > LONE_CALLER_BATCH || (connection.commandQueue?.length ?? 1) > 0)
      ) {
        const socket = connection.stream;
        if (socket !== undefined) {
          socket.cork();
          corked = socket;
          batched = 1;
          setImmediate(flush);
        }
      }
    }
    return original.call(this, command, stream);
  };
}

/** {@link batchWritesPerTick} for a standalone client, or for every node a cluster client connects to. */
export function batchClientWrites(client: Redis | Cluster): void {
  if ((client as Cluster).isCluster === true) {
    const cluster = client as Cluster;
    for (const node of cluster.nodes("all")) batchWritesPerTick(node);
    cluster.on("+node", (node: Redis) => batchWritesPerTick(node));
    return;
  }
  batchWritesPerTick(client as Redis);
}
