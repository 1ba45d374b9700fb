/**
 * The ElastiCache provisioning target: applies core plans through the ElastiCache API (AWS SDK v3)
 * to users and one user group. Every call is retried on throttling; every change waits until the user
 * is `active` and the group has left `modifying`, so the next step never races the last. Creating a
 * user that already exists (a retried or resumed apply) converges it instead of failing, and nothing is
 * ever deleted unless the plan says so and the user carries Cacheplane's `managed` tag.
 */
import {
  CreateUserCommand,
  DeleteUserCommand,
  DescribeUserGroupsCommand,
  DescribeUsersCommand,
  ElastiCacheClient,
  ListTagsForResourceCommand,
  ModifyUserCommand,
  ModifyUserGroupCommand,
  type User,
  type UserGroup,
} from "@aws-sdk/client-elasticache";
import {
  type ActualState,
  type ActualUser,
  type Engine,
  isAcceptablePassword,
  type PlatformConfig,
  RESERVED_USER_IDS,
} from "@cacheplane/core";
import { canonicalElastiCacheAccess } from "./elasticache-access.js";
import { describeAwsError, ElastiCacheTargetError, isTransientError } from "./elasticache-errors.js";
import { ELASTICACHE_LIMITS } from "./elasticache-limits.js";
import {
  type RetryClock,
  type RetryPolicy,
  resolveClock,
  type WaitPolicy,
  WaitTimeoutError,
  waitFor,
  withRetry,
} from "./elasticache-retry.js";
import { MANAGED_BY_PROVISIONER, MANAGED_TAG, provisionerTags, tagValue } from "./elasticache-tags.js";
import type { CreateUserAction, ProvisioningTarget } from "./types.js";

/** Where clients connect; put into every service secret. */
export interface ElastiCacheEndpoint {
  host: string;
  /** @default 6379 */
  port?: number;
  /** ElastiCache Serverless always uses TLS. @default true */
  tls?: boolean;
  /** ElastiCache Serverless speaks the cluster protocol. @default true */
  cluster?: boolean;
}

/** Options of {@link ElastiCacheTarget}. */
export interface ElastiCacheTargetOptions {
  /** The SDK client to use (its region and credentials). @default a new `ElastiCacheClient({ region })` */
  client?: ElastiCacheClient;
  /** Region of the default client. @default the SDK's region resolution (`AWS_REGION`, profile) */
  region?: string;
  /** Engine of users the target creates. @default the config's engine (from `readActual`), else `"valkey"` */
  engine?: Engine;
  /** Cache endpoint for `connectionInfo()`. @default the config's `endpoint` (from `readActual`) */
  endpoint?: ElastiCacheEndpoint;
  /** User group `readActual` reads. @default the config's `userGroupId` */
  userGroupId?: string;
  /**
   * Read each user's tags (ListTagsForResource) to find users Cacheplane created. Without it only the
   * ids passed to `readActual` count as managed. @default true
   */
  readTags?: boolean;
  /**
   * `cacheplane:managed` value of the users this target creates and may delete; users with another
   * value (or none) are never deleted. The CDK membership handler uses `"cloudformation"`, so that
   * `cacheplane apply --prune` never removes a user a stack owns.
   * @default "true" (MANAGED_BY_PROVISIONER)
   */
  ownerTag?: string;
  /** At most this many ListTagsForResource calls at once. @default 4 */
  tagReadConcurrency?: number;
  /** Retries of throttled or transiently failing calls. @default 8 attempts, 250 ms doubling to 20 s */
  retry?: RetryPolicy;
  /** Waits for `active` users and settled groups. @default polls from 1 s doubling to 15 s, for 10 minutes */
  wait?: WaitPolicy;
  /** Sleep/clock/random for retries and waits (tests). @default the real clock */
  clock?: Partial<RetryClock>;
  /**
   * Absolute time (epoch ms, on `clock.now()`) no retry or wait may pass, e.g. a Lambda's remaining time.
   * @default none
   */
  deadline?: number;
  /**
   * How long a membership change keeps retrying while other deployments change the same user group
   * (`InvalidUserGroupStateFault`), and the jittered pause between attempts (never past `deadline`).
   * @default a 15-minute budget; pauses drawn from [0, 2 s * 2^n), at most 30 s
   */
  membership?: { budgetMs?: number; baseDelayMs?: number; maxDelayMs?: number };
}

/** Group states in which ModifyUserGroup is accepted. */
const SETTLED_GROUP_STATES: ReadonlySet<string> = new Set(["active"]);

