// Builds a Redis Cluster from scratch (no `redis-cli --cluster create`): start cluster-enabled nodes,
// assign slot ranges, MEET everyone to the first node, wait for convergence, attach replicas, verify.
import { Cluster, type ClusterOptions, type Redis, type RedisOptions } from "ioredis";
import { keySlot, splitSlots } from "./key-slot.js";
import { randomPassword } from "./passwords.js";
import { trackGroup, untrackGroup } from "./processes.js";
import { ADMIN_USERNAME, type AdminCredentials, type RedisServer, startRedis } from "./redis-server.js";
import { waitUntil } from "./wait.js";

export interface StartClusterOptions {
  /** Number of masters (default 3); the 16384 slots are split evenly over them. */
  masters?: number;
  /** Replicas per master (default 0). */
  replicasPerMaster?: number;
  /** Default true: the same admin user on every node, `default` user off. */
  acl?: boolean;
  /** Budget for the cluster to converge, in ms (default 30 000). */
  formTimeoutMs?: number;
}

export interface RedisCluster {
  /** Masters first, then replicas (replicas of master 0 first, then of master 1, …). */
  nodes: RedisServer[];
  masters: RedisServer[];
  replicas: RedisServer[];
  seeds: { host: string; port: number }[];
  /** Same admin user on every node (`default` / "" when acl is false). */
  admin: AdminCredentials;
  /** Admin URL of the first master. */
  url: string;
  /** Cluster node ids, in the order of `nodes`. */
  nodeIds: string[];
  /** The master a replica (index into `replicas`) replicates. */
  masterOf(replica: RedisServer): RedisServer;
  /** A new admin cluster client (ioredis); tracked and closed by stop(). */
  client(options?: ClusterOptions): Cluster;
  /** Closes tracked clients and stops every node. Idempotent. */
  stop(): Promise<void>;
}

const DEFAULT_FORM_TIMEOUT_MS = 30_000;

function infoField(info: string, field: string): string | undefined {
  const match = new RegExp(`^${field}:(.*)$`, "m").exec(info);
  return match?.[1]?.trim();
}

interface ClusterNodesEntry {
  id: string;
  flags: string[];
  masterId: string;
}

function parseClusterNodes(text: string): Map<string, ClusterNodesEntry> {
  const entries = new Map<string, ClusterNodesEntry>();
  for (const line of text.split("\n")) {
    const [id, , flags, masterId] = line.trim().split(" ");
    if (!id || !flags || !masterId) continue;
    entries.set(id, { id, flags: flags.split(","), masterId });
  }
  return entries;
}

/** A key (`cacheplane:testkit:probe:N`) whose slot lies within [start, end]. */
function keyInSlotRange(start: number, end: number): string {
  for (let n = 0; ; n++) {
    const key = `cacheplane:testkit:probe:${n}`;
    const slot = keySlot(key);
    if (slot >= start && slot <= end) return key;
  }
}

async function addSlotRange(client: Redis, start: number, end: number): Promise<void> {
  try {
    await client.call("CLUSTER", "ADDSLOTSRANGE", String(start), String(end));
  } catch (error) {
    // Servers before Redis 7.0 lack ADDSLOTSRANGE.
    if (!/unknown subcommand|syntax/i.test(String(error))) throw error;
    const slots: string[] = [];
    for (let slot = start; slot <= end; slot++) slots.push(String(slot));
    await client.call("CLUSTER", "ADDSLOTS", ...slots);
  }
}

class ManagedRedisCluster implements RedisCluster {
  readonly nodes: RedisServer[];
  readonly masters: RedisServer[];
  readonly replicas: RedisServer[];
  readonly admin: AdminCredentials;
  nodeIds: string[] = [];
  private readonly replicasPerMaster: number;
  private readonly acl: boolean;
  private readonly clients = new Set<Cluster>();
  private stopped = false;
  private stopPromise?: Promise<void>;

