/**
 * ElastiCache quotas checked at synth time, per CDK app: at most 100 users in one user group (a Redis
 * OSS group's `default` user counts, and so do the users a `CachePlatform` puts in itself), and at most
 * 1,000 users and 100 user groups per account and region. Counted when the app is synthesized (a
 * construct validation), so the construct that goes past a quota is named whatever the order the
 * stacks were built in. Services deployed from other CDK apps are not seen here: `cacheplane plan
 * --elasticache` checks the real group.
 */
import { Stack, Token } from "aws-cdk-lib";
import type { IConstruct } from "constructs";
import { type ICachePlatform, platformKey } from "./cache-platform-interface.js";

/** ElastiCache quotas (per user group, and per account and region). */
export const ELASTICACHE_QUOTAS = {
  usersPerUserGroup: 100,
  usersPerAccount: 1000,
  userGroupsPerAccount: 100,
};

interface Group {
  /** Users the platform itself puts in the group (default user, `users`), when it is in this app. */
  platformUsers?: number;
  /** Services joining the group, in construction order. */
  members: IConstruct[];
}

interface Registry {
  groups: Map<string, Group>;
  /** Per account/region: users the platforms own, service users, and platforms (one group each). */
  platformUsers: Map<string, number>;
  users: Map<string, IConstruct[]>;
  platforms: Map<string, IConstruct[]>;
}

const registries = new WeakMap<IConstruct, Registry>();

function registryOf(scope: IConstruct): Registry {
  const root = scope.node.root;
  let registry = registries.get(root);
  if (!registry) {
    registry = { groups: new Map(), platformUsers: new Map(), users: new Map(), platforms: new Map() };
    registries.set(root, registry);
  }
  return registry;
}

function accountRegion(scope: IConstruct, region: string): string {
  const account = Stack.of(scope).account;
  return `${Token.isUnresolved(account) ? "this account" : account}/${region}`;
}

function push<T>(map: Map<string, T[]>, key: string, value: T): T[] {
  const list = map.get(key) ?? [];
  if (!list.includes(value)) list.push(value);
  map.set(key, list);
  return list;
}

/** Records a platform defined in this app and the users it puts in its own group. */
export function registerPlatform(platform: ICachePlatform & IConstruct, ownUsers: number): void {
  const registry = registryOf(platform);
  const group = registry.groups.get(platformKey(platform)) ?? { members: [] };
  group.platformUsers = ownUsers;
  registry.groups.set(platformKey(platform), group);
  const where = accountRegion(platform, platform.platformRegion);
  const platforms = push(registry.platforms, where, platform);
  registry.platformUsers.set(where, (registry.platformUsers.get(where) ?? 0) + ownUsers);
  platform.node.addValidation({
    validate: () => {
      const index = platforms.indexOf(platform);
      return index >= ELASTICACHE_QUOTAS.userGroupsPerAccount
        ? [
            `this is user group number ${index + 1} in ${where}; ElastiCache allows ${ELASTICACHE_QUOTAS.userGroupsPerAccount} ` +
              "user groups per account and region (ask AWS for a higher quota, or share a platform)",
          ]
        : [];
    },
  });
}

/**
 * Records that `member` (a `ServiceCacheAccess`) puts one user into `platform`'s group, and adds the
 * synth-time check of the group and account quotas to it.
 */
export function registerMember(member: IConstruct, platform: ICachePlatform): void {
  const registry = registryOf(member);
  const key = platformKey(platform);
  const group = registry.groups.get(key) ?? { members: [] };
  registry.groups.set(key, group);
  if (!group.members.includes(member)) group.members.push(member);
  const where = accountRegion(member, platform.platformRegion);
  const users = push(registry.users, where, member);
  member.node.addValidation({
    validate: () => {
      const problems: string[] = [];
      // Without the platform in this app: a Redis OSS group holds at least its `default` user.
      const own = group.platformUsers ?? (platform.userGroupEngine === "redis" ? 1 : 0);
      const position = own + group.members.indexOf(member) + 1;
      if (position > ELASTICACHE_QUOTAS.usersPerUserGroup) {
        problems.push(
          `this service would be user ${position} of the user group of platform ${key}` +
            (own > 0
              ? ` (${own} of them the platform's own, a Redis OSS group's default user included)`
              : "") +
            `; ElastiCache allows ${ELASTICACHE_QUOTAS.usersPerUserGroup} users per user group. ` +
            "Put services beyond that on another platform (a second CachePlatform with its own cache and user group)",
        );
      }
      const number = (registry.platformUsers.get(where) ?? 0) + users.indexOf(member) + 1;
      if (number > ELASTICACHE_QUOTAS.usersPerAccount) {
        problems.push(
          `this would be ElastiCache user number ${number} in ${where}; the quota is ${ELASTICACHE_QUOTAS.usersPerAccount} ` +
            "users per account and region (ask AWS for a higher quota, or use another account or region)",
        );
      }
      return problems;
    },
  });
}
