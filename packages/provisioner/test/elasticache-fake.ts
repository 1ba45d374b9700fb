/**
 * An in-memory ElastiCache (users, user groups, serverless caches, tags, status transitions) behind
 * aws-sdk-client-mock, for the ElastiCache target's and the CDK handler's tests. Failures can be
 * injected per command; every call is recorded. Not a test file itself (no `.test.ts`): tests import it.
 *
 * AWS rules it enforces (each with the error code AWS uses), so that code breaking them fails here:
 * - engines: a `redis` user group only takes `redis` users (a `valkey` group takes both); a Redis OSS
 *   serverless cache only takes a `redis` user group (a Valkey cache takes both);
 * - a `redis` user group must always contain a user named `default` (DefaultUserRequired);
 * - a `valkey` user group takes no user that authenticates without a password (no-password-required);
 * - at most 100 users per user group, the `default` user included (UserGroupQuotaExceededFault);
 * - account quotas: 1,000 users (UserQuotaExceededFault) and 100 user groups (UserGroupQuotaExceededFault);
 * - a group that is `modifying` refuses ModifyUserGroup (InvalidUserGroupStateFault), a user that is
 *   not `active` refuses changes (InvalidUserStateFault).
 * Transitions (creating/modifying/deleting) end after `transitionPolls` describes or, with `clock` set,
 * after `transitionMs` on that clock.
 */
import {
  CreateServerlessCacheCommand,
  CreateUserCommand,
  CreateUserGroupCommand,
  DefaultUserRequired,
  DeleteUserCommand,
  DescribeUserGroupsCommand,
  DescribeUsersCommand,
  DuplicateUserNameFault,
  ElastiCacheClient,
  ElastiCacheServiceException,
  InvalidParameterCombinationException,
  InvalidParameterValueException,
  InvalidUserGroupStateFault,
  InvalidUserStateFault,
  ListTagsForResourceCommand,
  ModifyUserCommand,
  ModifyUserGroupCommand,
  type Tag,
  UserAlreadyExistsFault,
  UserGroupAlreadyExistsFault,
  UserGroupNotFoundFault,
  UserGroupQuotaExceededFault,
  UserNotFoundFault,
  UserQuotaExceededFault,
} from "@aws-sdk/client-elasticache";
import { type AwsClientStub, mockClient } from "aws-sdk-client-mock";
import type { RetryClock } from "../src/elasticache-retry.js";

export interface FakeUser {
  UserId: string;
  UserName: string;
  Engine: string;
  AccessString: string;
  Status: string;
  ARN: string;
  passwords: string[];
  /** How the user authenticates. @default "password" */
  authType: "password" | "no-password-required" | "iam";
  tags: Tag[];
  /** Describe calls left before a transitional status becomes the next one. */
  pollsLeft: number;
  /** With a clock: when the transitional status ends. */
  readyAt?: number;
}

export interface FakeGroup {
  UserGroupId: string;
  Engine: string;
  Status: string;
  UserIds: string[];
  ARN: string;
  pollsLeft: number;
  readyAt?: number;
  pending?: { UserIdsToAdd?: string[]; UserIdsToRemove?: string[] };
}

export interface FakeCache {
  ServerlessCacheName: string;
  Engine: string;
  UserGroupId?: string;
}

/** ElastiCache's documented quotas (per region and account, and per user group). */
export const ELASTICACHE_QUOTAS = { usersPerAccount: 1000, userGroupsPerAccount: 100, usersPerGroup: 100 };

export type CommandName =
  | "CreateUser"
  | "ModifyUser"
  | "DeleteUser"
  | "DescribeUsers"
  | "DescribeUserGroups"
  | "ModifyUserGroup"
  | "ListTagsForResource"
  | "CreateUserGroup"
  | "CreateServerlessCache";

const meta = { $metadata: { httpStatusCode: 400 } };

/** An SDK-shaped error with the given code. */
export function awsError(name: string, message = name): ElastiCacheServiceException {
  return new ElastiCacheServiceException({ name, $fault: "client", message, ...meta });
}

export const throttled = () => awsError("Throttling", "Rate exceeded");

const sameEngine = (a: string, b: string) => a.toLowerCase() === b.toLowerCase();

/** A clock whose `sleep` returns at once and advances `now`; records every delay asked for. */
export function fakeClock(): RetryClock & { sleeps: number[] } {
  let now = 1_700_000_000_000;
  const sleeps: number[] = [];
  return {
    sleeps,
    now: () => now,
    sleep: async (ms) => {
      sleeps.push(ms);
      now += ms;
    },
    random: () => 0.5,
  };
}

