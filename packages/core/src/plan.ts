/**
 * Plans: the ordered, typed actions that turn what a target reports into what the config declares.
 * Pure and deterministic: the same desired and actual state always give the same plan, and applying a
 * plan then planning again gives an empty plan. Plans never hold passwords, only password hashes'
 * agreement, so a plan can be printed, stored and reviewed.
 */
import { normalizeAccessString } from "./access.js";
import type { PlatformConfig } from "./config.js";
import { platformUsers } from "./scanner.js";

/** A user the config declares. */
export interface DesiredUser {
  service: string;
  userId: string;
  userName: string;
  keyspace: string;
  accessString: string;
  /**
   * SHA-256 hex of the passwords the service's secret holds (current and, during rotation, previous).
   * Undefined when no secret exists yet: the applier generates one.
   */
  passwordHashes?: string[];
}

export interface DesiredState {
  users: DesiredUser[];
  /** The user group every service user belongs to; omitted for targets without groups (plain Redis). */
  userGroupId?: string;
  /**
   * The platform's server-script library (`cacheplane_<version>`, decision 0006) every master must
   * have loaded; omitted for targets that cannot load functions.
   */
  scriptLibrary?: string;
}

/** A user as a target reports it. */
export interface ActualUser {
  userId: string;
  userName: string;
  /** In the same canonical form as the desired one (targets canonicalise both sides). */
  accessString: string;
  /** SHA-256 hex of the user's passwords, when the target can tell (Redis can; ElastiCache cannot). */
  passwordHashes?: string[];
  /** Created by Cacheplane (tag, secret or marker): only managed users are ever pruned. */
  managed: boolean;
}

/**
 * Where one node of a cluster disagrees with the config about a declared user: it lacks the user,
 * has other access rules than the declared ones, or other passwords than the other nodes.
 */
export interface NodeDifference {
  /** `host:port` of the node. */
  node: string;
  difference: "missing" | "access" | "passwords";
}

export interface ActualState {
  users: ActualUser[];
  /** The user group's members, when the target has groups. */
  userGroup?: { groupId: string; userIds: string[] };
  /**
   * Targets with several nodes (a Redis Cluster): the nodes where a declared user is missing or
   * differs, by user id. Plans copy them onto the user's create/modify action as `nodes`.
   */
  nodeDifferences?: Record<string, NodeDifference[]>;
  /**
   * Function libraries named `cacheplane_*` loaded on each master (`host:port`), when the target can
   * tell. Older versions stay loaded (clients of the previous release call them) until pruned.
   */
  scriptLibraries?: { node: string; libraries: string[] }[];
}

export type ModifyChange = "access" | "passwords";

export type PlanAction =
  | {
      type: "create-user";
      service: string;
      userId: string;
      userName: string;
      keyspace: string;
      accessString: string;
      /** Cluster nodes that lack the user while others have it (see {@link NodeDifference}). */
      nodes?: NodeDifference[];
    }
  | {
      type: "modify-user";
      service: string;
      userId: string;
      changes: ModifyChange[];
      accessString: string;
      previousAccessString: string;
      /** Cluster nodes where the user differs (see {@link NodeDifference}). */
      nodes?: NodeDifference[];
    }
  | { type: "add-to-group"; service: string; groupId: string; userId: string }
  | { type: "remove-from-group"; groupId: string; userId: string }
  | { type: "delete-user"; userId: string; userName: string }
  /** `FUNCTION LOAD` of the platform's script library on one master that lacks it. */
  | { type: "load-script-library"; node: string; library: string }
  /** `FUNCTION DELETE` of an older `cacheplane_*` library (only with `pruneScriptLibraries`). */
  | { type: "delete-script-library"; node: string; library: string };

export type PlanActionType = PlanAction["type"];

export interface PlanOptions {
  /** Remove managed users the config no longer declares. @default false */
  prune?: boolean;
  /**
   * Remove `cacheplane_*` libraries other than the desired one. Only once no client of an older
   * release runs any more: their FCALLs fail afterwards. @default false
   */
  pruneScriptLibraries?: boolean;
}

