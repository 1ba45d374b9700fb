/**
 * Rule-level differences between two canonical access strings, for reviewing drift. Servers rewrite
 * rules when they store them (`ACL SETUSER u +flushall` on a user with `-flushall` just drops the
 * `-flushall`), so the two full strings a plan shows can be long and look alike; this names the rules
 * that differ.
 */
import type { PlanAction } from "@cacheplane/core";

/** Rules present on one side only (order is ignored; rules repeated on one side count once per occurrence). */
export interface AccessRuleDiff {
  /** Rules the target has that the config does not declare (e.g. `~*`, `nopass`). */
  onlyActual: string[];
  /** Rules the config declares that the target lacks (e.g. `-flushall`). */
  onlyDesired: string[];
}

function countTokens(access: string): Map<string, number> {
  const counts = new Map<string, number>();
  for (const token of access.trim().split(/\s+/)) if (token) counts.set(token, (counts.get(token) ?? 0) + 1);
  return counts;
}

function minus(a: Map<string, number>, b: Map<string, number>): string[] {
  const out: string[] = [];
  for (const [token, n] of a) for (let i = b.get(token) ?? 0; i < n; i++) out.push(token);
  return out;
}

/** The rules that differ between what a target has (`actual`) and what the config declares (`desired`). */
export function accessRuleDiff(actual: string, desired: string): AccessRuleDiff {
  const a = countTokens(actual);
  const d = countTokens(desired);
  return { onlyActual: minus(a, d), onlyDesired: minus(d, a) };
}

/**
 * One line per modify-user action with an access change, naming the differing rules, e.g.
 * `svca: target has +flushall ~*; config wants -flushall`. Empty when there is none. Print it under
 * core's `formatPlan`. When only the order of rules differs, says so.
 */
export function describeAccessChanges(actions: readonly PlanAction[]): string {
  const lines: string[] = [];
  for (const action of actions) {
    if (action.type !== "modify-user" || !action.changes.includes("access")) continue;
    const { onlyActual, onlyDesired } = accessRuleDiff(action.previousAccessString, action.accessString);
    const parts: string[] = [];
    if (onlyActual.length > 0) parts.push(`target has ${onlyActual.join(" ")}`);
    if (onlyDesired.length > 0) parts.push(`config wants ${onlyDesired.join(" ")}`);
    lines.push(
      `${action.userId}: ${parts.length > 0 ? parts.join("; ") : "same rules in a different order"}`,
    );
  }
  return lines.join("\n");
}
