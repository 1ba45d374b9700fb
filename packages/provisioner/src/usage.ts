/**
 * Usage per keyspace and per user on a shared server, measured with the admin connection without
 * blocking Redis: keys are walked with `SCAN <cursor> COUNT <n>` (a bounded step per call, never
 * KEYS), each step's keys get a pipelined `PTTL` (O(1) each), and only a sample of keys per keyspace
 * gets `MEMORY USAGE` (memory is extrapolated from the sample). Masters are scanned (replicas hold
 * copies); connections are counted on every node from `CLIENT LIST`.
 *
 * ACLs cannot bound memory, CPU or connections per tenant; this is how the platform sees who uses
 * them (docs/operations.md, "Noisy neighbours").
 */
import { setTimeout as sleep } from "node:timers/promises";
import type { ResolvedService } from "@cacheplane/core";
import type { AdminConnection } from "./admin-connection.js";

/**
 * What usage sampling and the ACL LOG follower need of a platform config: each service's name, Redis
 * user, keyspace and shared keyspaces (a `PlatformConfig` is one).
 */
export interface UsageConfig {
  services: readonly Pick<ResolvedService, "name" | "userId" | "keyspace" | "sharedKeyspaces">[];
}

/** Options of {@link sampleUsage}. */
export interface UsageOptions {
  /** COUNT of each SCAN step (work Redis does per call). @default 1000 */
  scanCount?: number;
  /** Keys per keyspace and node whose `MEMORY USAGE` is measured. @default 100 */
  memorySamples?: number;
  /**
   * Stop scanning a node after this many keys and extrapolate its counts from `DBSIZE` (the report
   * says `estimated`). @default 1_000_000
   */
  maxKeysPerNode?: number;
  /**
   * Pause between two SCAN steps, ms: spreads a background sampler's work over time (the operator
   * view). @default 0
   */
  stepPauseMs?: number;
  /** Called after every SCAN step (for a progress line). */
  onProgress?: (progress: UsageProgress) => void;
}

export interface UsageProgress {
  node: string;
  /** 1-based index of the node being scanned, of `nodes`. */
  nodeIndex: number;
  nodes: number;
  scanned: number;
  /** `DBSIZE` of the node when the scan started. */
  total: number;
}

/** One keyspace (the text before the first `:` of a key). */
export interface KeyspaceUsage {
  keyspace: string;
  /** The service whose private keyspace it is, if any. */
  service?: string;
  /** Services that declare it in `sharedKeyspaces`. */
  sharedBy: string[];
  keys: number;
  /** Keys without a TTL: they stay until deleted or evicted. */
  keysWithoutTtl: number;
  /** Estimated bytes: mean `MEMORY USAGE` of the sampled keys times `keys`. */
  memoryBytes: number;
  /** Keys whose memory was measured. */
  memorySampled: number;
  /** True when some node was not scanned to the end (counts extrapolated). */
  estimated: boolean;
}

/** Connections of one ACL user over every node. */
export interface UserConnections {
  user: string;
  service?: string;
  connections: number;
  /** `host:port` -> connections on that node. */
  perNode: Record<string, number>;
}

/** One node's own figures (from INFO). */
export interface NodeUsage {
  node: string;
  role: "master" | "replica";
  keys: number;
  usedMemoryBytes: number;
  /** 0 when no limit is set. */
  maxMemoryBytes: number;
  maxMemoryPolicy: string;
  evictedKeys: number;
  connectedClients: number;
  maxClients: number;
  /** Keys this run visited (masters only). */
  scanned: number;
  /** False when the scan stopped at `maxKeysPerNode`. */
  complete: boolean;
}

export interface UsageReport {
  /** Largest memory first. */
  keyspaces: KeyspaceUsage[];
  /** Most connections first. */
  users: UserConnections[];
  nodes: NodeUsage[];
  /** ISO time the sampling started. */
  sampledAt: string;
}

/** Keys without a `:` have no keyspace. */
export const NO_KEYSPACE = "(no keyspace)";