/** Prefix of every library the platform loads; other libraries are never touched. */
export const SCRIPT_LIBRARY_PREFIX = "cacheplane_";

const ORDER: Record<PlanActionType, number> = {
  // The library first: a service created in this apply can FCALL as soon as it connects.
  "load-script-library": 0,
  "create-user": 1,
  "modify-user": 2,
  "add-to-group": 3,
  "remove-from-group": 4,
  "delete-user": 5,
  "delete-script-library": 6,
};

function sameSet(a: readonly string[], b: readonly string[]): boolean {
  if (a.length !== b.length) return false;
  const set = new Set(a);
  return b.every((x) => set.has(x));
}

/**
 * Compares declared users with a target's users and returns what to do, in apply order:
 * creates, modifies, group additions, group removals, deletions (only with `prune`). Users the config
 * does not declare are left alone unless they are managed and `prune` is set.
 */
export function plan(desired: DesiredState, actual: ActualState, options: PlanOptions = {}): PlanAction[] {
  const actions: PlanAction[] = [];
  const actualById = new Map(actual.users.map((u) => [u.userId, u]));
  const desiredIds = new Set(desired.users.map((u) => u.userId));
  const group = desired.userGroupId !== undefined ? actual.userGroup : undefined;
  const members = new Set(group?.userIds ?? []);

  for (const want of [...desired.users].sort((a, b) => a.userId.localeCompare(b.userId))) {
    const have = actualById.get(want.userId);
    const nodes = actual.nodeDifferences?.[want.userId];
    const where = nodes !== undefined && nodes.length > 0 ? { nodes: nodes.map((n) => ({ ...n })) } : {};
    if (!have) {
      actions.push({
        type: "create-user",
        service: want.service,
        userId: want.userId,
        userName: want.userName,
        keyspace: want.keyspace,
        accessString: want.accessString,
        ...where,
      });
    } else {
      const changes: ModifyChange[] = [];
      if (normalizeAccessString(have.accessString) !== normalizeAccessString(want.accessString))
        changes.push("access");
      const passwordsKnown = want.passwordHashes !== undefined && have.passwordHashes !== undefined;
      if (
        want.passwordHashes === undefined ||
        (passwordsKnown && !sameSet(want.passwordHashes!, have.passwordHashes!))
      )
        changes.push("passwords");
      if (changes.length > 0) {
        actions.push({
          type: "modify-user",
          service: want.service,
          userId: want.userId,
          changes,
          accessString: want.accessString,
          previousAccessString: have.accessString,
          ...where,
        });
      }
    }
    if (group && !members.has(want.userId)) {
      actions.push({
        type: "add-to-group",
        service: want.service,
        groupId: group.groupId,
        userId: want.userId,
      });
    }
  }

  if (options.prune) {
    const stale = actual.users
      .filter((u) => u.managed && !desiredIds.has(u.userId))
      .sort((a, b) => a.userId.localeCompare(b.userId));
    for (const user of stale) {
      if (group && members.has(user.userId)) {
        actions.push({ type: "remove-from-group", groupId: group.groupId, userId: user.userId });
      }
      actions.push({ type: "delete-user", userId: user.userId, userName: user.userName });
    }
  }
  if (desired.scriptLibrary !== undefined && actual.scriptLibraries !== undefined) {
    const nodes = [...actual.scriptLibraries].sort((a, b) => a.node.localeCompare(b.node));
    for (const { node, libraries } of nodes) {
      if (!libraries.includes(desired.scriptLibrary))
        actions.push({ type: "load-script-library", node, library: desired.scriptLibrary });
      if (!options.pruneScriptLibraries) continue;
      for (const library of [...libraries].sort()) {
        if (library !== desired.scriptLibrary && library.startsWith(SCRIPT_LIBRARY_PREFIX))
          actions.push({ type: "delete-script-library", node, library });
      }
    }
  }
  return actions.sort((a, b) => ORDER[a.type] - ORDER[b.type]);
}

