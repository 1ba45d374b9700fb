/**
 * Exporting the ACL LOG of every node: denied commands, keys and channels (NOPERM) and failed logins,
 * by user. The server keeps only the last `acllog-max-len` entries (128 by default), so one tenant's
 * flood of denials can push out another's probing; reading the log incrementally (`AclLogFollower`,
 * polled by `cacheplane audit --follow`) keeps every entry that was seen, each exactly once.
 *
 * Identity of an entry: servers from Redis 7.2 / Valkey 7.2 report `entry-id` and
 * `timestamp-created`, which are exact. Redis 7.0 reports neither: an entry groups repeated denials
 * of the same (user, reason, context, object) within 60 s and only its `age-seconds` (since the last
 * one) and `count` change, so the follower attributes growth to the newest earlier entry of the same
 * tuple (exact unless a group both grows and a new one starts between two polls). `drain` mode reads
 * and resets the log in one MULTI/EXEC instead: exact on every version, but it empties the log for
 * other readers.
 */
import type { AdminConnection } from "./admin-connection.js";
import { TargetError } from "./errors.js";
import type { UsageConfig } from "./usage.js";

/** One ACL LOG entry as a node reports it. */
export interface AclLogEntry {
  node: string;
  /** From Redis/Valkey 7.2 on. */
  entryId?: number;
  count: number;
  /** `command`, `key`, `channel` or `auth`. */
  reason: string;
  /** `toplevel`, `multi`, `lua`, `module`. */
  context: string;
  /** The denied command, key or channel (for `auth`: the command). */
  object: string;
  username: string;
  /** Epoch ms of the latest occurrence. */
  lastSeen: number;
  /** Epoch ms of the first occurrence (7.2+ only). */
  createdAt?: number;
  clientAddress?: string;
}

/** New occurrences since the previous poll. */
export interface AuditEvent {
  node: string;
  username: string;
  /** The service whose user it is, when the config declares one. */
  service?: string;
  reason: string;
  context: string;
  object: string;
  /** Occurrences not reported before. */
  count: number;
  /** ISO time of the latest occurrence. */
  lastSeen: string;
  clientAddress?: string;
}

/** What one poll found. */
export interface AuditPoll {
  events: AuditEvent[];
  /**
   * Nodes whose log was full and whose oldest entry is newer than the previous poll: entries may have
   * been pushed out unseen. Poll more often or raise `acllog-max-len`.
   */
  possiblyLost: string[];
}

function field(entry: unknown[], name: string): unknown {
  const index = entry.findIndex((v) => String(v) === name);
  return index === -1 ? undefined : entry[index + 1];
}

/** Parses an `ACL LOG <count>` reply (newest first) read at `now`. */
export function parseAclLog(reply: unknown, node: string, now: number): AclLogEntry[] {
  if (!Array.isArray(reply)) return [];
  return reply.flatMap((raw) => {
    if (!Array.isArray(raw)) return [];
    const ageSeconds = Number(field(raw, "age-seconds") ?? 0);
    const updated = field(raw, "timestamp-last-updated");
    const created = field(raw, "timestamp-created");
    const id = field(raw, "entry-id");
    const clientInfo = String(field(raw, "client-info") ?? "");
    const entry: AclLogEntry = {
      node,
      count: Number(field(raw, "count") ?? 1),
      reason: String(field(raw, "reason") ?? ""),
      context: String(field(raw, "context") ?? ""),
      object: String(field(raw, "object") ?? ""),
      username: String(field(raw, "username") ?? ""),
      lastSeen: updated !== undefined ? Number(updated) : Math.round(now - ageSeconds * 1000),
    };
    if (id !== undefined) entry.entryId = Number(id);
    if (created !== undefined) entry.createdAt = Number(created);
    const address = / addr=(\S+)/.exec(` ${clientInfo}`)?.[1];
    if (address !== undefined) entry.clientAddress = address;
    return [entry];
  });
}

const tupleOf = (e: AclLogEntry) => `${e.username}\u0000${e.reason}\u0000${e.context}\u0000${e.object}`;
/** Ages are reported in ms precision, relative to the reply: allow for the round trip. */
const CLOCK_SLACK_MS = 1000;

interface NodeState {
  polledAt: number;
  /** Exact identities (entry-id servers): id -> count seen. */
  byId: Record<string, number>;
  /** Redis 7.0: per tuple, entries seen (newest first). */
  byTuple: Record<string, { count: number; lastSeen: number }[]>;
}

/** What an `AclLogFollower` remembers between polls (JSON; `cacheplane audit --state <file>`). */
export interface AuditState {
  nodes: Record<string, NodeState>;
}

/** Polls ACL LOG on every node and reports each denial once. */
export class AclLogFollower {
  private state: AuditState;
  private readonly maxLen = new Map<AdminConnection, number>();

  constructor(
    private readonly nodes: readonly AdminConnection[],
    private readonly config?: UsageConfig,
    state?: AuditState,
    private readonly clock: () => number = Date.now,
  ) {
    this.state = state ? structuredClone(state) : { nodes: {} };
  }

  /** The state to pass to a later follower (e.g. the next run of a cron job). */
  snapshot(): AuditState {
    return structuredClone(this.state);
  }

  /** `acllog-max-len` of a node (CONFIG GET; 128 when the server does not allow CONFIG). */
  private async maxLenOf(node: AdminConnection): Promise<number> {
    let value = this.maxLen.get(node);
    if (value === undefined) {
      try {
        const reply = (await node.call(["CONFIG", "GET", "acllog-max-len"])) as unknown[];
        value = Number(reply[1] ?? 128) || 128;
      } catch {
        value = 128;
      }
      this.maxLen.set(node, value);
    }
    return value;
  }

