/**
 * The contracts every provisioning target and secret store fulfils. `apply.ts` drives them with a
 * `core` plan; the Redis target (standalone/cluster) and the ElastiCache target both implement
 * `ProvisioningTarget`; the local file store and Secrets Manager both implement `SecretStore`.
 */

import type {
  ActualState,
  PlanAction,
  PlatformConfig,
  ResolvedService,
  SecretPayload,
} from "@cacheplane/core";
import type { AccessCheck, AccessFinding } from "./access-verifier.js";

export type CreateUserAction = Extract<PlanAction, { type: "create-user" }>;
export type ModifyUserAction = Extract<PlanAction, { type: "modify-user" }>;

/** Something that holds Redis users: a Redis/Valkey server or cluster, or the ElastiCache API. */
export interface ProvisioningTarget {
  /** `redis` for ACL SETUSER targets, `elasticache` for the AWS API. */
  readonly kind: "redis" | "elasticache";
  /** True when users belong to a user group (ElastiCache); plans then include group actions. */
  readonly supportsGroups: boolean;
  /** Where secrets should point clients at (host, port, tls, cluster) for this target. */
  connectionInfo(): { host: string; port: number; tls: boolean; cluster: boolean };
  /**
   * Users as the target reports them, access strings in canonical form, `managed` set for users in
   * `managedUserIds` (or tagged as managed by the target itself). Never includes passwords, only hashes.
   */
  readActual(config: PlatformConfig, managedUserIds: ReadonlySet<string>): Promise<ActualState>;
  /** The target's canonical spelling of access strings, so desired and actual compare exactly. */
  canonicalizeAccess(accessStrings: readonly string[]): Promise<string[]>;
  /** Creates the user with exactly these passwords (1 or 2). Succeeds if it already exists identically. */
  createUser(action: CreateUserAction, passwords: readonly string[]): Promise<void>;
  /** Sets the access string and, when given, replaces the password list exactly. */
  modifyUser(userId: string, change: { accessString?: string; passwords?: readonly string[] }): Promise<void>;
  addToGroup(groupId: string, userId: string): Promise<void>;
  removeFromGroup(groupId: string, userId: string): Promise<void>;
  deleteUser(userId: string): Promise<void>;
  /**
   * Asks the server (every node) whether each access string really denies what it must: `ACL DRYRUN`
   * of core's deny lists and of every @admin/@dangerous command the node knows, as a disabled probe
   * user. Returns every command a user could run although it should not. Optional: targets without
   * an admin connection to the nodes (ElastiCache's API) cannot verify.
   */
  verifyAccess?(checks: readonly AccessCheck[]): Promise<AccessFinding[]>;
  /**
   * The `cacheplane_*` function libraries loaded on each master, or undefined when the server has no
   * functions (Redis/Valkey before 7.0). Optional: targets that cannot load functions omit it.
   */
  readScriptLibraries?(): Promise<{ node: string; libraries: string[] }[] | undefined>;
  /** `FUNCTION LOAD` on one master; succeeds when the library is there already. */
  loadScriptLibrary?(node: string, code: string): Promise<void>;
  /** `FUNCTION DELETE` on one master; succeeds when the library is gone already. */
  deleteScriptLibrary?(node: string, library: string): Promise<void>;
  /** Closes connections/clients. */
  close(): Promise<void>;
}

/** A stored secret plus bookkeeping the store keeps next to it. */
export interface StoredSecret {
  service: string;
  userId: string;
  payload: SecretPayload;
  /** ISO time of the last write. */
  updatedAt: string;
  /** Set while a two-password rotation is under way (between `rotate` and `rotate --finish`). */
  rotation?: { startedAt: string };
}

/** Where service secrets live: a local directory (dev, tests) or AWS Secrets Manager. */
export interface SecretStore {
  readonly kind: "file" | "secrets-manager";
  get(service: ResolvedService): Promise<StoredSecret | undefined>;
  /** Writes atomically (a crash leaves the old or the new secret, never half of one). */
  put(
    service: ResolvedService,
    payload: SecretPayload,
    meta?: { rotation?: { startedAt: string } },
  ): Promise<void>;
  /** User ids of every secret this store holds: the users Cacheplane manages. */
  listManagedUserIds(): Promise<string[]>;
  /** Removes the secret of a pruned user (by user id). */
  remove(userId: string): Promise<void>;
  /** Where a client finds this secret: a file path or a secret ARN/name. */
  locate(service: ResolvedService): string;
}

/** One line of progress while applying, for a CLI progress display. */
export interface ApplyProgress {
  index: number;
  total: number;
  action: PlanAction;
  status: "start" | "done" | "skipped";
}

export interface ApplyOptions {
  prune?: boolean;
  /** Also delete `cacheplane_*` script libraries of older releases (their clients' FCALLs fail). @default false */
  pruneScriptLibraries?: boolean;
  onProgress?: (event: ApplyProgress) => void;
  /** Password generator; defaults to crypto.randomBytes over core's PASSWORD_ALPHABET. */
  generatePassword?: () => string;
}

export interface ApplyResult {
  /** The actions that were applied, in order. */
  applied: PlanAction[];
  /** Service name -> where its secret is (file path / ARN). */
  secrets: Record<string, string>;
  /** Dangerous commands services with `allowDangerous: true` can run (see `PlanAgainstResult`). */
  dangerous: AccessFinding[];
  /** Whether the access strings were verified against the server before applying. */
  accessVerified: boolean;
}