/** The desired state a config declares, with the password hashes its secrets hold (by service name). */
export function desiredStateFromConfig(
  config: PlatformConfig,
  options: {
    passwordHashes?: Record<string, string[] | undefined>;
    withUserGroup?: boolean;
    /** The script library every master must have (see `scriptLibrary().name`). */
    scriptLibrary?: string;
  } = {},
): DesiredState {
  const state: DesiredState = {
    users: platformUsers(config).map((svc) => {
      const user: DesiredUser = {
        service: svc.name,
        userId: svc.userId,
        userName: svc.userName,
        keyspace: svc.keyspace,
        accessString: svc.accessString,
      };
      const hashes = options.passwordHashes?.[svc.name];
      if (hashes !== undefined) user.passwordHashes = hashes;
      return user;
    }),
  };
  if (options.withUserGroup) state.userGroupId = config.userGroupId;
  if (options.scriptLibrary !== undefined) state.scriptLibrary = options.scriptLibrary;
  return state;
}

/** Counts of each action type, for summaries: `{ "create-user": 2, ... }`. */
export function summarizePlan(actions: readonly PlanAction[]): Partial<Record<PlanActionType, number>> {
  const counts: Partial<Record<PlanActionType, number>> = {};
  for (const a of actions) counts[a.type] = (counts[a.type] ?? 0) + 1;
  return counts;
}

/** `    missing on 127.0.0.1:7002; access differs on 127.0.0.1:7001`: where cluster nodes disagree. */
function nodeLines(nodes: readonly NodeDifference[] | undefined): string[] {
  if (nodes === undefined || nodes.length === 0) return [];
  const what: Record<NodeDifference["difference"], string> = {
    missing: "missing on",
    access: "access differs on",
    passwords: "passwords differ on",
  };
  const lines: string[] = [];
  for (const difference of ["missing", "access", "passwords"] as const) {
    const on = nodes.filter((n) => n.difference === difference).map((n) => n.node);
    if (on.length > 0)
      lines.push(`    ${what[difference]} node${on.length === 1 ? "" : "s"} ${on.join(", ")}`);
  }
  return lines;
}

/**
 * A plan as a reviewable diff: `+` creates and adds, `~` modifies (with the old and new access
 * string), `-` removes and deletes; on a cluster, the nodes that lack or differ are named. An empty
 * plan reads `No changes.`
 */
export function formatPlan(actions: readonly PlanAction[]): string {
  if (actions.length === 0) return "No changes. The target matches the config.";
  const lines: string[] = [];
  for (const a of actions) {
    switch (a.type) {
      case "create-user":
        lines.push(`+ create user ${a.userId} (service ${a.service}, keyspace ${a.keyspace}:*)`);
        lines.push(...nodeLines(a.nodes));
        lines.push(`    access: ${a.accessString}`);
        break;
      case "modify-user":
        lines.push(`~ modify user ${a.userId} (service ${a.service}): ${a.changes.join(", ")}`);
        lines.push(...nodeLines(a.nodes));
        if (a.changes.includes("access")) {
          lines.push(`    - ${a.previousAccessString}`);
          lines.push(`    + ${a.accessString}`);
        }
        if (a.changes.includes("passwords")) lines.push("    passwords: set from the service's secret");
        break;
      case "add-to-group":
        lines.push(`+ add user ${a.userId} to group ${a.groupId}`);
        break;
      case "remove-from-group":
        lines.push(`- remove user ${a.userId} from group ${a.groupId}`);
        break;
      case "delete-user":
        lines.push(`- delete user ${a.userId}`);
        break;
      case "load-script-library":
        lines.push(`+ load script library ${a.library} on ${a.node} (FUNCTION LOAD; FCALL for the client)`);
        break;
      case "delete-script-library":
        lines.push(`- delete script library ${a.library} on ${a.node} (clients still calling it will fail)`);
        break;
    }
  }
  const summary = Object.entries(summarizePlan(actions))
    .map(([type, n]) => `${n} ${type}`)
    .join(", ");
  lines.push("", `Plan: ${summary}.`);
  return lines.join("\n");
}
