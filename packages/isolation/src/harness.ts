/**
 * Real targets for the matrix: a standalone redis-server, a 3-master cluster, and the gateway in
 * front of the standalone server, each provisioned by the provisioner, with canaries, live victim
 * subscriptions (so channel enumeration has something to find) and, for scripting services, a
 * cached victim script.
 */
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { PlatformConfig } from "@cacheplane/core";
import type { SecretPayload } from "@cacheplane/core/secret";
import { scriptLibrary } from "@cacheplane/core/server-scripts";
import { ensureServiceTokens, startGatewayServer } from "@cacheplane/gateway";
import { keySlot, type RedisCluster, type RedisServer, startCluster, startRedis } from "@cacheplane/testkit";
import { type Cluster, Redis } from "ioredis";
import type { MatrixRun, MatrixServer } from "./matrix.js";
import {
  type Canaries,
  canariesFor,
  ensureLibrary,
  matrixConfig,
  provisionMatrix,
  runToken,
  seedCanaries,
  victimScript,
} from "./platform.js";
import { DirectTransport, type GatewayTokens, GatewayTransport, type Transport } from "./transports.js";

/** A provisioned target with everything `runMatrix` needs, and how to tear it down. */
export interface MatrixTarget extends MatrixRun {
  config: PlatformConfig;
  secrets: Record<string, SecretPayload>;
  secretsDir: string;
  close(): Promise<void>;
}

interface Node {
  host: string;
  port: number;
}

/** Victim sessions: a subscriber per service on every node, and scripting services' cached scripts. */
class VictimSessions {
  private clients: Redis[] = [];

  constructor(
    private readonly nodes: readonly Node[],
    private readonly keyedNode: number,
    private readonly secrets: Record<string, SecretPayload>,
    private readonly canaries: Map<string, Canaries>,
  ) {}

  async start(): Promise<void> {
    for (const c of this.canaries.values()) {
      const secret = this.secrets[c.service.name]!;
      for (const [i, node] of this.nodes.entries()) {
        const client = new Redis({
          host: node.host,
          port: node.port,
          username: secret.username,
          password: secret.password,
          enableReadyCheck: false,
          maxRetriesPerRequest: 0,
          // A victim connection an attack closed stays closed; restore() opens new ones.
          retryStrategy: () => null,
          autoResubscribe: false,
        });
        client.on("error", () => undefined);
        this.clients.push(client);
        if (c.service.scripting) c.scriptSha = String(await client.script("LOAD", victimScript(c)));
        if (i === this.keyedNode) {
          c.clientId = Number(await client.call("CLIENT", "ID"));
          await client.ssubscribe(c.shardChannel);
        }
        await client.subscribe(c.channel);
      }
    }
  }

  async stop(): Promise<void> {
    for (const client of this.clients) client.disconnect();
    this.clients = [];
  }
}

function serverFor(
  config: PlatformConfig,
  admin: Redis | Cluster,
  nodes: Redis[],
  canaries: Map<string, Canaries>,
  reprovision: () => Promise<void>,
  sessions: VictimSessions,
): MatrixServer {
  return {
    admin,
    nodes,
    serviceUsers: config.services.map((s) => s.userId),
    libraryName: scriptLibrary().name,
    async restore() {
      for (const node of nodes) await ensureLibrary(node);
      await reprovision();
      for (const c of canaries.values()) await seedCanaries(admin, c);
      await sessions.stop();
      await sessions.start();
    },
  };
}

async function build(
  transportFor: (nodes: Node[], keyed: number, secrets: Record<string, SecretPayload>) => Transport,
  nodes: Node[],
  adminUrl: string,
  cluster: boolean,
  admin: Redis | Cluster,
  adminNodes: Redis[],
  stop: () => Promise<void>,
  config = matrixConfig(),
): Promise<MatrixTarget> {
  const token = runToken();
  const secretsDir = await mkdtemp(join(tmpdir(), "cacheplane-matrix-"));
  const reprovision = async () => {
    await provisionMatrix(config, adminUrl, cluster, secretsDir);
  };
  const secrets = await provisionMatrix(config, adminUrl, cluster, secretsDir);
  const canaries = new Map(config.services.map((s) => [s.name, canariesFor(s, token)]));
  for (const c of canaries.values()) await seedCanaries(admin, c);
  const slot = keySlot([...canaries.values()][0]!.keys.str);
  let keyed = 0;
  if (cluster) {
    const slots = (await adminNodes[0]!.call("CLUSTER", "SLOTS")) as [number, number, [string, number]][];
    const owner = slots.find(([from, to]) => slot >= from && slot <= to)!;
    keyed = nodes.findIndex((n) => n.port === Number(owner[2][1]));
  }
  const sessions = new VictimSessions(nodes, keyed, secrets, canaries);
  await sessions.start();
  const transport = transportFor(nodes, keyed, secrets);
  return {
    config,
    secrets,
    secretsDir,
    transport,
    token,
    canaries,
    server: serverFor(config, admin, adminNodes, canaries, reprovision, sessions),
    async close() {
      await transport.close();
      await sessions.stop();
      await stop();
      await rm(secretsDir, { recursive: true, force: true });
    },
  };
}

/** A standalone redis-server (ACL), provisioned, with direct connections as each service. */
export async function standaloneTarget(
  config?: PlatformConfig,
): Promise<MatrixTarget & { redis: RedisServer }> {
  const redis = await startRedis({ acl: true });
  const admin = redis.client();
  const node = { host: redis.host, port: redis.port };
  const target = await build(
    (nodes, keyed, secrets) => new DirectTransport("standalone", nodes, keyed, secrets),
    [node],
    redis.url,
    false,
    admin,
    [admin],
    async () => {
      admin.disconnect();
      await redis.stop();
    },
    config,
  );
  return { ...target, redis };
}

/** A 3-master cluster, provisioned on every node, attacked on every master. */
export async function clusterTarget(
  config?: PlatformConfig,
): Promise<MatrixTarget & { cluster: RedisCluster }> {
  const cluster = await startCluster({ masters: 3, replicasPerMaster: 0 });
  const admin = cluster.client();
  const adminNodes = cluster.masters.map((m) => m.client());
  const nodes = cluster.masters.map((m) => ({ host: m.host, port: m.port }));
  const target = await build(
    (n, keyed, secrets) => new DirectTransport("cluster", n, keyed, secrets),
    nodes,
    cluster.url,
    true,
    admin,
    adminNodes,
    async () => {
      admin.disconnect();
      for (const n of adminNodes) n.disconnect();
      await cluster.stop();
    },
    config,
  );
  return { ...target, cluster };
}

/**
 * The gateway in front of a standalone target (reusing its users, secrets and canaries), attacked
 * with the plain tokens, or with the namespaced ones (`namespaced`: virtual databases; KEYS, SCAN,
 * DBSIZE and FLUSHDB answered through the scanner identity, which the matrix config provisions).
 */
export async function gatewayTarget(standalone: MatrixTarget, namespaced = false): Promise<MatrixTarget> {
  const server = await startGatewayServer({
    config: standalone.config,
    secretsDir: standalone.secretsDir,
    port: 0,
    tokenRefreshIntervalMs: 0,
    logger: () => undefined,
  });
  const tokens: Record<string, GatewayTokens> = {};
  for (const s of standalone.config.services)
    tokens[s.name] = await ensureServiceTokens(standalone.secretsDir, s.name);
  const transport = new GatewayTransport(server.url, tokens, namespaced);
  return {
    ...standalone,
    transport,
    async close() {
      await server.close();
    },
  };
}
