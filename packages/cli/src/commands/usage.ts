/**
 * `cacheplane usage`: keys, keys without TTL, estimated memory and connections per keyspace and user,
 * sampled on every node with the admin connection (SCAN steps with COUNT, MEMORY USAGE on a sample,
 * never KEYS), plus each node's memory, eviction and client figures and warnings about noisy
 * neighbours. What ACLs cannot bound (shared memory, CPU, connection slots) is made visible here.
 */
import type { PlatformConfig } from "@cacheplane/core";
import { NO_KEYSPACE, sampleUsage, type UsageReport } from "@cacheplane/provisioner";
import type { Command } from "commander";
import { loadConfig } from "../config-loader.js";
import { EXIT, UsageError } from "../errors.js";
import type { CommandContext } from "../io.js";
import { addTargetOptions, connectRedisTarget, type TargetFlags } from "../target-options.js";
import { type ActionFactory, type ConfigFlags, DEFAULT_CONFIG_FILE } from "./action.js";

/** Flags of `cacheplane usage`. */
export interface UsageFlags extends ConfigFlags, TargetFlags {
  count?: string;
  samples?: string;
  maxKeys?: string;
}

function positive(value: string | undefined, flag: string, fallback: number): number {
  if (value === undefined) return fallback;
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1) throw new UsageError(`${flag} ${value} must be a positive integer`);
  return n;
}

/** `1.5 MiB`, `12 KiB`, `800 B`. */
export function formatBytes(bytes: number): string {
  const units = ["B", "KiB", "MiB", "GiB", "TiB"];
  let value = bytes;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit++;
  }
  return `${unit === 0 ? value : value.toFixed(1)} ${units[unit]}`;
}

function table(rows: string[][]): string {
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => r[i]!.length)));
  return rows.map((r) => `  ${r.map((c, i) => c.padEnd(widths[i]!)).join("  ")}`.trimEnd()).join("\n");
}

const pct = (part: number, whole: number) => (whole > 0 ? `${Math.round((part / whole) * 100)}%` : "-");

/** Warnings that point at a noisy neighbour, each with what to do. */
export function usageWarnings(report: UsageReport): string[] {
  const warnings: string[] = [];
  const totalMemory = report.keyspaces.reduce((n, k) => n + k.memoryBytes, 0);
  const masters = report.nodes.filter((n) => n.role === "master");
  const evicting = masters.some((n) => n.maxMemoryPolicy.startsWith("allkeys"));
  for (const k of report.keyspaces) {
    const share = totalMemory > 0 ? k.memoryBytes / totalMemory : 0;
    if (k.keys >= 100 && k.keysWithoutTtl / k.keys >= 0.5 && share >= 0.2) {
      warnings.push(
        `keyspace "${k.keyspace}"${k.service ? ` (${k.service})` : ""} holds ${pct(k.memoryBytes, totalMemory)} of the sampled memory and ` +
          `${pct(k.keysWithoutTtl, k.keys)} of its keys have no TTL${evicting ? "; under allkeys eviction its growth evicts other services' keys" : ""}. ` +
          "Give its writes a TTL (the client's default TTL ceiling) or move it to its own cache.",
      );
    }
    if (k.service === undefined && k.sharedBy.length === 0 && k.keys > 0) {
      warnings.push(
        `${k.keys} key${k.keys === 1 ? "" : "s"} in ${k.keyspace === NO_KEYSPACE ? "no keyspace" : `keyspace "${k.keyspace}"`}, which no service declares: written by an admin or a removed service?`,
      );
    }
  }
  for (const n of masters) {
    if (n.maxMemoryBytes === 0)
      warnings.push(`${n.node} has no maxmemory: one service can use all of the host's memory.`);
    else if (n.usedMemoryBytes / n.maxMemoryBytes >= 0.9)
      warnings.push(
        `${n.node} uses ${pct(n.usedMemoryBytes, n.maxMemoryBytes)} of maxmemory (${n.maxMemoryPolicy}).`,
      );
    if (n.evictedKeys > 0)
      warnings.push(
        `${n.node} has evicted ${n.evictedKeys} keys since its start (policy ${n.maxMemoryPolicy}).`,
      );
  }
  for (const n of report.nodes) {
    if (n.maxClients > 0 && n.connectedClients / n.maxClients >= 0.8)
      warnings.push(`${n.node} has ${n.connectedClients} of ${n.maxClients} connection slots in use.`);
  }
  const totalConnections = report.users.reduce((s, u) => s + u.connections, 0);
  for (const u of report.users) {
    if (totalConnections >= 20 && u.connections / totalConnections >= 0.5)
      warnings.push(
        `user ${u.user}${u.service ? ` (${u.service})` : ""} holds ${pct(u.connections, totalConnections)} of all connections.`,
      );
  }
  return warnings;
}

