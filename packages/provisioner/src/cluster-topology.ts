/** Discovering every node of a Redis Cluster (masters and replicas) from `CLUSTER NODES`. */
import type { NodeAddress } from "./admin-url.js";

/** One node as `CLUSTER NODES` lists it. */
export interface ClusterNode {
  id: string;
  address: NodeAddress;
  role: "master" | "replica";
  flags: string[];
  /** The master's node id, for replicas. */
  masterId?: string;
}

/**
 * Parses a `CLUSTER NODES` reply. Lines look like
 * `<id> <ip:port@cport[,hostname]> <flags> <master-id|-> <ping> <pong> <epoch> <link> [slots...]`.
 * Nodes in `handshake` or without an address (`noaddr`) are left out: they cannot hold ACL state yet.
 * `self` is used for the `myself` line when the node does not know its own IP (an empty host).
 */
export function parseClusterNodes(text: string, self: NodeAddress): ClusterNode[] {
  const nodes: ClusterNode[] = [];
  for (const line of text.split("\n")) {
    const fields = line.trim().split(" ");
    const [id, addressField, flagsField, masterField] = fields;
    if (!id || !addressField || !flagsField || !masterField) continue;
    const flags = flagsField.split(",");
    if (flags.includes("handshake") || flags.includes("noaddr")) continue;
    const hostPort = addressField.split(",")[0]!.split("@")[0]!;
    const colon = hostPort.lastIndexOf(":");
    if (colon === -1) continue;
    let host = hostPort.slice(0, colon).replace(/^\[(.*)\]$/, "$1");
    let port = Number(hostPort.slice(colon + 1));
    if ((host === "" || port === 0) && flags.includes("myself")) {
      host = self.host;
      port = self.port;
    }
    if (host === "" || !Number.isInteger(port) || port <= 0) continue;
    const node: ClusterNode = {
      id,
      address: { host, port },
      role: flags.includes("master") ? "master" : "replica",
      flags,
    };
    if (masterField !== "-") node.masterId = masterField;
    nodes.push(node);
  }
  // Masters first, then replicas; stable by address within each group.
  const key = (n: ClusterNode) =>
    `${n.role === "master" ? 0 : 1} ${n.address.host} ${String(n.address.port).padStart(5, "0")}`;
  return nodes.sort((a, b) => key(a).localeCompare(key(b)));
}