export class FakeElastiCache {
  readonly users = new Map<string, FakeUser>();
  readonly groups = new Map<string, FakeGroup>();
  readonly caches = new Map<string, FakeCache>();
  /** Quotas in force (lower them to test the rules with fewer resources). */
  readonly quotas = { ...ELASTICACHE_QUOTAS };
  /**
   * Rewrites an access string the way ElastiCache might store it (it is not documented whether it
   * does; see docs/decisions): applied by CreateUser and ModifyUser. @default stored verbatim
   */
  storeAccessString: (access: string) => string = (access) => access;
  /** Time source for time-based transitions. @default none: transitions end after `transitionPolls` describes */
  clock: { now(): number } | undefined;
  /** With `clock`: how long a user or group stays creating/modifying/deleting. @default 30 s */
  transitionMs = 30_000;
  /** Awaited before each call takes effect (network and service latency, e.g. on a virtual clock). @default none */
  latency: ((command: CommandName) => Promise<void>) | undefined;
  readonly calls: { command: CommandName; input: Record<string, unknown> }[] = [];
  readonly client = new ElastiCacheClient({
    region: "eu-west-1",
    credentials: { accessKeyId: "AKIDTEST", secretAccessKey: "test" },
  });
  readonly mock: AwsClientStub<ElastiCacheClient>;
  /** Describe polls a user/group stays in a transitional state after a change. */
  transitionPolls = 1;
  /** DescribeUsers page size (to exercise pagination). */
  pageSize = 100;
  private readonly failures: {
    command: CommandName;
    error: () => Error;
    times: number;
    when?: (input: Record<string, unknown>) => boolean;
    /** Fail after the change took effect (a lost response) instead of before. */
    after?: boolean;
  }[] = [];

  /** @param stub a class-level stub (`mockClient(ElastiCacheClient)`) to serve every client; default: own client. */
  constructor(stub?: AwsClientStub<ElastiCacheClient>) {
    this.mock = stub ?? mockClient(this.client);
    const wire = (
      // biome-ignore lint/suspicious/noExplicitAny: every ElastiCache command class
      command: new (...args: any[]) => unknown,
      name: CommandName,
      fn: (input: never) => unknown,
    ) => {
      // biome-ignore lint/suspicious/noExplicitAny: aws-sdk-client-mock's typing of `on` is per command
      this.mock.on(command as any).callsFake(async (input: Record<string, unknown>) => {
        if (this.latency) await this.latency(name);
        this.calls.push({ command: name, input: structuredClone(input) });
        const failure = this.failures.find(
          (f) => f.command === name && f.times > 0 && (f.when?.(input) ?? true),
        );
        if (failure) failure.times--;
        if (failure && !failure.after) throw failure.error();
        const result = fn(input as never);
        if (failure?.after) throw failure.error();
        return result;
      });
    };
    wire(CreateUserCommand, "CreateUser", (i) => this.createUser(i));
    wire(ModifyUserCommand, "ModifyUser", (i) => this.modifyUser(i));
    wire(DeleteUserCommand, "DeleteUser", (i) => this.deleteUser(i));
    wire(DescribeUsersCommand, "DescribeUsers", (i) => this.describeUsers(i));
    wire(DescribeUserGroupsCommand, "DescribeUserGroups", (i) => this.describeUserGroups(i));
    wire(ModifyUserGroupCommand, "ModifyUserGroup", (i) => this.modifyUserGroup(i));
    wire(ListTagsForResourceCommand, "ListTagsForResource", (i) => this.listTags(i));
    wire(CreateUserGroupCommand, "CreateUserGroup", (i) => this.createUserGroup(i));
    wire(CreateServerlessCacheCommand, "CreateServerlessCache", (i) => this.createServerlessCache(i));
  }

  /** Makes the next `times` calls of `command` (matching `when`) fail with `error()`. */
  fail(
    command: CommandName,
    error: () => Error,
    times = 1,
    when?: (input: Record<string, unknown>) => boolean,
    after = false,
  ): this {
    this.failures.push({ command, error, times, after, ...(when ? { when } : {}) });
    return this;
  }

  callsOf(command: CommandName): Record<string, unknown>[] {
    return this.calls.filter((c) => c.command === command).map((c) => c.input);
  }

  addUser(user: Partial<FakeUser> & { UserId: string }): FakeUser {
    const full: FakeUser = {
      UserName: user.UserId,
      Engine: "valkey",
      AccessString: "on ~* +@all",
      Status: "active",
      ARN: `arn:aws:elasticache:eu-west-1:123456789012:user:${user.UserId}`,
      passwords: [],
      authType: "password",
      tags: [],
      pollsLeft: 0,
      ...user,
    };
    this.users.set(full.UserId, full);
    return full;
  }