/**
 * `ProvisioningTarget` for Amazon ElastiCache (Serverless or node-based, Valkey or Redis OSS) with RBAC.
 *
 * ```ts
 * const target = new ElastiCacheTarget({ region: "eu-west-1", endpoint: { host: "shared-abc.serverless.euw1.cache.amazonaws.com" } });
 * const actual = await target.readActual(config, new Set(await store.listManagedUserIds()));
 * ```
 */
export class ElastiCacheTarget implements ProvisioningTarget {
  readonly kind = "elasticache" as const;
  readonly supportsGroups = true;

  private readonly client: ElastiCacheClient;
  private readonly ownsClient: boolean;
  private readonly options: ElastiCacheTargetOptions;
  private readonly clock: RetryClock;
  private config: PlatformConfig | undefined;
  private groupEngine: string | undefined;
  /** Users known to be Cacheplane's (from `readActual`, tags, or created by this instance). */
  private readonly knownManaged = new Set<string>();

  constructor(options: ElastiCacheTargetOptions = {}) {
    this.options = options;
    this.ownsClient = options.client === undefined;
    this.client =
      options.client ?? new ElastiCacheClient(options.region !== undefined ? { region: options.region } : {});
    this.clock = resolveClock(options.clock);
  }

  connectionInfo(): { host: string; port: number; tls: boolean; cluster: boolean } {
    const endpoint = this.options.endpoint ?? this.config?.endpoint;
    if (!endpoint) {
      throw new Error(
        "ElastiCacheTarget has no endpoint: pass `endpoint` (the platform's endpoint export) or set `endpoint` in the config",
      );
    }
    return {
      host: endpoint.host,
      port: endpoint.port ?? 6379,
      tls: endpoint.tls ?? true,
      cluster: endpoint.cluster ?? true,
    };
  }

  /** The `cacheplane:managed` value of users this target creates (and may delete). */
  get ownerTag(): string {
    return this.options.ownerTag ?? MANAGED_BY_PROVISIONER;
  }

  /** The engine new users get. */
  get engine(): Engine {
    const fromGroup =
      this.groupEngine === "redis" || this.groupEngine === "valkey" ? this.groupEngine : undefined;
    return this.options.engine ?? this.config?.engine ?? fromGroup ?? "valkey";
  }

  async readActual(config: PlatformConfig, managedUserIds: ReadonlySet<string>): Promise<ActualState> {
    this.config = config;
    const groupId = this.options.userGroupId ?? config.userGroupId;
    const users = (await this.listUsers()).filter((u) => u.UserId && u.Status !== "deleting");
    const managed = await this.findManaged(users, managedUserIds);
    const actualUsers: ActualUser[] = users.map((u) => ({
      userId: u.UserId!,
      userName: u.UserName ?? u.UserId!,
      accessString: canonicalElastiCacheAccess(u.AccessString ?? ""),
      managed: managed.has(u.UserId!),
    }));
    const group = await this.describeGroup(groupId);
    if (!group) {
      throw new ElastiCacheTargetError(
        { operation: "DescribeUserGroups", groupId },
        "the user group does not exist; deploy the platform (CachePlatform) first or set `userGroupId` in the config",
      );
    }
    this.groupEngine = group.Engine;
    return {
      users: actualUsers.sort((a, b) => a.userId.localeCompare(b.userId)),
      userGroup: { groupId, userIds: effectiveMembers(group).sort() },
    };
  }

  /**
   * Whether ElastiCache stores an access string verbatim is not documented (docs/decisions/0007), so
   * declared and stored strings are both put in one canonical form that keeps their meaning
   * (`canonicalElastiCacheAccess`): a string ElastiCache rewrote without changing what it grants is
   * not drift.
   */
  async canonicalizeAccess(accessStrings: readonly string[]): Promise<string[]> {
    return accessStrings.map((s) => canonicalElastiCacheAccess(s));
  }

  /**
   * Creates a password user. Its engine is `action.engine` when given (the CDK membership handler
   * passes the user group's engine: a `redis` group only accepts `redis` users), else {@link engine}.
   */
  async createUser(
    action: CreateUserAction & { engine?: Engine },
    passwords: readonly string[],
  ): Promise<void> {
    checkPasswords(passwords, action.userId);
    const context = { operation: "CreateUser", userId: action.userId };
    try {
      await this.call(context, () =>
        this.client.send(
          new CreateUserCommand({
            UserId: action.userId,
            UserName: action.userName,
            Engine: action.engine ?? this.engine,
            AccessString: action.accessString,
            AuthenticationMode: { Type: "password", Passwords: [...passwords] },
            Tags: provisionerTags(action.userId, action.service, this.ownerTag),
          }),
        ),
      );
      this.knownManaged.add(action.userId);
    } catch (error) {
      const code = error instanceof ElastiCacheTargetError ? error.code : undefined;
      if (code !== "UserAlreadyExistsFault" && code !== "DuplicateUserNameFault") throw error;
      await this.adoptExisting(action, passwords, error);
      return;
    }
    await this.waitForUserActive(action.userId);
  }