  constructor(nodes: RedisServer[], masterCount: number, replicasPerMaster: number, acl: boolean) {
    this.nodes = nodes;
    this.masters = nodes.slice(0, masterCount);
    this.replicas = nodes.slice(masterCount);
    this.replicasPerMaster = replicasPerMaster;
    this.acl = acl;
    this.admin = { ...nodes[0]!.admin };
  }

  get seeds(): { host: string; port: number }[] {
    return this.nodes.map((node) => ({ host: node.host, port: node.port }));
  }

  get url(): string {
    return this.masters[0]!.url;
  }

  masterOf(replica: RedisServer): RedisServer {
    const index = this.replicas.indexOf(replica);
    if (index === -1) throw new Error("masterOf: not a replica of this cluster");
    return this.masters[Math.floor(index / this.replicasPerMaster)]!;
  }

  client(options: ClusterOptions = {}): Cluster {
    if (this.stopped) throw new Error("the cluster was stopped");
    const redisOptions: RedisOptions = {
      ...(this.acl ? { username: this.admin.username, password: this.admin.password } : {}),
      ...options.redisOptions,
    };
    const client = new Cluster(this.seeds, { ...options, redisOptions });
    this.clients.add(client);
    client.once("end", () => this.clients.delete(client));
    return client;
  }

  /** Slots, MEET, convergence, replicas, then a SET/GET through a cluster client on every master. */
  async form(budgetMs: number): Promise<void> {
    const deadline = Date.now() + budgetMs;
    const remaining = () => Math.max(1_000, deadline - Date.now());
    const total = this.nodes.length;
    const clients = this.nodes.map((node) => node.client({ maxRetriesPerRequest: 1 }));
    for (const client of clients) client.on("error", () => undefined);
    try {
      this.nodeIds = (await Promise.all(clients.map((c) => c.call("CLUSTER", "MYID")))) as string[];
      // Distinct config epochs up front, like redis-cli does, so nodes need not resolve collisions.
      await Promise.all(
        clients.map((c, i) => c.call("CLUSTER", "SET-CONFIG-EPOCH", String(i + 1)).catch(() => undefined)),
      );
      const ranges = splitSlots(this.masters.length);
      await Promise.all(ranges.map(([start, end], i) => addSlotRange(clients[i]!, start, end)));
      const first = this.nodes[0]!;
      const meetArgs = [
        first.host,
        String(first.port),
        ...(first.clusterPort ? [String(first.clusterPort)] : []),
      ];
      await Promise.all(clients.slice(1).map((c) => c.call("CLUSTER", "MEET", ...meetArgs)));

      await waitUntil(
        `cluster_state:ok and cluster_known_nodes:${total} on every node`,
        remaining(),
        async () => {
          const infos = (await Promise.all(clients.map((c) => c.call("CLUSTER", "INFO")))) as string[];
          return infos.every(
            (info) =>
              infoField(info, "cluster_state") === "ok" &&
              Number(infoField(info, "cluster_known_nodes")) === total,
          );
        },
      );

      if (this.replicas.length > 0) await this.attachReplicas(clients, remaining);
    } finally {
      for (const client of clients) client.disconnect();
    }
    await this.verifyWithClusterClient(remaining());
  }

  private async attachReplicas(clients: Redis[], remaining: () => number): Promise<void> {
    const masterCount = this.masters.length;
    const masterIdOf = (r: number) => this.nodeIds[Math.floor(r / this.replicasPerMaster)]!;
    const replicaClients = clients.slice(masterCount);
    await Promise.all(
      replicaClients.map((client, r) =>
        waitUntil(`CLUSTER REPLICATE on replica ${r}`, remaining(), async () => {
          await client.call("CLUSTER", "REPLICATE", masterIdOf(r));
          return true;
        }),
      ),
    );
    await waitUntil(
      "every replica to show up as a slave of its master on every node",
      remaining(),
      async () => {
        const views = (await Promise.all(clients.map((c) => c.call("CLUSTER", "NODES")))) as string[];
        for (const view of views) {
          const entries = parseClusterNodes(view);
          for (let r = 0; r < this.replicas.length; r++) {
            const entry = entries.get(this.nodeIds[masterCount + r]!);
            const isReplica = entry?.flags.includes("slave") || entry?.flags.includes("replica");
            if (!isReplica || entry?.masterId !== masterIdOf(r)) return false;
          }
        }
        const links = (await Promise.all(replicaClients.map((c) => c.info("replication")))) as string[];
        if (!links.every((info) => infoField(info, "master_link_status") === "up")) return false;
        const infos = (await Promise.all(clients.map((c) => c.call("CLUSTER", "INFO")))) as string[];
        return infos.every((info) => infoField(info, "cluster_state") === "ok");
      },
    );
  }