  addGroup(group: Partial<FakeGroup> & { UserGroupId: string }): FakeGroup {
    const full: FakeGroup = {
      Engine: "valkey",
      Status: "active",
      UserIds: [],
      ARN: `arn:aws:elasticache:eu-west-1:123456789012:usergroup:${group.UserGroupId}`,
      pollsLeft: 0,
      ...group,
    };
    this.groups.set(full.UserGroupId, full);
    return full;
  }

  private tick<T extends { Status: string; pollsLeft: number; readyAt?: number }>(
    item: T,
    settle: (item: T) => void,
  ): void {
    if (item.Status === "active") return;
    if (this.clock && item.readyAt !== undefined) {
      if (this.clock.now() >= item.readyAt) settle(item);
      return;
    }
    if (item.pollsLeft > 0) item.pollsLeft--;
    else settle(item);
  }

  /** Puts a user or group into a transitional status (or leaves it active without transitions). */
  private transition(item: { Status: string; pollsLeft: number; readyAt?: number }, status: string): boolean {
    if (this.clock) {
      item.Status = status;
      item.readyAt = this.clock.now() + this.transitionMs;
      return true;
    }
    if (this.transitionPolls <= 0) return false;
    item.Status = status;
    item.pollsLeft = this.transitionPolls;
    return true;
  }

  /** Members once the pending change lands. */
  private membersAfter(group: FakeGroup, add: string[] = [], remove: string[] = []): string[] {
    const members = new Set(group.UserIds);
    for (const id of group.pending?.UserIdsToAdd ?? []) members.add(id);
    for (const id of group.pending?.UserIdsToRemove ?? []) members.delete(id);
    for (const id of add) members.add(id);
    for (const id of remove) members.delete(id);
    return [...members];
  }

  /** The rules a user must meet to be in `group` (engine, authentication). */
  private checkMember(group: { Engine: string; UserGroupId: string }, user: FakeUser): void {
    if (sameEngine(group.Engine, "redis") && !sameEngine(user.Engine, "redis")) {
      throw new InvalidParameterCombinationException({
        message: `User ${user.UserId} has engine ${user.Engine}; user group ${group.UserGroupId} (redis) only accepts redis users`,
        ...meta,
      });
    }
    if (sameEngine(group.Engine, "valkey") && user.authType === "no-password-required") {
      throw new InvalidParameterValueException({
        message: `User ${user.UserId} has no password; a valkey user group only accepts users that authenticate`,
        ...meta,
      });
    }
  }

  /** A redis group must keep a user named `default`; no group may exceed the users-per-group quota. */
  private checkGroupMembers(group: { Engine: string; UserGroupId: string }, members: string[]): void {
    if (members.length > this.quotas.usersPerGroup) {
      throw new UserGroupQuotaExceededFault({
        message: `User group ${group.UserGroupId} would have ${members.length} users; the limit is ${this.quotas.usersPerGroup}`,
        ...meta,
      });
    }
    if (
      sameEngine(group.Engine, "redis") &&
      !members.some((id) => this.users.get(id)?.UserName === "default")
    ) {
      throw new DefaultUserRequired({ message: "You must add default user to a user group.", ...meta });
    }
  }

  private createUser(input: {
    UserId: string;
    UserName: string;
    Engine: string;
    AccessString: string;
    AuthenticationMode?: { Type?: string; Passwords?: string[] };
    NoPasswordRequired?: boolean;
    Passwords?: string[];
    Tags?: Tag[];
  }) {
    if (!/^(redis|valkey)$/i.test(input.Engine ?? "")) {
      throw new InvalidParameterValueException({ message: `Invalid engine ${input.Engine}`, ...meta });
    }
    if (this.users.has(input.UserId))
      throw new UserAlreadyExistsFault({ message: "User already exists", ...meta });
    if ([...this.users.values()].some((u) => u.UserName === input.UserName)) {
      throw new DuplicateUserNameFault({ message: "A user with this username already exists", ...meta });
    }
    if (this.users.size >= this.quotas.usersPerAccount) {
      throw new UserQuotaExceededFault({
        message: `The quota of ${this.quotas.usersPerAccount} users has been exceeded`,
        ...meta,
      });
    }
    const type = input.AuthenticationMode?.Type;
    const passwords = [...(input.AuthenticationMode?.Passwords ?? input.Passwords ?? [])];
    const authType =
      type === "iam"
        ? "iam"
        : type === "no-password-required" || input.NoPasswordRequired
          ? "no-password-required"
          : "password";
    if (authType === "password" && (passwords.length < 1 || passwords.length > 2)) {
      throw new InvalidParameterValueException({
        message: "A password user needs 1 or 2 passwords",
        ...meta,
      });
    }
    if (authType === "iam" && input.UserName !== input.UserId) {
      throw new InvalidParameterValueException({
        message: "For IAM authentication the user name must equal the user id",
        ...meta,
      });
    }
    const user = this.addUser({
      UserId: input.UserId,
      UserName: input.UserName,
      Engine: input.Engine.toLowerCase(),
      AccessString: this.storeAccessString(input.AccessString),
      passwords,
      authType,
      tags: [...(input.Tags ?? [])],
    });
    this.transition(user, "creating");
    return this.view(user);
  }

