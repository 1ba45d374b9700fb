/**
 * KEYS, SCAN, DBSIZE, FLUSHDB and FLUSHALL for a namespaced token: answered for the service's keyspace
 * only. Service users may not SCAN (ACL key patterns do not filter it: it would list every tenant's
 * keys), so the names come from the platform's **scanner identity**, a Redis user that may run SCAN
 * and nothing else (no key, no channel, no other command). Its SCAN always carries
 * `MATCH <keyspace>:<pattern>` built here (a user's MATCH pattern is appended after the escaped
 * prefix; without one, `<keyspace>:*`), so a crafted pattern or cursor can only ever match names
 * inside the keyspace; names are filtered once more by their prefix before the prefix is removed.
 *
 * On a cluster the gateway's cursor walks the masters one after another (sorted by address): it
 * encodes the master's own cursor and the master's index as `cursor * masters + index`, so it is one
 * decimal number, as clients expect, and `0` both starts and ends the iteration.
 *
 * FLUSHDB/FLUSHALL delete with UNLINK through the service's own connection, so the service's ACL
 * still guards every delete. DBSIZE counts by scanning. All of them take time in proportion to the
 * whole database (every tenant's keys are walked to find this keyspace's), bounded by the request's
 * deadline (`timeoutMs`).
 */
import type { Cluster } from "ioredis";
import type { CommandArg } from "./command-policy.js";
import { badRequest, forbidden, GatewayError, unavailable } from "./errors.js";
import type { Namespace } from "./namespace.js";
import { type RedisClient, type ServiceConnection, waitReady, withDeadline } from "./redis-connection.js";
import type { RedisReply } from "./reply-encoding.js";

/** Commands a namespaced token gets answered for its keyspace only. */
export const KEYSPACE_COMMANDS: ReadonlySet<string> = new Set([
  "keys",
  "scan",
  "dbsize",
  "flushdb",
  "flushall",
]);
/** Of those, the ones that write (not for read-only tokens). */
export const KEYSPACE_WRITES: ReadonlySet<string> = new Set(["flushdb", "flushall"]);

/** Largest COUNT sent to a master in one SCAN (a larger COUNT from a client is lowered to it). */
export const MAX_SCAN_COUNT = 1000;
/** COUNT of the SCANs behind KEYS, DBSIZE and FLUSHDB. */
const SWEEP_COUNT = 1000;
const OK = Buffer.from("OK");

function text(arg: CommandArg | undefined): string {
  if (arg === undefined) return "";
  return typeof arg === "string" ? arg : arg.toString("latin1");
}

function isCluster(client: RedisClient): client is Cluster {
  return (client as Cluster).isCluster === true;
}

interface ScanOptions {
  cursor: bigint;
  match?: CommandArg;
  count: number;
  type?: CommandArg;
  /** Upstash's `WITHTYPE`: answer `[key, type, key, type, ...]` (types read as the service's user). */
  withType?: boolean;
}

function parseScan(args: readonly CommandArg[]): ScanOptions {
  if (args.length < 2) throw badRequest("wrong number of arguments for 'scan' command");
  const cursorText = text(args[1]);
  if (!/^\d{1,40}$/.test(cursorText)) throw badRequest("invalid cursor");
  const options: ScanOptions = { cursor: BigInt(cursorText), count: 10 };
  for (let i = 2; i < args.length; i += 2) {
    const option = text(args[i]).toLowerCase();
    if (option === "withtype") {
      options.withType = true;
      i--;
      continue;
    }
    const value = args[i + 1];
    if (value === undefined) throw badRequest("syntax error");
    if (option === "match") options.match = value;
    else if (option === "type") options.type = value;
    else if (option === "count") {
      const n = Number(text(value));
      if (!/^\d{1,12}$/.test(text(value)) || n < 1)
        throw badRequest("value is not an integer or out of range");
      options.count = Math.min(n, MAX_SCAN_COUNT);
    } else throw badRequest("syntax error");
  }
  return options;
}

/** Enumeration of one gateway: the scanner identity's connection. */
export class KeyspaceEnumerator {
  constructor(
    private readonly scanner: ServiceConnection,
    private readonly timeoutMs: number,
  ) {}

  /** The masters to scan, in a stable order (sorted by address), each ready. */
  private async masters(deadline: number): Promise<RedisClient[]> {
    const client = await this.scanner.client(deadline);
    if (!isCluster(client)) return [client];
    const nodes = [...client.nodes("master")].sort((a, b) =>
      `${a.options.host}:${a.options.port}`.localeCompare(`${b.options.host}:${b.options.port}`),
    );
    if (nodes.length === 0) throw unavailable("the cluster reports no masters");
    await Promise.all(nodes.map((node) => waitReady(node, deadline - Date.now())));
    return nodes;
  }

  /** One SCAN on one master, always with `MATCH <keyspace>:...`; names outside the keyspace dropped. */
  private async scanNode(
    node: RedisClient,
    ns: Namespace,
    cursor: bigint,
    match: CommandArg | undefined,
    count: number,
    type: CommandArg | undefined,
    deadline: number,
  ): Promise<[bigint, Buffer[]]> {
    if (Date.now() >= deadline)
      throw unavailable(`no answer within ${this.timeoutMs} ms (the keyspace is still being scanned)`);
    const args: (string | Buffer)[] = [cursor.toString(), "MATCH", ns.pattern(match), "COUNT", String(count)];
    if (type !== undefined) args.push("TYPE", type);
    const reply = (await withDeadline(
      node.callBuffer("SCAN", args) as Promise<RedisReply>,
      deadline - Date.now(),
      this.timeoutMs,
    )) as [Buffer, Buffer[]];
    const next = BigInt(reply[0].toString("latin1"));
    return [next, reply[1].filter((name) => Buffer.isBuffer(name) && ns.owns(name))];
  }