  async modifyUser(
    userId: string,
    change: { accessString?: string; passwords?: readonly string[] },
  ): Promise<void> {
    if (change.accessString === undefined && change.passwords === undefined) return;
    if (change.passwords !== undefined) checkPasswords(change.passwords, userId);
    const context = { operation: "ModifyUser", userId };
    await this.waitForUserActive(userId);
    await this.callWhenReady(
      context,
      () =>
        this.client.send(
          new ModifyUserCommand({
            UserId: userId,
            ...(change.accessString !== undefined ? { AccessString: change.accessString } : {}),
            ...(change.passwords !== undefined
              ? { AuthenticationMode: { Type: "password", Passwords: [...change.passwords] } }
              : {}),
          }),
        ),
      "InvalidUserStateFault",
      () => this.waitForUserActive(userId),
    );
    await this.waitForUserActive(userId);
  }

  async addToGroup(groupId: string, userId: string): Promise<void> {
    await this.changeMembership(groupId, userId, "add");
  }

  async removeFromGroup(groupId: string, userId: string): Promise<void> {
    await this.changeMembership(groupId, userId, "remove");
  }

  /**
   * Deletes a user the plan prunes. Refuses reserved users and users without Cacheplane's
   * `cacheplane:managed=true` tag (a guard behind the plan's own `managed` check). Idempotent.
   */
  async deleteUser(userId: string): Promise<void> {
    const context = { operation: "DeleteUser", userId };
    if (RESERVED_USER_IDS.has(userId)) {
      throw new ElastiCacheTargetError(context, "refusing to delete a reserved user");
    }
    const user = await this.describeUser(userId);
    if (!user) return;
    if (!(await this.isManaged(user))) {
      throw new ElastiCacheTargetError(
        context,
        `refusing to delete a user this target did not create (no ${MANAGED_TAG}=${this.ownerTag} tag)`,
      );
    }
    if (user.Status !== "deleting") {
      try {
        await this.callWhenReady(
          context,
          () => this.client.send(new DeleteUserCommand({ UserId: userId })),
          "InvalidUserStateFault",
          () => this.waitForUserActive(userId),
        );
      } catch (error) {
        if (!(error instanceof ElastiCacheTargetError && error.code === "UserNotFoundFault")) throw error;
      }
    }
    await this.wait(
      `user ${userId} to be deleted`,
      { operation: "wait for user deletion", userId },
      async () => {
        const seen = await this.describeUser(userId);
        return { done: seen === undefined, state: seen?.Status };
      },
    );
    this.knownManaged.delete(userId);
  }

  async close(): Promise<void> {
    if (this.ownsClient) this.client.destroy();
  }

  /** The user as ElastiCache reports it, or undefined when there is none. */
  async describeUser(userId: string): Promise<User | undefined> {
    try {
      const out = await this.call({ operation: "DescribeUsers", userId }, () =>
        this.client.send(new DescribeUsersCommand({ UserId: userId })),
      );
      return out.Users?.find((u) => u.UserId === userId);
    } catch (error) {
      if (error instanceof ElastiCacheTargetError && error.code === "UserNotFoundFault") return undefined;
      throw error;
    }
  }

  /** The user group as ElastiCache reports it, or undefined when there is none. */
  async describeGroup(groupId: string): Promise<UserGroup | undefined> {
    try {
      const out = await this.call({ operation: "DescribeUserGroups", groupId }, () =>
        this.client.send(new DescribeUserGroupsCommand({ UserGroupId: groupId })),
      );
      return out.UserGroups?.find((g) => g.UserGroupId === groupId);
    } catch (error) {
      if (error instanceof ElastiCacheTargetError && error.code === "UserGroupNotFoundFault")
        return undefined;
      throw error;
    }
  }

  /** Waits until the user is `active` (it must exist). */
  async waitForUserActive(userId: string): Promise<User> {
    const user = await this.wait(
      `user ${userId} to become active`,
      { operation: "wait for user", userId },
      async () => {
        const seen = await this.describeUser(userId);
        if (!seen) {
          throw new ElastiCacheTargetError({ operation: "wait for user", userId }, "the user does not exist");
        }
        return { done: seen.Status === "active", value: seen, state: seen.Status };
      },
    );
    return user!;
  }