  private modifyUser(input: {
    UserId: string;
    AccessString?: string;
    AuthenticationMode?: { Passwords?: string[] };
  }) {
    const user = this.users.get(input.UserId);
    if (!user) throw new UserNotFoundFault({ message: "User not found", ...meta });
    if (user.Status !== "active")
      throw new InvalidUserStateFault({ message: `User is ${user.Status}`, ...meta });
    if (input.AccessString !== undefined) user.AccessString = this.storeAccessString(input.AccessString);
    if (input.AuthenticationMode?.Passwords) user.passwords = [...input.AuthenticationMode.Passwords];
    this.transition(user, "modifying");
    return this.view(user);
  }

  private deleteUser(input: { UserId: string }) {
    const user = this.users.get(input.UserId);
    if (!user) throw new UserNotFoundFault({ message: "User not found", ...meta });
    if (user.Status === "modifying")
      throw new InvalidUserStateFault({ message: "User is modifying", ...meta });
    for (const g of this.groups.values()) {
      if (g.UserIds.includes(input.UserId) && sameEngine(g.Engine, "redis") && user.UserName === "default") {
        throw new DefaultUserRequired({ message: "You must add default user to a user group.", ...meta });
      }
    }
    for (const g of this.groups.values()) g.UserIds = g.UserIds.filter((id) => id !== input.UserId);
    if (!this.transition(user, "deleting")) this.users.delete(input.UserId);
    return this.view(user);
  }

  private describeUsers(input: { UserId?: string; Marker?: string; MaxRecords?: number }) {
    for (const u of [...this.users.values()]) {
      this.tick(u, (x) => {
        if (x.Status === "deleting") this.users.delete(x.UserId);
        else x.Status = "active";
      });
    }
    if (input.UserId !== undefined) {
      const user = this.users.get(input.UserId);
      if (!user) throw new UserNotFoundFault({ message: "User not found", ...meta });
      return { Users: [this.view(user)] };
    }
    const all = [...this.users.values()].sort((a, b) => a.UserId.localeCompare(b.UserId));
    const start = input.Marker ? Number(input.Marker) : 0;
    const size = Math.min(this.pageSize, input.MaxRecords ?? 100);
    const page = all.slice(start, start + size);
    const next = start + size < all.length ? String(start + size) : undefined;
    return { Users: page.map((u) => this.view(u)), ...(next ? { Marker: next } : {}) };
  }

  private describeUserGroups(input: { UserGroupId?: string }) {
    for (const g of this.groups.values()) {
      this.tick(g, (x) => {
        if (x.pending) {
          for (const id of x.pending.UserIdsToAdd ?? []) if (!x.UserIds.includes(id)) x.UserIds.push(id);
          x.UserIds = x.UserIds.filter((id) => !(x.pending?.UserIdsToRemove ?? []).includes(id));
          delete x.pending;
        }
        x.Status = "active";
      });
    }
    const groups = [...this.groups.values()].filter(
      (g) => input.UserGroupId === undefined || g.UserGroupId === input.UserGroupId,
    );
    if (input.UserGroupId !== undefined && groups.length === 0) {
      throw new UserGroupNotFoundFault({ message: "User group not found", ...meta });
    }
    return { UserGroups: groups.map((g) => this.groupView(g)) };
  }

