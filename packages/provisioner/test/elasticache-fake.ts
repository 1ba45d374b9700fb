/**
 * An in-memory ElastiCache (users, user groups, tags, status transitions) behind aws-sdk-client-mock,
 * for the ElastiCache target's tests. Failures can be injected per command; every call is recorded.
 * Not a test file itself (no `.test.ts`): the tests import it.
 */
import {
  CreateUserCommand,
  DeleteUserCommand,
  DescribeUserGroupsCommand,
  DescribeUsersCommand,
  DuplicateUserNameFault,
  ElastiCacheClient,
  ElastiCacheServiceException,
  InvalidUserGroupStateFault,
  InvalidUserStateFault,
  ListTagsForResourceCommand,
  ModifyUserCommand,
  ModifyUserGroupCommand,
  type Tag,
  UserAlreadyExistsFault,
  UserGroupNotFoundFault,
  UserNotFoundFault,
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
  tags: Tag[];
  /** Describe calls left before a transitional status becomes the next one. */
  pollsLeft: number;
}

export interface FakeGroup {
  UserGroupId: string;
  Engine: string;
  Status: string;
  UserIds: string[];
  ARN: string;
  pollsLeft: number;
  pending?: { UserIdsToAdd?: string[]; UserIdsToRemove?: string[] };
}

export type CommandName =
  | "CreateUser"
  | "ModifyUser"
  | "DeleteUser"
  | "DescribeUsers"
  | "DescribeUserGroups"
  | "ModifyUserGroup"
  | "ListTagsForResource";

const meta = { $metadata: { httpStatusCode: 400 } };

/** An SDK-shaped error with the given code. */
export function awsError(name: string, message = name): ElastiCacheServiceException {
  return new ElastiCacheServiceException({ name, $fault: "client", message, ...meta });
}

export const throttled = () => awsError("Throttling", "Rate exceeded");

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

  private tick<T extends { Status: string; pollsLeft: number }>(item: T, settle: (item: T) => void): void {
    if (item.Status === "active") return;
    if (item.pollsLeft > 0) item.pollsLeft--;
    else settle(item);
  }

  private createUser(input: {
    UserId: string;
    UserName: string;
    Engine: string;
    AccessString: string;
    AuthenticationMode?: { Passwords?: string[] };
    Tags?: Tag[];
  }) {
    if (this.users.has(input.UserId))
      throw new UserAlreadyExistsFault({ message: "User already exists", ...meta });
    if ([...this.users.values()].some((u) => u.UserName === input.UserName)) {
      throw new DuplicateUserNameFault({ message: "A user with this username already exists", ...meta });
    }
    const user = this.addUser({
      UserId: input.UserId,
      UserName: input.UserName,
      Engine: input.Engine,
      AccessString: input.AccessString,
      passwords: [...(input.AuthenticationMode?.Passwords ?? [])],
      tags: [...(input.Tags ?? [])],
      Status: this.transitionPolls > 0 ? "creating" : "active",
      pollsLeft: this.transitionPolls,
    });
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
    if (input.AccessString !== undefined) user.AccessString = input.AccessString;
    if (input.AuthenticationMode?.Passwords) user.passwords = [...input.AuthenticationMode.Passwords];
    if (this.transitionPolls > 0) {
      user.Status = "modifying";
      user.pollsLeft = this.transitionPolls;
    }
    return this.view(user);
  }

  private deleteUser(input: { UserId: string }) {
    const user = this.users.get(input.UserId);
    if (!user) throw new UserNotFoundFault({ message: "User not found", ...meta });
    if (user.Status === "modifying")
      throw new InvalidUserStateFault({ message: "User is modifying", ...meta });
    for (const g of this.groups.values()) g.UserIds = g.UserIds.filter((id) => id !== input.UserId);
    if (this.transitionPolls > 0) {
      user.Status = "deleting";
      user.pollsLeft = this.transitionPolls;
    } else this.users.delete(input.UserId);
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
    }
    if (this.transitionPolls > 0) {
      group.Status = "modifying";
      group.pollsLeft = this.transitionPolls;
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
        Type: u.passwords.length > 0 ? "password" : "no-password",
        PasswordCount: u.passwords.length,
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
