/**
 * Opening the admin connections of a target: one node for a standalone server, every master and
 * replica for a Redis Cluster (ACL state is per node; a cluster client would send each command to one
 * node only).
 */
import { isIP } from "node:net";
import type { ConnectionOptions } from "node:tls";
import { AdminConnection } from "./admin-connection.js";
import { type AdminEndpoint, formatAddress, type NodeAddress } from "./admin-url.js";
import { type ClusterNode, parseClusterNodes } from "./cluster-topology.js";
import { TargetError } from "./errors.js";

/** TLS settings for admin connections (the URL scheme `rediss://` turns TLS on). */
export interface AdminTlsOptions {
  /** PEM CA certificate(s) to trust, for private CAs. @default the system's trust store */
  ca?: string | Buffer;
  /** @default true. Only turn off against a throw-away local server. */
  rejectUnauthorized?: boolean;
  /** Name to check the server certificate against. @default the URL's host name, when it is not an IP */
  servername?: string;
}

/** The connections of a target, first node first (the one plans read from). */
export interface OpenedNodes {
  connections: AdminConnection[];
  /** Cluster nodes as discovered (empty for a standalone server). */
  topology: ClusterNode[];
}

function tlsSettings(
  endpoint: AdminEndpoint,
  tls: AdminTlsOptions | undefined,
): ConnectionOptions | undefined {
  if (!endpoint.tls) return undefined;
  const options: ConnectionOptions = {};
  if (tls?.ca !== undefined) options.ca = tls.ca;
  if (tls?.rejectUnauthorized !== undefined) options.rejectUnauthorized = tls.rejectUnauthorized;
  const servername = tls?.servername ?? (isIP(endpoint.host) === 0 ? endpoint.host : undefined);
  if (servername !== undefined) options.servername = servername;
  return options;
}

function settingsFor(
  endpoint: AdminEndpoint,
  address: NodeAddress,
  tls: AdminTlsOptions | undefined,
  connectTimeoutMs?: number,
) {
  return {
    address,
    ...(endpoint.username !== undefined ? { username: endpoint.username } : {}),
    ...(endpoint.password !== undefined ? { password: endpoint.password } : {}),
    ...(endpoint.tls ? { tls: tlsSettings(endpoint, tls) ?? {} } : {}),
    ...(connectTimeoutMs !== undefined ? { connectTimeoutMs } : {}),
  };
}

/**
 * Connects to a standalone server and checks it is not a cluster node (applying ACL changes to one
 * node of a cluster would leave the others behind).
 */
export async function openStandalone(
  endpoint: AdminEndpoint,
  tls: AdminTlsOptions | undefined,
  connectTimeoutMs?: number,
): Promise<OpenedNodes> {
  const connection = await AdminConnection.open(settingsFor(endpoint, endpoint, tls, connectTimeoutMs));
  try {
    await connection.call(["CLUSTER", "INFO"]);
  } catch {
    // "cluster support disabled": a plain server, as expected. NOPERM etc.: cannot tell, carry on.
    return { connections: [connection], topology: [] };
  }
  await connection.close();
  throw new TargetError(
    `${connection.address} is a Redis Cluster node, but the target was opened as a standalone server. ` +
      "Pass cluster: true (ACL users are per node; Cacheplane then applies them to every node).",
    { node: connection.address },
  );
}

/** Connects to the first seed that answers, discovers every node with CLUSTER NODES and connects to each. */
export async function openCluster(
  seeds: readonly AdminEndpoint[],
  tls: AdminTlsOptions | undefined,
  connectTimeoutMs?: number,
): Promise<OpenedNodes> {
  const failures: string[] = [];
  for (const seed of seeds) {
    let connection: AdminConnection;
    try {
      connection = await AdminConnection.open(settingsFor(seed, seed, tls, connectTimeoutMs));
    } catch (error) {
      failures.push(error instanceof Error ? error.message : String(error));
      continue;
    }
    let topology: ClusterNode[];
    try {
      const reply = await connection.call(["CLUSTER", "NODES"]);
      topology = parseClusterNodes(String(reply), seed);
    } catch (error) {
      await connection.close();
      if (error instanceof TargetError && /cluster support disabled/i.test(error.serverMessage ?? "")) {
        throw new TargetError(
          `${connection.address} is not a Redis Cluster node, but the target was opened in cluster mode. ` +
            "Drop cluster: true and pass a single admin URL for a standalone server.",
          { node: connection.address },
        );
      }
      failures.push(error instanceof Error ? error.message : String(error));
      continue;
    }
    await connection.close();
    if (topology.length === 0) {
      failures.push(`${formatAddress(seed)} listed no nodes in CLUSTER NODES`);
      continue;
    }
    return { connections: await connectAll(topology, seed, tls, connectTimeoutMs), topology };
  }
  throw new TargetError(
    `No cluster seed could be used to discover the nodes:\n${failures.map((f) => `  - ${f}`).join("\n")}`,
  );
}

async function connectAll(
  topology: readonly ClusterNode[],
  seed: AdminEndpoint,
  tls: AdminTlsOptions | undefined,
  connectTimeoutMs?: number,
): Promise<AdminConnection[]> {
  const results = await Promise.allSettled(
    topology.map((node) => AdminConnection.open(settingsFor(seed, node.address, tls, connectTimeoutMs))),
  );
  const opened = results.flatMap((r) => (r.status === "fulfilled" ? [r.value] : []));
  const failed = results.flatMap((r, i) =>
    r.status === "rejected" ? [{ node: topology[i]!, error: r.reason }] : [],
  );
  if (failed.length === 0) return opened;
  await Promise.all(opened.map((c) => c.close()));
  const lines = failed.map(({ node, error }) => {
    const role = node.role === "master" ? "master" : "replica";
    const status = node.flags.includes("fail") ? ", marked failed by the cluster" : "";
    return `  - ${role} ${node.id.slice(0, 8)} (${formatAddress(node.address)}${status}): ${error instanceof Error ? error.message : String(error)}`;
  });
  throw new TargetError(
    `Cannot reach ${failed.length} of ${topology.length} cluster nodes. ACL users are per node, so every ` +
      `master and replica must be reachable; bring the node back or remove it (CLUSTER FORGET):\n${lines.join("\n")}`,
    { node: formatAddress(failed[0]!.node.address) },
  );
}