  private modifyUserGroup(input: {
    UserGroupId: string;
    UserIdsToAdd?: string[];
    UserIdsToRemove?: string[];
  }) {
    const group = this.groups.get(input.UserGroupId);
    if (!group) throw new UserGroupNotFoundFault({ message: "User group not found", ...meta });
    if (group.Status !== "active") {
      throw new InvalidUserGroupStateFault({ message: `User group is ${group.Status}`, ...meta });
    }
    for (const id of [...(input.UserIdsToAdd ?? []), ...(input.UserIdsToRemove ?? [])]) {
      if (!this.users.has(id)) throw new UserNotFoundFault({ message: `User ${id} not found`, ...meta });
    }
    for (const id of input.UserIdsToAdd ?? []) {
      const user = this.users.get(id)!;
      if (user.Status !== "active")
        throw new InvalidUserStateFault({ message: `User ${id} is ${user.Status}`, ...meta });
      this.checkMember(group, user);
    }
    this.checkGroupMembers(group, this.membersAfter(group, input.UserIdsToAdd, input.UserIdsToRemove));
    if (this.transition(group, "modifying")) {
      group.pending = {
        ...(input.UserIdsToAdd ? { UserIdsToAdd: input.UserIdsToAdd } : {}),
        ...(input.UserIdsToRemove ? { UserIdsToRemove: input.UserIdsToRemove } : {}),
      };
    } else {
      for (const id of input.UserIdsToAdd ?? []) if (!group.UserIds.includes(id)) group.UserIds.push(id);
      group.UserIds = group.UserIds.filter((id) => !(input.UserIdsToRemove ?? []).includes(id));
    }
    return this.groupView(group);
  }

  private createUserGroup(input: { UserGroupId: string; Engine: string; UserIds?: string[] }) {
    if (this.groups.has(input.UserGroupId)) {
      throw new UserGroupAlreadyExistsFault({ message: "User group already exists", ...meta });
    }
    if (!/^(redis|valkey)$/i.test(input.Engine ?? "")) {
      throw new InvalidParameterValueException({ message: `Invalid engine ${input.Engine}`, ...meta });
    }
    if (this.groups.size >= this.quotas.userGroupsPerAccount) {
      throw new UserGroupQuotaExceededFault({
        message: `The quota of ${this.quotas.userGroupsPerAccount} user groups has been exceeded`,
        ...meta,
      });
    }
    const ids = [...new Set(input.UserIds ?? [])];
    const shape = { UserGroupId: input.UserGroupId, Engine: input.Engine.toLowerCase() };
    for (const id of ids) {
      const user = this.users.get(id);
      if (!user) throw new UserNotFoundFault({ message: `User ${id} not found`, ...meta });
      this.checkMember(shape, user);
    }
    this.checkGroupMembers(shape, ids);
    const group = this.addGroup({ ...shape, UserIds: ids });
    this.transition(group, "creating");
    return this.groupView(group);
  }

  private createServerlessCache(input: {
    ServerlessCacheName: string;
    Engine: string;
    UserGroupId?: string;
  }) {
    if (input.UserGroupId !== undefined) {
      const group = this.groups.get(input.UserGroupId);
      if (!group) throw new UserGroupNotFoundFault({ message: "User group not found", ...meta });
      if (sameEngine(input.Engine, "redis") && !sameEngine(group.Engine, "redis")) {
        throw new InvalidParameterCombinationException({
          message: `A redis cache only accepts a redis user group; ${group.UserGroupId} is ${group.Engine}`,
          ...meta,
        });
      }
    }
    const cache: FakeCache = {
      ServerlessCacheName: input.ServerlessCacheName,
      Engine: input.Engine.toLowerCase(),
      ...(input.UserGroupId !== undefined ? { UserGroupId: input.UserGroupId } : {}),
    };
    this.caches.set(cache.ServerlessCacheName, cache);
    return { ServerlessCache: { ...cache, Status: "available" } };
  }

  private listTags(input: { ResourceName: string }) {
    const user = [...this.users.values()].find((u) => u.ARN === input.ResourceName);
    return { TagList: user ? [...user.tags] : [] };
  }

  private view(u: FakeUser) {
    return {
      UserId: u.UserId,
      UserName: u.UserName,
      Status: u.Status,
      Engine: u.Engine,
      AccessString: u.AccessString,
      ARN: u.ARN,
      UserGroupIds: [...this.groups.values()]
        .filter((g) => g.UserIds.includes(u.UserId))
        .map((g) => g.UserGroupId),
      Authentication: {
        Type: u.authType === "no-password-required" ? "no-password" : u.authType,
        ...(u.authType === "password" ? { PasswordCount: u.passwords.length } : {}),
      },
    };
  }

  private groupView(g: FakeGroup) {
    return {
      UserGroupId: g.UserGroupId,
      Status: g.Status,
      Engine: g.Engine,
      UserIds: [...g.UserIds],
      ARN: g.ARN,
      ...(g.pending ? { PendingChanges: g.pending } : {}),
    };
  }
}
