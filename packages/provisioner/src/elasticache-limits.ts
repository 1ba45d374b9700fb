/**
 * ElastiCache's documented quotas that a plan can run into, checked before anything is changed:
 * at most 100 users per user group (a Redis OSS group's `default` user counts), and per account and
 * region at most 1,000 users and 100 user groups. `cacheplane plan` and `apply` against the
 * ElastiCache target fail early with the numbers and the fix instead of half-applying a plan that AWS
 * stops at the 101st member.
 */
import type { ActualState, PlanAction } from "@cacheplane/core";
import { ProvisionerError } from "./errors.js";

/** ElastiCache quotas (per user group, and per account and region). */
export const ELASTICACHE_LIMITS = {
  /** Users in one user group, the `default` user included. */
  usersPerUserGroup: 100,
  /** Users per account and region (every user, whoever created it). */
  usersPerAccount: 1000,
  /** User groups per account and region. */
  userGroupsPerAccount: 100,
} as const;

/** A plan that would break an ElastiCache quota. */
export class ElastiCacheLimitError extends ProvisionerError {
  override readonly name = "ElastiCacheLimitError";
  constructor(readonly problems: string[]) {
    super(`The plan exceeds ElastiCache quotas: ${problems.join("; ")}`);
  }
}

/** The members of the group and the users of the account once `actions` are applied to `actual`. */
export function countsAfterPlan(
  actions: readonly PlanAction[],
  actual: ActualState,
): { groupMembers: number | undefined; users: number } {
  const users = new Set(actual.users.map((u) => u.userId));
  for (const a of actions) {
    if (a.type === "create-user") users.add(a.userId);
    if (a.type === "delete-user") users.delete(a.userId);
  }
  if (!actual.userGroup) return { groupMembers: undefined, users: users.size };
  const members = new Set(actual.userGroup.userIds);
  for (const a of actions) {
    if (a.type === "add-to-group") members.add(a.userId);
    if (a.type === "remove-from-group" || a.type === "delete-user") members.delete(a.userId);
  }
  return { groupMembers: members.size, users: users.size };
}

/**
 * What in `actions` would break a quota, as sentences naming the numbers and the fix (empty when none).
 * `actual` must come from the ElastiCache target (it lists every user of the account and region).
 */
export function elastiCacheLimitProblems(actions: readonly PlanAction[], actual: ActualState): string[] {
  const problems: string[] = [];
  const { groupMembers, users } = countsAfterPlan(actions, actual);
  if (groupMembers !== undefined && groupMembers > ELASTICACHE_LIMITS.usersPerUserGroup) {
    problems.push(
      `user group ${actual.userGroup!.groupId} would hold ${groupMembers} users, ElastiCache allows ` +
        `${ELASTICACHE_LIMITS.usersPerUserGroup} per group (a Redis OSS group's default user counts); ` +
        "move services to another platform (another cache and user group) or remove services from this one",
    );
  }
  if (users > ELASTICACHE_LIMITS.usersPerAccount) {
    problems.push(
      `the account would have ${users} ElastiCache users in this region, the quota is ` +
        `${ELASTICACHE_LIMITS.usersPerAccount}; delete unused users (cacheplane apply --prune) or ask AWS for a higher quota`,
    );
  }
  return problems;
}

/** @throws ElastiCacheLimitError when `actions` would break a quota. */
export function assertWithinElastiCacheLimits(actions: readonly PlanAction[], actual: ActualState): void {
  const problems = elastiCacheLimitProblems(actions, actual);
  if (problems.length > 0) throw new ElastiCacheLimitError(problems);
}