function infoFields(text: string): Map<string, string> {
  const fields = new Map<string, string>();
  for (const line of text.split(/\r?\n/)) {
    const colon = line.indexOf(":");
    if (colon > 0 && !line.startsWith("#")) fields.set(line.slice(0, colon), line.slice(colon + 1).trim());
  }
  return fields;
}

function keyspaceOf(key: string): string {
  const colon = key.indexOf(":");
  return colon > 0 ? key.slice(0, colon) : NO_KEYSPACE;
}

interface Tally {
  keys: number;
  noTtl: number;
  sampledBytes: number;
  sampled: number;
}

/** Scans one master; returns per-keyspace tallies (already extrapolated when the scan stopped early). */
async function scanNode(
  node: AdminConnection,
  options: Required<Omit<UsageOptions, "onProgress">> & Pick<UsageOptions, "onProgress">,
  progress: Omit<UsageProgress, "scanned" | "total">,
  total: number,
): Promise<{ tallies: Map<string, Tally>; scanned: number; complete: boolean }> {
  const tallies = new Map<string, Tally>();
  let cursor = "0";
  let scanned = 0;
  do {
    const reply = (await node.call(["SCAN", cursor, "COUNT", String(options.scanCount)])) as [
      string,
      string[],
    ];
    cursor = String(reply[0]);
    const keys = (reply[1] ?? []).map(String);
    const sampling: { key: string; tally: Tally }[] = [];
    const pending = new Map<Tally, number>();
    for (const key of keys) {
      const ks = keyspaceOf(key);
      let tally = tallies.get(ks);
      if (!tally) {
        tally = { keys: 0, noTtl: 0, sampledBytes: 0, sampled: 0 };
        tallies.set(ks, tally);
      }
      tally.keys++;
      const queued = pending.get(tally) ?? 0;
      if (tally.sampled + queued < options.memorySamples) {
        sampling.push({ key, tally });
        pending.set(tally, queued + 1);
      }
    }
    // One pipelined batch of O(1) commands per step (ioredis writes concurrent calls back to back).
    const [ttls, sizes] = await Promise.all([
      Promise.all(keys.map((key) => node.call(["PTTL", key]).catch(() => -2))),
      Promise.all(
        sampling.map(({ key }) => node.call(["MEMORY", "USAGE", key, "SAMPLES", "5"]).catch(() => null)),
      ),
    ]);
    keys.forEach((key, i) => {
      if (Number(ttls[i]) === -1) tallies.get(keyspaceOf(key))!.noTtl++;
    });
    sampling.forEach(({ tally }, i) => {
      const bytes = sizes[i];
      if (bytes === null || bytes === undefined) return;
      tally.sampledBytes += Number(bytes);
      tally.sampled++;
    });
    scanned += keys.length;
    options.onProgress?.({ ...progress, scanned, total });
    if (options.stepPauseMs > 0 && cursor !== "0") await sleep(options.stepPauseMs);
  } while (cursor !== "0" && scanned < options.maxKeysPerNode);
  const complete = cursor === "0";
  if (!complete && scanned > 0 && total > scanned) {
    const factor = total / scanned;
    for (const tally of tallies.values()) {
      tally.keys = Math.round(tally.keys * factor);
      tally.noTtl = Math.round(tally.noTtl * factor);
    }
  }
  return { tallies, scanned, complete };
}

/** Parses `CLIENT LIST`: connections per user. */
function connectionsByUser(text: string): Map<string, number> {
  const counts = new Map<string, number>();
  for (const line of text.split("\n")) {
    if (line.trim() === "") continue;
    const user = / user=(\S+)/.exec(line)?.[1];
    const name = / name=(\S*)/.exec(line)?.[1];
    if (user === undefined || name === "cacheplane-provisioner") continue;
    counts.set(user, (counts.get(user) ?? 0) + 1);
  }
  return counts;
}

/**
 * Samples usage on every node: keys, keys without TTL and estimated memory per keyspace (masters),
 * connections per user (every node), and each node's memory, eviction and client figures.
 */