/** The report as text. */
export function formatUsage(report: UsageReport): string {
  const lines: string[] = [];
  const masters = report.nodes.filter((n) => n.role === "master").length;
  lines.push(
    `Usage sampled ${report.sampledAt} on ${report.nodes.length} node${report.nodes.length === 1 ? "" : "s"} (${masters} scanned).`,
  );
  lines.push("", "Keyspaces (largest memory first; memory estimated from sampled MEMORY USAGE):");
  if (report.keyspaces.length === 0) lines.push("  (no keys)");
  else
    lines.push(
      table([
        ["keyspace", "service", "keys", "no TTL", "memory"],
        ...report.keyspaces.map((k) => [
          k.keyspace,
          k.service ?? (k.sharedBy.length > 0 ? `shared: ${k.sharedBy.join(", ")}` : "-"),
          `${k.estimated ? "~" : ""}${k.keys}`,
          `${k.keysWithoutTtl} (${pct(k.keysWithoutTtl, k.keys)})`,
          formatBytes(k.memoryBytes),
        ]),
      ]),
    );
  lines.push("", "Connections by user (every node):");
  if (report.users.length === 0) lines.push("  (none)");
  else
    lines.push(
      table([
        ["user", "service", "connections", "nodes"],
        ...report.users.map((u) => [
          u.user,
          u.service ?? "-",
          String(u.connections),
          String(Object.keys(u.perNode).length),
        ]),
      ]),
    );
  lines.push("", "Nodes:");
  lines.push(
    table([
      ["node", "role", "keys", "memory", "policy", "evicted", "clients"],
      ...report.nodes.map((n) => [
        n.node,
        n.role,
        String(n.keys),
        `${formatBytes(n.usedMemoryBytes)} / ${n.maxMemoryBytes > 0 ? formatBytes(n.maxMemoryBytes) : "no limit"}`,
        n.maxMemoryPolicy,
        String(n.evictedKeys),
        `${n.connectedClients} / ${n.maxClients}`,
      ]),
    ]),
  );
  const warnings = usageWarnings(report);
  if (warnings.length > 0) lines.push("", "Warnings:", ...warnings.map((w) => `  - ${w}`));
  return lines.join("\n");
}

/** Samples and prints usage; a progress line on stderr at most once a second on long scans. */
export async function runUsage(flags: UsageFlags, ctx: CommandContext): Promise<number> {
  const scanCount = positive(flags.count, "--count", 1000);
  const memorySamples = positive(flags.samples, "--samples", 100);
  const maxKeysPerNode = positive(flags.maxKeys, "--max-keys", 1_000_000);
  const config: PlatformConfig = await loadConfig(flags.config, ctx.io.cwd);
  const target = await connectRedisTarget(flags, ctx);
  let lastProgress = Date.now();
  let report: UsageReport;
  try {
    report = await sampleUsage(target.adminNodes, config, {
      scanCount,
      memorySamples,
      maxKeysPerNode,
      onProgress: (p) => {
        const now = Date.now();
        if (now - lastProgress < 1000) return;
        lastProgress = now;
        ctx.log(`usage: scanning ${p.node} (${p.nodeIndex}/${p.nodes}): ${p.scanned} of ~${p.total} keys`);
      },
    });
  } finally {
    await target.close().catch(() => undefined);
  }
  ctx.out(
    flags.json
      ? JSON.stringify({ ...report, warnings: usageWarnings(report) }, null, 2)
      : formatUsage(report),
  );
  return EXIT.ok;
}

/** Registers `usage` on the program. */
export function registerUsage(program: Command, action: ActionFactory): void {
  addTargetOptions(
    program
      .command("usage")
      .description(
        "keys, keys without TTL, memory and connections per keyspace and user (never blocks Redis)",
      )
      .option("--config <file>", "platform config file", DEFAULT_CONFIG_FILE),
    { secretsDir: false },
  )
    .option("--count <n>", "COUNT of each SCAN step", "1000")
    .option("--samples <n>", "keys per keyspace and node whose MEMORY USAGE is measured", "100")
    .option("--max-keys <n>", "stop scanning a node after n keys and extrapolate from DBSIZE", "1000000")
    .option("--json", "print the report as JSON on stdout", false)
    .action(action(runUsage));
}