  /** Waits until the group is `active` (not `creating`/`modifying`) and returns it; undefined if missing. */
  async waitForGroupSettled(groupId: string): Promise<UserGroup | undefined> {
    return this.wait(
      `user group ${groupId} to leave "modifying"`,
      { operation: "wait for user group", groupId },
      async () => {
        const seen = await this.describeGroup(groupId);
        if (!seen) return { done: true, value: undefined };
        return { done: SETTLED_GROUP_STATES.has(seen.Status ?? ""), value: seen, state: seen.Status };
      },
    );
  }

  private async changeMembership(
    groupId: string,
    userId: string,
    direction: "add" | "remove",
  ): Promise<void> {
    const context = { operation: "ModifyUserGroup", userId, groupId };
    if (direction === "add") await this.waitForUserActive(userId);
    // Many stacks may change the group at once (each ModifyUserGroup puts it in `modifying` for a while):
    // a conflict is answered by a jittered pause, then a fresh read, until the budget or deadline ends.
    const policy = this.options.membership ?? {};
    const started = this.clock.now();
    const budgetEnds = Math.min(
      started + (policy.budgetMs ?? 15 * 60_000),
      this.options.deadline ?? Number.POSITIVE_INFINITY,
    );
    for (let conflict = 0; ; conflict++) {
      const group = await this.waitForGroupSettled(groupId);
      if (!group) {
        if (direction === "remove") return;
        throw new ElastiCacheTargetError(context, "the user group does not exist");
      }
      const isMember = (group.UserIds ?? []).includes(userId);
      if (direction === "add" ? isMember : !isMember) return;
      const members = effectiveMembers(group).length;
      if (direction === "add" && members >= ELASTICACHE_LIMITS.usersPerUserGroup) {
        throw new ElastiCacheTargetError(
          context,
          `the user group already holds ${members} users and ElastiCache allows ${ELASTICACHE_LIMITS.usersPerUserGroup} ` +
            "(a Redis OSS group's default user counts); move services to another platform or remove unused ones",
        );
      }
      try {
        await this.call(context, () =>
          this.client.send(
            new ModifyUserGroupCommand({
              UserGroupId: groupId,
              ...(direction === "add" ? { UserIdsToAdd: [userId] } : { UserIdsToRemove: [userId] }),
            }),
          ),
        );
      } catch (error) {
        // Another deployment changed the group between our read and our write: pause, re-read, retry.
        if (error instanceof ElastiCacheTargetError && error.code === "InvalidUserGroupStateFault") {
          const cap = Math.min(policy.maxDelayMs ?? 30_000, (policy.baseDelayMs ?? 2_000) * 2 ** conflict);
          // "Full jitter": anywhere in [0, cap), so that contending deployments spread out.
          const delay = Math.round(this.clock.random() * cap);
          if (this.clock.now() + delay > budgetEnds) {
            throw new ElastiCacheTargetError(
              context,
              `the user group was still being changed by other deployments after ${conflict + 1} attempts ` +
                `in ${Math.round((this.clock.now() - started) / 1000)} s; deploy again (nothing was changed)`,
              error.cause,
            );
          }
          await this.clock.sleep(delay);
          continue;
        }
        if (
          direction === "remove" &&
          error instanceof ElastiCacheTargetError &&
          error.code === "UserNotFoundFault"
        ) {
          return;
        }
        throw error;
      }
      await this.waitForGroupSettled(groupId);
      return;
    }
  }

  /** CreateUser said the user (or its name) exists: converge it if it is the same, managed user. */
  private async adoptExisting(
    action: CreateUserAction,
    passwords: readonly string[],
    cause: unknown,
  ): Promise<void> {
    const context = { operation: "CreateUser", userId: action.userId };
    const existing = await this.describeUser(action.userId);
    if (!existing) {
      throw new ElastiCacheTargetError(
        context,
        `user name "${action.userName}" belongs to another user id; rename the service or delete that user`,
        cause,
      );
    }
    if ((existing.UserName ?? existing.UserId) !== action.userName) {
      throw new ElastiCacheTargetError(
        context,
        `user id exists with another user name ("${existing.UserName}"); rename the service or delete that user`,
        cause,
      );
    }
    if (!(await this.isManaged(existing))) {
      throw new ElastiCacheTargetError(
        context,
        `the user already exists and this target did not create it (no ${MANAGED_TAG}=${this.ownerTag} tag); ` +
          "tag it to adopt it, or give the service another name",
        cause,
      );
    }
    // Same user from an earlier, interrupted attempt: make it exactly what was asked for.
    await this.modifyUser(action.userId, { accessString: action.accessString, passwords });
  }