  /**
   * Reads every node's log and returns the occurrences not reported before. With `drain`, each
   * node's log is read and reset atomically (MULTI/EXEC): exact on every server version.
   */
  async poll(options: { drain?: boolean } = {}): Promise<AuditPoll> {
    const events: AuditEvent[] = [];
    const possiblyLost: string[] = [];
    const serviceOf = new Map((this.config?.services ?? []).map((s) => [s.userId, s.name]));
    for (const node of this.nodes) {
      const maxLen = await this.maxLenOf(node);
      const now = this.clock();
      let entries: AclLogEntry[];
      if (options.drain) {
        const replies = await node.transaction([
          ["ACL", "LOG", String(maxLen)],
          ["ACL", "LOG", "RESET"],
        ]);
        entries = parseAclLog(replies[0], node.address, now);
      } else {
        entries = parseAclLog(await node.call(["ACL", "LOG", String(maxLen)]), node.address, now);
      }
      const previous = this.state.nodes[node.address];
      const fresh = options.drain
        ? entries.map((e) => ({ entry: e, count: e.count }))
        : this.diff(entries, previous);
      // A full log whose oldest entry was not there at the previous poll may have dropped entries
      // nobody saw (the first poll cannot tell what came before it).
      if (
        !options.drain &&
        previous &&
        entries.length >= maxLen &&
        !this.seenBefore(entries.at(-1)!, previous)
      )
        possiblyLost.push(node.address);
      this.state.nodes[node.address] = {
        polledAt: now,
        byId: Object.fromEntries(
          entries.filter((e) => e.entryId !== undefined).map((e) => [`${e.entryId}/${e.createdAt}`, e.count]),
        ),
        byTuple: entries.reduce<NodeState["byTuple"]>((acc, e) => {
          if (e.entryId === undefined) {
            const key = tupleOf(e);
            acc[key] = [...(acc[key] ?? []), { count: e.count, lastSeen: e.lastSeen }];
          }
          return acc;
        }, {}),
      };
      for (const { entry, count } of fresh) {
        if (count <= 0) continue;
        const event: AuditEvent = {
          node: entry.node,
          username: entry.username,
          reason: entry.reason,
          context: entry.context,
          object: entry.object,
          count,
          lastSeen: new Date(entry.lastSeen).toISOString(),
        };
        const service = serviceOf.get(entry.username);
        if (service !== undefined) event.service = service;
        if (entry.clientAddress !== undefined) event.clientAddress = entry.clientAddress;
        events.push(event);
      }
    }
    events.sort((a, b) => a.lastSeen.localeCompare(b.lastSeen) || a.node.localeCompare(b.node));
    return { events, possiblyLost };
  }

  /** Whether `entry` is one the previous poll saw (possibly grown since). */
  private seenBefore(entry: AclLogEntry, previous: NodeState): boolean {
    if (entry.entryId !== undefined) return `${entry.entryId}/${entry.createdAt}` in previous.byId;
    return (previous.byTuple[tupleOf(entry)] ?? []).some(
      (b) => b.count <= entry.count && b.lastSeen <= entry.lastSeen + CLOCK_SLACK_MS,
    );
  }

  /** Entries (newest first) against what the previous poll saw: the new occurrences of each. */
  private diff(
    entries: readonly AclLogEntry[],
    previous: NodeState | undefined,
  ): { entry: AclLogEntry; count: number }[] {
    if (!previous) return entries.map((entry) => ({ entry, count: entry.count }));
    const out: { entry: AclLogEntry; count: number }[] = [];
    const tuples = new Map<string, AclLogEntry[]>();
    for (const entry of entries) {
      if (entry.entryId !== undefined) {
        const seen = previous.byId[`${entry.entryId}/${entry.createdAt}`] ?? 0;
        out.push({ entry, count: entry.count - seen });
        continue;
      }
      const list = tuples.get(tupleOf(entry)) ?? [];
      list.push(entry);
      tuples.set(tupleOf(entry), list);
    }
    for (const [tuple, current] of tuples) {
      const before = previous.byTuple[tuple] ?? [];
      const newest = before[0];
      // Unchanged entries: seen before with the same count and time.
      const unchanged = (e: AclLogEntry) =>
        before.some((b) => b.count === e.count && Math.abs(b.lastSeen - e.lastSeen) <= CLOCK_SLACK_MS);
      const changed = current.filter((e) => !unchanged(e) && e.lastSeen > previous.polledAt - CLOCK_SLACK_MS);
      // The newest earlier group is either still there as it was, or it grew (and is then the oldest
      // changed entry), or it was pushed out of the log.
      const newestStill =
        newest !== undefined &&
        current.some(
          (e) => e.count === newest.count && Math.abs(e.lastSeen - newest.lastSeen) <= CLOCK_SLACK_MS,
        );
      const continued = newest !== undefined && !newestStill ? changed[changed.length - 1] : undefined;
      const grown = newest !== undefined && continued !== undefined && continued.count > newest.count;
      for (const entry of changed) {
        const count = grown && entry === continued ? entry.count - newest!.count : entry.count;
        out.push({ entry, count });
      }
    }
    return out;
  }
}

/** Sets `acllog-max-len` on every node (CONFIG SET). ElastiCache does not allow CONFIG: use its parameter group. */
export async function setAclLogMaxLen(nodes: readonly AdminConnection[], length: number): Promise<void> {
  if (!Number.isInteger(length) || length < 1 || length > 1_000_000)
    throw new TargetError(`acllog-max-len must be an integer from 1 to 1000000 (got ${length}).`);
  await Promise.all(nodes.map((node) => node.call(["CONFIG", "SET", "acllog-max-len", String(length)])));
}