export async function sampleUsage(
  nodes: readonly { connection: AdminConnection; role: "master" | "replica" }[],
  config: UsageConfig,
  options: UsageOptions = {},
): Promise<UsageReport> {
  const settings = {
    scanCount: options.scanCount ?? 1000,
    memorySamples: options.memorySamples ?? 100,
    maxKeysPerNode: options.maxKeysPerNode ?? 1_000_000,
    stepPauseMs: options.stepPauseMs ?? 0,
    onProgress: options.onProgress,
  };
  const sampledAt = new Date().toISOString();
  const masters = nodes.filter((n) => n.role === "master");
  const totals = new Map<string, Tally & { estimated: boolean }>();
  const nodeReports: NodeUsage[] = [];
  const users = new Map<string, UserConnections>();
  const serviceOfUser = new Map(config.services.map((s) => [s.userId, s.name]));

  for (const { connection, role } of nodes) {
    const info = infoFields(String(await connection.call(["INFO"])));
    const keys = Number(/keys=(\d+)/.exec(info.get("db0") ?? "")?.[1] ?? 0);
    let scanned = 0;
    let complete = true;
    if (role === "master") {
      const index = masters.findIndex((m) => m.connection === connection);
      const result = await scanNode(
        connection,
        settings,
        { node: connection.address, nodeIndex: index + 1, nodes: masters.length },
        keys,
      );
      scanned = result.scanned;
      complete = result.complete;
      for (const [ks, tally] of result.tallies) {
        const total = totals.get(ks) ?? { keys: 0, noTtl: 0, sampledBytes: 0, sampled: 0, estimated: false };
        // Memory extrapolated per node (its own mean), then summed.
        const mean = tally.sampled > 0 ? tally.sampledBytes / tally.sampled : 0;
        total.sampledBytes += mean * tally.keys;
        total.sampled += tally.sampled;
        total.keys += tally.keys;
        total.noTtl += tally.noTtl;
        total.estimated ||= !result.complete;
        totals.set(ks, total);
      }
    }
    for (const [user, count] of connectionsByUser(String(await connection.call(["CLIENT", "LIST"])))) {
      let entry = users.get(user);
      if (!entry) {
        entry = { user, connections: 0, perNode: {} };
        const service = serviceOfUser.get(user);
        if (service !== undefined) entry.service = service;
        users.set(user, entry);
      }
      entry.connections += count;
      entry.perNode[connection.address] = (entry.perNode[connection.address] ?? 0) + count;
    }
    nodeReports.push({
      node: connection.address,
      role,
      keys,
      usedMemoryBytes: Number(info.get("used_memory") ?? 0),
      maxMemoryBytes: Number(info.get("maxmemory") ?? 0),
      maxMemoryPolicy: info.get("maxmemory_policy") ?? "unknown",
      evictedKeys: Number(info.get("evicted_keys") ?? 0),
      connectedClients: Number(info.get("connected_clients") ?? 0),
      maxClients: Number(info.get("maxclients") ?? 0),
      scanned,
      complete,
    });
  }

  const owners = new Map(config.services.map((s) => [s.keyspace, s.name]));
  const keyspaces: KeyspaceUsage[] = [...totals].map(([keyspace, t]) => {
    const usage: KeyspaceUsage = {
      keyspace,
      sharedBy: config.services.filter((s) => s.sharedKeyspaces.includes(keyspace)).map((s) => s.name),
      keys: t.keys,
      keysWithoutTtl: t.noTtl,
      memoryBytes: Math.round(t.sampledBytes),
      memorySampled: t.sampled,
      estimated: t.estimated,
    };
    const service = owners.get(keyspace);
    if (service !== undefined) usage.service = service;
    return usage;
  });
  keyspaces.sort((a, b) => b.memoryBytes - a.memoryBytes || a.keyspace.localeCompare(b.keyspace));
  return {
    keyspaces,
    users: [...users.values()].sort((a, b) => b.connections - a.connections || a.user.localeCompare(b.user)),
    nodes: nodeReports,
    sampledAt,
  };
}
