/**
 * Asking a node how it spells access strings (docs/decisions/0003). Each string is set on a
 * short-lived probe user, `ACL SETUSER cacheplane-probe-<random>-<n> reset <rules> resetpass off`:
 * whatever the rules say, the probe ends up disabled and without any password (`resetpass` after the
 * rules also drops a `nopass`), so nobody can log in as it even if a crash leaves it behind. One
 * `ACL LIST` reads all probes back, then they are deleted. The leading on/off flag is then set to what
 * the rules declare, so a disabled service compares as disabled.
 *
 * Canonical forms are per node: Redis 7.0 lists per-command rules in the order of its command table,
 * which is hashed with a per-process random seed, so two nodes spell the same rules in different
 * orders. A node's spelling is stable for the life of its process, so results are cached per node.
 */
import { randomBytes } from "node:crypto";
import {
  declaresEnabled,
  hasCredentialRule,
  PROBE_USER_PREFIX,
  parseAclList,
  ruleTokens,
  withEnabledFlag,
} from "./acl-rules.js";
import type { AdminConnection } from "./admin-connection.js";
import { TargetError } from "./errors.js";

const ATTEMPTS = 3;

/** Throws when an access string carries a password rule; passwords come from secrets only. */
export function assertNoCredentialRules(accessStrings: readonly string[], owner?: string): void {
  accessStrings.forEach((access, i) => {
    if (hasCredentialRule(access))
      throw new TargetError(
        `${owner ? `The access string of ${owner}` : `Access string #${i + 1}`} contains a password rule ` +
          "(>, <, #, ! or nopass); passwords come from the service's secret only.",
      );
  });
}

/** Per-node cache of canonical access strings, filled through probe users. */
export class AccessCanonicalizer {
  private readonly cache = new Map<AdminConnection, Map<string, string>>();
  private readonly cleaned = new Set<AdminConnection>();

  /** The canonical spelling of each string on `node`, in input order. */
  async on(node: AdminConnection, accessStrings: readonly string[]): Promise<string[]> {
    assertNoCredentialRules(accessStrings);
    let known = this.cache.get(node);
    if (!known) {
      known = new Map();
      this.cache.set(node, known);
    }
    const missing = [...new Set(accessStrings)].filter((a) => !known.has(a));
    if (missing.length > 0) {
      const found = await this.probe(node, missing);
      for (const [access, canonical] of found) known.set(access, canonical);
    }
    return accessStrings.map((a) => known.get(a)!);
  }

  private async probe(node: AdminConnection, accessStrings: readonly string[]): Promise<Map<string, string>> {
    await this.removeLeftovers(node);
    const run = randomBytes(6).toString("hex");
    const probes = accessStrings.map((_, i) => `${PROBE_USER_PREFIX}${run}-${i}`);
    try {
      for (let attempt = 1; attempt <= ATTEMPTS; attempt++) {
        await Promise.all(accessStrings.map((access, i) => this.setProbe(node, probes[i]!, access)));
        const listed = parseAclList(await node.call(["ACL", "LIST"]));
        const result = new Map<string, string>();
        accessStrings.forEach((access, i) => {
          const entry = listed.get(probes[i]!);
          if (entry) result.set(access, withEnabledFlag(entry.access, declaresEnabled(access)));
        });
        // A probe can vanish when another planner removes "leftover" probes at the same moment: set again.
        if (result.size === accessStrings.length) return result;
      }
      throw new TargetError(
        `Probe users on ${node.address} kept disappearing; is another process deleting users?`,
        {
          node: node.address,
        },
      );
    } finally {
      await node.call(["ACL", "DELUSER", ...probes]).catch(() => undefined);
    }
  }

  private async setProbe(node: AdminConnection, probe: string, access: string): Promise<void> {
    try {
      await node.call(["ACL", "SETUSER", probe, "reset", ...ruleTokens(access), "resetpass", "off"]);
    } catch (error) {
      if (!(error instanceof TargetError)) throw error;
      const reason = error.serverMessage ?? error.message;
      throw new TargetError(`${node.address} rejects the access string "${access}": ${reason}`, {
        node: node.address,
        serverMessage: reason,
      });
    }
  }

  /** Deletes probe users a crashed run left behind (once per node and canonicalizer). */
  private async removeLeftovers(node: AdminConnection): Promise<void> {
    if (this.cleaned.has(node)) return;
    this.cleaned.add(node);
    const listed = parseAclList(await node.call(["ACL", "LIST"]));
    const leftovers = [...listed.keys()].filter((name) => name.startsWith(PROBE_USER_PREFIX));
    if (leftovers.length > 0) await node.call(["ACL", "DELUSER", ...leftovers]);
  }
}