  private async verifyWithClusterClient(budgetMs: number): Promise<void> {
    const ranges = splitSlots(this.masters.length);
    const client = this.client({ maxRedirections: 16, retryDelayOnClusterDown: 100 });
    client.on("error", () => undefined);
    try {
      await waitUntil("an ioredis Cluster client to SET/GET a key on every master", budgetMs, async () => {
        for (const [i, [start, end]] of ranges.entries()) {
          const key = keyInSlotRange(start, end);
          const value = `master-${i}`;
          await client.set(key, value);
          if ((await client.get(key)) !== value) return false;
          await client.del(key);
        }
        return true;
      });
    } finally {
      client.disconnect();
    }
  }

  stop(): Promise<void> {
    this.stopPromise ??= this.doStop();
    return this.stopPromise;
  }

  private async doStop(): Promise<void> {
    this.stopped = true;
    for (const client of this.clients) client.disconnect();
    this.clients.clear();
    const results = await Promise.allSettled(this.nodes.map((node) => node.stop()));
    untrackGroup(this);
    const errors = results.flatMap((r) => (r.status === "rejected" ? [r.reason] : []));
    if (errors.length > 0)
      throw new AggregateError(errors, `cluster stop: ${errors.length} node(s) failed to stop`);
  }
}

/**
 * Starts a Redis Cluster of real redis-server processes on free ports: `masters` masters (default 3)
 * sharing all 16384 slots, `replicasPerMaster` replicas each (default 0), ACL on by default.
 * Resolves once every node reports cluster_state:ok, replicas are attached and in sync, and an
 * ioredis Cluster client can SET/GET on every master.
 */
export async function startCluster(options: StartClusterOptions = {}): Promise<RedisCluster> {
  const masterCount = options.masters ?? 3;
  const replicasPerMaster = options.replicasPerMaster ?? 0;
  const acl = options.acl ?? true;
  if (!Number.isInteger(masterCount) || masterCount < 1 || masterCount > 16384) {
    throw new Error(`startCluster: masters must be an integer in 1..16384, got ${masterCount}`);
  }
  if (!Number.isInteger(replicasPerMaster) || replicasPerMaster < 0) {
    throw new Error(
      `startCluster: replicasPerMaster must be a non-negative integer, got ${replicasPerMaster}`,
    );
  }
  const admin = acl ? { username: ADMIN_USERNAME, password: randomPassword() } : undefined;
  const total = masterCount * (1 + replicasPerMaster);
  const started = await Promise.allSettled(
    Array.from({ length: total }, () => startRedis({ cluster: true, acl, ...(admin ? { admin } : {}) })),
  );
  const nodes = started.flatMap((r) => (r.status === "fulfilled" ? [r.value] : []));
  const failure = started.find((r) => r.status === "rejected");
  if (failure) {
    await Promise.allSettled(nodes.map((node) => node.stop()));
    throw failure.reason;
  }

  const cluster = new ManagedRedisCluster(nodes, masterCount, replicasPerMaster, acl);
  trackGroup(cluster);
  try {
    await cluster.form(options.formTimeoutMs ?? DEFAULT_FORM_TIMEOUT_MS);
  } catch (error) {
    const tails = nodes.map((node) => `--- node ${node.port} ---\n${node.logTail(15)}`).join("\n");
    await cluster.stop().catch(() => undefined);
    throw new Error(`startCluster: ${error instanceof Error ? error.message : String(error)}\n${tails}`, {
      cause: error,
    });
  }
  return cluster;
}