  /**
   * `SCAN cursor [MATCH p] [COUNT n] [TYPE t] [WITHTYPE]` for the keyspace: `[cursor, names without the
   * prefix]` (with WITHTYPE, as Upstash answers it: `[cursor, [name, type, ...]]`, the types read with
   * TYPE through the service's own connection).
   */
  async scan(
    ns: Namespace,
    args: readonly CommandArg[],
    service: ServiceConnection,
    deadline: number,
  ): Promise<RedisReply> {
    const options = parseScan(args);
    const nodes = await this.masters(deadline);
    const n = BigInt(nodes.length);
    const index = Number(options.cursor % n);
    const nodeCursor = options.cursor / n;
    const [next, names] = await this.scanNode(
      nodes[index]!,
      ns,
      nodeCursor,
      options.match,
      options.count,
      options.type,
      deadline,
    );
    let cursor: bigint;
    if (next !== 0n) cursor = next * n + BigInt(index);
    else cursor = index + 1 < nodes.length ? BigInt(index + 1) : 0n;
    const shown = Buffer.from(cursor.toString());
    if (!options.withType) return [shown, names.map((name) => ns.strip(name))];
    const types =
      names.length > 0
        ? await service.pipeline(
            names.map((name) => ["TYPE", name]),
            deadline,
          )
        : [];
    const flat: RedisReply[] = [];
    names.forEach((name, i) => {
      const outcome = types[i]!;
      if ("error" in outcome)
        throw new GatewayError(/^NOPERM/.test(outcome.error.message) ? 403 : 400, outcome.error.message);
      const type = Buffer.isBuffer(outcome.reply) ? outcome.reply : Buffer.from(String(outcome.reply));
      if (type.toString() !== "none") flat.push(ns.strip(name), type); // deleted since the scan
    });
    return [shown, flat];
  }

  /** Calls `each` with every batch of names (with their prefix) matching `<keyspace>:<pattern>`. */
  private async sweep(
    ns: Namespace,
    pattern: CommandArg | undefined,
    deadline: number,
    each: (names: Buffer[]) => void | Promise<void>,
  ): Promise<void> {
    for (const node of await this.masters(deadline)) {
      let cursor = 0n;
      do {
        const [next, names] = await this.scanNode(
          node,
          ns,
          cursor,
          pattern,
          SWEEP_COUNT,
          undefined,
          deadline,
        );
        if (names.length > 0) await each(names);
        cursor = next;
      } while (cursor !== 0n);
    }
  }

  /** `KEYS pattern` for the keyspace (names without the prefix, each once). */
  async keys(ns: Namespace, args: readonly CommandArg[], deadline: number): Promise<RedisReply> {
    if (args.length !== 2) throw badRequest("wrong number of arguments for 'keys' command");
    const seen = new Map<string, Buffer>();
    await this.sweep(ns, args[1], deadline, (names) => {
      for (const name of names) seen.set(name.toString("latin1"), ns.strip(name));
    });
    return [...seen.values()];
  }

  /** `DBSIZE` for the keyspace. */
  async dbsize(ns: Namespace, args: readonly CommandArg[], deadline: number): Promise<RedisReply> {
    if (args.length !== 1) throw badRequest("wrong number of arguments for 'dbsize' command");
    const seen = new Set<string>();
    await this.sweep(ns, undefined, deadline, (names) => {
      for (const name of names) seen.add(name.toString("latin1"));
    });
    return seen.size;
  }

  /**
   * `FLUSHDB [ASYNC|SYNC]` / `FLUSHALL [ASYNC|SYNC]` for the keyspace: every key UNLINKed through the
   * service's own connection (its ACL guards each delete).
   */
  async flush(
    ns: Namespace,
    args: readonly CommandArg[],
    service: ServiceConnection,
    deadline: number,
  ): Promise<RedisReply> {
    const name = text(args[0]).toLowerCase();
    if (args.length > 2 || (args.length === 2 && !/^(async|sync)$/i.test(text(args[1])))) {
      throw badRequest(args.length > 2 ? `wrong number of arguments for '${name}' command` : "syntax error");
    }
    await this.sweep(ns, undefined, deadline, async (names) => {
      const outcomes = await service.pipeline(
        names.map((key) => ["UNLINK", key]),
        deadline,
      );
      for (const outcome of outcomes) {
        if ("error" in outcome) {
          const message = outcome.error.message;
          throw /^NOPERM/.test(message)
            ? forbidden(message.replace(/^NOPERM\s*/, ""))
            : new GatewayError(400, message);
        }
      }
    });
    return OK;
  }

  /** Runs one of {@link KEYSPACE_COMMANDS}. */
  run(
    ns: Namespace,
    args: readonly CommandArg[],
    service: ServiceConnection,
    deadline: number,
  ): Promise<RedisReply> {
    switch (text(args[0]).toLowerCase()) {
      case "keys":
        return this.keys(ns, args, deadline);
      case "scan":
        return this.scan(ns, args, service, deadline);
      case "dbsize":
        return this.dbsize(ns, args, deadline);
      default:
        return this.flush(ns, args, service, deadline);
    }
  }
}
