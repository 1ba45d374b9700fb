/** The loud warning `plan` and `apply` print for services with `allowDangerous: true`. */
import { type AccessFinding, commandLabel } from "@cacheplane/provisioner";

/**
 * One block per service: every dangerous command its user can run, as the server answered
 * `ACL DRYRUN`, and on which nodes. Empty string when there is nothing to warn about.
 */
export function formatDangerousGrants(findings: readonly AccessFinding[]): string {
  if (findings.length === 0) return "";
  const byService = new Map<string, { userId: string; commands: Map<string, Set<string>> }>();
  for (const f of findings) {
    let entry = byService.get(f.service);
    if (!entry) {
      entry = { userId: f.userId, commands: new Map() };
      byService.set(f.service, entry);
    }
    let nodes = entry.commands.get(f.command);
    if (!nodes) {
      nodes = new Set();
      entry.commands.set(f.command, nodes);
    }
    nodes.add(f.node);
  }
  const lines = [
    "!! DANGEROUS ACCESS: these services have allowDangerous: true and can run commands that break isolation",
    "!! between services (verified with ACL DRYRUN on every node):",
  ];
  for (const [service, entry] of [...byService].sort(([a], [b]) => a.localeCompare(b))) {
    const commands = [...entry.commands.keys()].sort().map(commandLabel);
    const nodes = new Set([...entry.commands.values()].flatMap((n) => [...n]));
    lines.push(
      `!!   ${service} (user ${entry.userId}) on ${nodes.size} node${nodes.size === 1 ? "" : "s"}: ${commands.join(", ")}`,
    );
  }
  lines.push(
    "!! Remove allowDangerous (and the grants) unless every other service may trust this one fully.",
  );
  return lines.join("\n");
}