  private async isManaged(user: User): Promise<boolean> {
    const userId = user.UserId ?? "";
    if (this.knownManaged.has(userId)) return true;
    if (!user.ARN) return false;
    const tags = await this.call({ operation: "ListTagsForResource", userId }, () =>
      this.client.send(new ListTagsForResourceCommand({ ResourceName: user.ARN })),
    );
    const managed = tagValue(tags.TagList, MANAGED_TAG) === this.ownerTag;
    if (managed) this.knownManaged.add(userId);
    return managed;
  }

  private async findManaged(users: User[], managedUserIds: ReadonlySet<string>): Promise<Set<string>> {
    const managed = new Set<string>();
    const toCheck: User[] = [];
    for (const u of users) {
      const id = u.UserId!;
      if (RESERVED_USER_IDS.has(id) || u.UserName === "default") continue;
      if (managedUserIds.has(id) || this.knownManaged.has(id)) managed.add(id);
      else if (this.options.readTags !== false) toCheck.push(u);
    }
    const concurrency = Math.max(1, this.options.tagReadConcurrency ?? 4);
    let next = 0;
    const worker = async () => {
      while (next < toCheck.length) {
        const user = toCheck[next++]!;
        if (await this.isManaged(user)) managed.add(user.UserId!);
      }
    };
    await Promise.all(Array.from({ length: Math.min(concurrency, toCheck.length) }, worker));
    for (const id of managed) this.knownManaged.add(id);
    return managed;
  }

  private async listUsers(): Promise<User[]> {
    const users: User[] = [];
    let marker: string | undefined;
    do {
      const page = await this.call({ operation: "DescribeUsers" }, () =>
        this.client.send(
          new DescribeUsersCommand({ MaxRecords: 100, ...(marker ? { Marker: marker } : {}) }),
        ),
      );
      users.push(...(page.Users ?? []));
      marker = page.Marker;
    } while (marker);
    return users;
  }

  /** One API call with retries on throttling/transient errors; failures become ElastiCacheTargetError. */
  private async call<T>(
    context: { operation: string; userId?: string; groupId?: string },
    fn: () => Promise<T>,
  ) {
    try {
      return await withRetry(
        fn,
        isTransientError,
        this.options.retry ?? {},
        this.clock,
        this.options.deadline,
      );
    } catch (error) {
      throw new ElastiCacheTargetError(context, describeAwsError(error), error);
    }
  }

  /** Like `call`, but on `busyCode` (resource busy) waits with `settle` and tries again, a few times. */
  private async callWhenReady<T>(
    context: { operation: string; userId?: string; groupId?: string },
    fn: () => Promise<T>,
    busyCode: string,
    settle: () => Promise<unknown>,
  ): Promise<T> {
    for (let attempt = 0; ; attempt++) {
      try {
        return await this.call(context, fn);
      } catch (error) {
        if (!(error instanceof ElastiCacheTargetError && error.code === busyCode) || attempt >= 9)
          throw error;
        await settle();
      }
    }
  }

  private async wait<T>(
    what: string,
    context: { operation: string; userId?: string; groupId?: string },
    observe: () => Promise<{ done: boolean; value?: T; state?: string | undefined }>,
  ): Promise<T | undefined> {
    try {
      return await waitFor(what, observe, this.options.wait ?? {}, this.clock, this.options.deadline);
    } catch (error) {
      if (error instanceof WaitTimeoutError) throw new ElastiCacheTargetError(context, error.message, error);
      throw error;
    }
  }
}

/** Members once pending changes land: listed members, plus pending additions, minus pending removals. */
function effectiveMembers(group: UserGroup): string[] {
  const members = new Set(group.UserIds ?? []);
  for (const id of group.PendingChanges?.UserIdsToAdd ?? []) members.add(id);
  for (const id of group.PendingChanges?.UserIdsToRemove ?? []) members.delete(id);
  return [...members];
}

function checkPasswords(passwords: readonly string[], userId: string): void {
  if (passwords.length < 1 || passwords.length > 2) {
    throw new ElastiCacheTargetError(
      { operation: "set passwords", userId },
      `ElastiCache takes 1 or 2 passwords per user, got ${passwords.length}`,
    );
  }
  passwords.forEach((p, i) => {
    if (!isAcceptablePassword(p)) {
      throw new ElastiCacheTargetError(
        { operation: "set passwords", userId },
        `password ${i + 1} of ${passwords.length} is not acceptable to ElastiCache ` +
          '(16-128 printable ASCII characters, none of space , " / @); value not shown',
      );
    }
  });
}
