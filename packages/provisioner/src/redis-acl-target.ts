/**
 * The Redis/Valkey target: service users are ACL users, set with `ACL SETUSER` on every node (a
 * standalone server, or every master and replica of a Redis Cluster, since ACL state is per node).
 */
import type { ActualState, ActualUser, NodeDifference, PlatformConfig } from "@cacheplane/core";
import { platformUsers, SCRIPT_LIBRARY_PREFIX } from "@cacheplane/core";
import { AccessCanonicalizer, assertNoCredentialRules } from "./access-canonicalizer.js";
import { type AccessCheck, type AccessFinding, AccessVerifier } from "./access-verifier.js";
import { AclPersistence, type AclSaveMode } from "./acl-persistence.js";
import {
  type AclUserEntry,
  PROBE_USER_PREFIX,
  parseAclList,
  ruleTokens,
  sameRulesIgnoringOrder,
} from "./acl-rules.js";
import type { AdminConnection } from "./admin-connection.js";
import { type AdminEndpoint, parseAdminUrl } from "./admin-url.js";
import type { ClusterNode } from "./cluster-topology.js";
import { TargetError } from "./errors.js";
import { type AdminTlsOptions, openCluster, openStandalone } from "./node-set.js";
import type { CreateUserAction, ProvisioningTarget } from "./types.js";

/** How to reach the server or cluster as an admin. */
export interface RedisAclTargetOptions {
  /**
   * Admin URLs, `redis://user:password@host:port` or `rediss://...` for TLS. One URL is a standalone
   * server unless `cluster` is true; several URLs are seeds of one Redis Cluster.
   */
  urls: string[];
  /** Treat the URL(s) as seeds of a Redis Cluster. @default true with several URLs, else false */
  cluster?: boolean;
  /** TLS settings for `rediss://` URLs. */
  tls?: AdminTlsOptions;
  /** When to run `ACL SAVE` after changes. @default "auto" */
  aclSave?: AclSaveMode;
  /** Connect timeout per node. @default 5000 */
  connectTimeoutMs?: number;
}

/** A user whose state differs between cluster nodes, as found by the last `readActual`. */
export interface NodeDisagreement {
  userId: string;
  /** `host:port` of a node that differs from the first node. */
  node: string;
  /** What differs on that node compared with the first node. */
  difference: "missing" | "extra" | "access" | "passwords";
}

/**
 * Marker added to `passwordHashes` when cluster nodes disagree on a user's passwords, so that the plan
 * always shows a password change (no secret hashes to this value) and apply resets them everywhere.
 */
export const PASSWORDS_DIFFER_BETWEEN_NODES = "(passwords differ between cluster nodes)";

function sameHashes(a: readonly string[], b: readonly string[]): boolean {
  return a.length === b.length && [...a].sort().join() === [...b].sort().join();
}

/** Whether two nodes agree about a user (rules compared ignoring order: nodes order them differently). */
function sameUser(a: AclUserEntry | undefined, b: AclUserEntry | undefined): boolean {
  if (a === undefined || b === undefined) return a === b;
  return sameRulesIgnoringOrder(a.access, b.access) && sameHashes(a.passwordHashes, b.passwordHashes);
}

function checkPasswords(userId: string, passwords: readonly string[]): void {
  if (passwords.length < 1 || passwords.length > 2)
    throw new TargetError(`User ${userId} needs 1 or 2 passwords (current, and previous during rotation).`);
  if (passwords.some((p) => typeof p !== "string" || p.length === 0))
    throw new TargetError(`User ${userId} was given an empty password.`);
}

/** Redis/Valkey ACL users, standalone or on every node of a Redis Cluster. */
export class RedisAclTarget implements ProvisioningTarget {
  readonly kind = "redis" as const;
  readonly supportsGroups = false;
  private readonly persistence: AclPersistence;
  private readonly canonicalizer = new AccessCanonicalizer();
  private readonly verifier = new AccessVerifier();
  private disagreements: NodeDisagreement[] = [];
  private closed = false;

  private constructor(
    private readonly nodes: AdminConnection[],
    private readonly topology: ClusterNode[],
    private readonly endpoint: AdminEndpoint,
    private readonly cluster: boolean,
    aclSave: AclSaveMode,
  ) {
    this.persistence = new AclPersistence(aclSave);
  }

  /**
   * Connects as the admin: to the one server, or to the first cluster seed that answers, then to every
   * node `CLUSTER NODES` lists (masters and replicas).
   * @throws TargetError on a bad URL, an unreachable node or a wrong password; never with the password.
   */
  static async connect(options: RedisAclTargetOptions): Promise<RedisAclTarget> {
    if (!Array.isArray(options.urls) || options.urls.length === 0)
      throw new TargetError(
        "RedisAclTarget.connect needs at least one admin URL (redis://user:password@host:port).",
      );
    const endpoints = options.urls.map((url, i) => parseAdminUrl(url, i + 1));
    const first = endpoints[0]!;
    if (endpoints.some((e) => e.tls !== first.tls))
      throw new TargetError("Admin URLs mix redis:// and rediss://; use one scheme for every node.");
    if (options.tls !== undefined && !first.tls)
      throw new TargetError(
        "TLS settings were given but the admin URL is redis://; use rediss:// to turn TLS on.",
      );
    if (options.cluster === false && endpoints.length > 1)
      throw new TargetError(
        "Several admin URLs are cluster seeds; pass one URL for a standalone server, or cluster: true.",
      );
    const cluster = options.cluster ?? endpoints.length > 1;
    const opened = cluster
      ? await openCluster(endpoints, options.tls, options.connectTimeoutMs)
      : await openStandalone(first, options.tls, options.connectTimeoutMs);
    return new RedisAclTarget(opened.connections, opened.topology, first, cluster, options.aclSave ?? "auto");
  }

  /** `host:port` of every node changes are applied to, the first being the one plans read from. */
  get nodeAddresses(): string[] {
    return this.nodes.map((n) => n.address);
  }

  /** Cluster nodes as discovered (role, id, address); empty for a standalone server. */
  get clusterNodes(): readonly ClusterNode[] {
    return this.topology;
  }

  /** Users whose state differed between nodes at the last `readActual` (always empty for standalone). */
  get lastDisagreements(): readonly NodeDisagreement[] {
    return this.disagreements;
  }

  connectionInfo(): { host: string; port: number; tls: boolean; cluster: boolean } {
    return {
      host: this.endpoint.host,
      port: this.endpoint.port,
      tls: this.endpoint.tls,
      cluster: this.cluster,
    };
  }

  /**
   * Users from `ACL LIST`, access in canonical form (see `canonicalizeAccess`), password hashes from
   * the `#<sha256>` entries. On a cluster every node is read, and each declared user is checked on
   * each node against that node's own spelling of the declared rules. Where nodes disagree (a hand
   * edit on one node), the user is reported so that the plan changes it and apply rewrites it on every
   * node: missing on some node -> reported missing (create-user); wrong rules on some node -> that
   * node's rules (modify-user, access); passwords differing between nodes -> the union of hashes plus
   * the marker {@link PASSWORDS_DIFFER_BETWEEN_NODES} (modify-user, passwords). Details of each
   * disagreement are in `lastDisagreements`.
   */
  async readActual(config: PlatformConfig, managedUserIds: ReadonlySet<string>): Promise<ActualState> {
    this.assertOpen();
    const lists = await Promise.all(
      this.nodes.map(async (node) => parseAclList(await node.call(["ACL", "LIST"]))),
    );
    const names = new Set<string>();
    for (const list of lists)
      for (const name of list.keys()) if (!name.startsWith(PROBE_USER_PREFIX)) names.add(name);
    const declared = new Map(platformUsers(config).map((s) => [s.userId, s.accessString]));
    // Each node's own spelling of the declared rules (the first node's is what plans compare with).
    const wanted = await Promise.all(
      this.nodes.map(async (node) => {
        const strings = [...declared.values()];
        const canonical = await this.canonicalizer.on(node, strings);
        return new Map(strings.map((access, i) => [access, canonical[i]!]));
      }),
    );
    const users: ActualUser[] = [];
    const disagreements: NodeDisagreement[] = [];
    const nodeDifferences: Record<string, NodeDifference[]> = {};

    for (const name of [...names].sort()) {
      const perNode = lists.map((list) => list.get(name));
      const base = perNode[0];
      perNode.forEach((entry, i) => {
        if (i === 0 || sameUser(base, entry)) return;
        const difference: NodeDisagreement["difference"] =
          entry === undefined
            ? "missing"
            : base === undefined
              ? "extra"
              : !sameRulesIgnoringOrder(entry.access, base.access)
                ? "access"
                : "passwords";
        disagreements.push({ userId: name, node: this.nodes[i]!.address, difference });
      });
      const declaredAccess = declared.get(name);
      if (declaredAccess !== undefined && this.nodes.length > 1) {
        const differences = this.differencesFromDeclared(perNode, declaredAccess, wanted);
        if (differences.length > 0) nodeDifferences[name] = differences;
      }
      const reported = this.reportedEntry(perNode, declaredAccess, wanted);
      if (reported === undefined) continue;
      users.push({
        userId: name,
        userName: name,
        accessString: reported.access,
        passwordHashes: reported.passwordHashes,
        managed: managedUserIds.has(name),
      });
    }
    this.disagreements = disagreements;
    return Object.keys(nodeDifferences).length > 0 ? { users, nodeDifferences } : { users };
  }

  /**
   * Where a declared user, present on at least one node, is missing or differs: nodes without it,
   * nodes whose rules are not the declared ones (that node's own spelling, in any order), and nodes whose
   * passwords differ from those of the first node that has the user.
   */
  private differencesFromDeclared(
    perNode: (AclUserEntry | undefined)[],
    declaredAccess: string,
    wanted: Map<string, string>[],
  ): NodeDifference[] {
    const first = perNode.find((e) => e !== undefined);
    if (first === undefined) return []; // missing everywhere: a plain create
    const differences: NodeDifference[] = [];
    perNode.forEach((entry, i) => {
      const node = this.nodes[i]!.address;
      if (entry === undefined) differences.push({ node, difference: "missing" });
      else if (!sameRulesIgnoringOrder(entry.access, wanted[i]!.get(declaredAccess)!))
        differences.push({ node, difference: "access" });
      else if (!sameHashes(entry.passwordHashes, first.passwordHashes))
        differences.push({ node, difference: "passwords" });
    });
    // Every node differs the same way (the config changed): nothing node-specific to point at.
    if (differences.length === perNode.length && differences.every((d) => d.difference === "access"))
      return [];
    return differences;
  }

  /**
   * What to report for a user seen as `perNode` (one entry per node, undefined where missing). A
   * declared user whose rules equal the node's spelling of the declared string, ignoring the order of
   * the rules, is reported with the first node's spelling (what the plan's desired side holds):
   * Redis 7.0 lists per-command rules in the order of its command dictionaries, which changes while
   * they rehash, so the same user reads back in different orders over a process's life. A canonical
   * description names each command once, so its set of rules is exact.
   */
  private reportedEntry(
    perNode: (AclUserEntry | undefined)[],
    declaredAccess: string | undefined,
    wanted: Map<string, string>[],
  ): AclUserEntry | undefined {
    const present = perNode.filter((e): e is AclUserEntry => e !== undefined);
    const first = present[0];
    if (first === undefined) return undefined;
    // A declared user missing on some node: report it missing, so create-user writes it everywhere.
    if (declaredAccess !== undefined && present.length < perNode.length) return undefined;
    let access = first.access;
    if (declaredAccess !== undefined) {
      const wrong = perNode.findIndex(
        (entry, i) => !sameRulesIgnoringOrder(entry!.access, wanted[i]!.get(declaredAccess)!),
      );
      access = wrong === -1 ? wanted[0]!.get(declaredAccess)! : perNode[wrong]!.access;
    }
    const hashes = first.passwordHashes;
    const agree = present.every((e) => sameHashes(e.passwordHashes, hashes));
    const passwordHashes = agree
      ? hashes
      : [...new Set(present.flatMap((e) => e.passwordHashes)), PASSWORDS_DIFFER_BETWEEN_NODES];
    return { name: first.name, access, passwordHashes };
  }

  /**
   * The server's own spelling of each access string, read back from short-lived, disabled,
   * password-less probe users on the first node (see `AccessCanonicalizer`). Cached per target.
   * @throws TargetError when the server rejects a rule (naming it), or a string holds a password rule.
   */
  async canonicalizeAccess(accessStrings: readonly string[]): Promise<string[]> {
    this.assertOpen();
    return this.canonicalizer.on(this.nodes[0]!, accessStrings);
  }

  /**
   * `ACL SETUSER <id> reset <access> ><password>...` on every node: the full rule set from scratch, so
   * re-applying gives exactly the same user (an existing user is overwritten).
   */
  async createUser(action: CreateUserAction, passwords: readonly string[]): Promise<void> {
    this.assertOpen();
    checkPasswords(action.userId, passwords);
    this.checkAccess(action.userId, action.accessString);
    this.checkUserId(action.userId);
    const args = [
      "ACL",
      "SETUSER",
      action.userId,
      "reset",
      ...ruleTokens(action.accessString),
      ...passwords.map((p) => `>${p}`),
    ];
    await this.onEveryNode(`create user ${action.userId}`, (node) => node.call(args, passwords));
    await this.persistence.save(this.nodes);
  }

  /**
   * With an access string: `reset` plus the rules, then the given passwords, or (without passwords)
   * the passwords each node already has (`#<hash>`). With passwords only: `resetpass` plus the
   * passwords, rules untouched. Applied on every node.
   * @throws TargetError when the user does not exist on a node and no access string is given.
   */
  async modifyUser(
    userId: string,
    change: { accessString?: string; passwords?: readonly string[] },
  ): Promise<void> {
    this.assertOpen();
    this.checkUserId(userId);
    const { accessString, passwords } = change;
    if (accessString === undefined && passwords === undefined) return;
    if (passwords !== undefined) checkPasswords(userId, passwords);
    if (accessString !== undefined) this.checkAccess(userId, accessString);
    const secretArgs = passwords?.map((p) => `>${p}`) ?? [];
    await this.onEveryNode(`modify user ${userId}`, async (node) => {
      if (accessString !== undefined && passwords !== undefined) {
        await node.call(
          ["ACL", "SETUSER", userId, "reset", ...ruleTokens(accessString), ...secretArgs],
          passwords,
        );
        return;
      }
      const hashes = await this.passwordHashesOn(node, userId);
      if (accessString !== undefined) {
        await node.call([
          "ACL",
          "SETUSER",
          userId,
          "reset",
          ...ruleTokens(accessString),
          ...hashes.map((h) => `#${h}`),
        ]);
      } else {
        await node.call(["ACL", "SETUSER", userId, "resetpass", ...secretArgs], passwords);
      }
    });
    await this.persistence.save(this.nodes);
  }

  private async passwordHashesOn(node: AdminConnection, userId: string): Promise<string[]> {
    const reply = await node.call(["ACL", "GETUSER", userId]);
    if (!Array.isArray(reply))
      throw new TargetError(`User ${userId} does not exist on ${node.address}; run apply to create it.`, {
        node: node.address,
      });
    const index = reply.indexOf("passwords");
    const passwords = index === -1 ? [] : reply[index + 1];
    return Array.isArray(passwords) ? passwords.map(String) : [];
  }

  /** Redis has no user groups: never called for this target (plans for it hold no group actions). */
  async addToGroup(groupId: string, userId: string): Promise<void> {
    throw new TargetError(
      `Redis/Valkey has no user groups; cannot add ${userId} to ${groupId} (supportsGroups is false).`,
    );
  }

  /** Redis has no user groups: never called for this target. */
  async removeFromGroup(groupId: string, userId: string): Promise<void> {
    throw new TargetError(
      `Redis/Valkey has no user groups; cannot remove ${userId} from ${groupId} (supportsGroups is false).`,
    );
  }

  /** `ACL DELUSER` on every node. Refuses `default` and the admin user this target is connected as. */
  async deleteUser(userId: string): Promise<void> {
    this.assertOpen();
    this.checkUserId(userId);
    await this.onEveryNode(`delete user ${userId}`, (node) => node.call(["ACL", "DELUSER", userId]));
    await this.persistence.save(this.nodes);
  }

  /**
   * Verifies each access string on every node (masters and replicas: ACL state is per node) with
   * `ACL DRYRUN` as a disabled probe user; see `AccessVerifier`. Changes nothing lasting.
   */
  async verifyAccess(checks: readonly AccessCheck[]): Promise<AccessFinding[]> {
    this.assertOpen();
    const perNode = await Promise.all(this.nodes.map((node) => this.verifier.verify(node, checks)));
    return perNode.flat();
  }

  /** The admin connections of the masters (the one node of a standalone server). */
  private masters(): AdminConnection[] {
    if (this.topology.length === 0) return [...this.nodes];
    return this.nodes.filter((_, i) => this.topology[i]?.role === "master");
  }

  /** Admin connections to every node, for read-only operations (usage, audit). Do not close them. */
  get adminNodes(): readonly { connection: AdminConnection; role: "master" | "replica" }[] {
    return this.nodes.map((connection, i) => ({
      connection,
      role: this.topology.length === 0 ? "master" : (this.topology[i]?.role ?? "master"),
    }));
  }

  /**
   * `FUNCTION LIST LIBRARYNAME cacheplane_` on every master. Undefined when the server has no
   * functions (before Redis 7.0): the client then needs `scripting: true` for its atomic operations.
   */
  async readScriptLibraries(): Promise<{ node: string; libraries: string[] }[] | undefined> {
    this.assertOpen();
    try {
      return await Promise.all(
        this.masters().map(async (node) => {
          const reply = await node.call(["FUNCTION", "LIST", "LIBRARYNAME", `${SCRIPT_LIBRARY_PREFIX}*`]);
          const libraries = (Array.isArray(reply) ? reply : [])
            .map((entry) => {
              if (!Array.isArray(entry)) return "";
              const index = entry.findIndex((v) => String(v) === "library_name");
              return index === -1 ? "" : String(entry[index + 1]);
            })
            .filter((name) => name.startsWith(SCRIPT_LIBRARY_PREFIX))
            .sort();
          return { node: node.address, libraries };
        }),
      );
    } catch (error) {
      if (error instanceof TargetError && /unknown command/i.test(error.serverMessage ?? ""))
        return undefined;
      throw error;
    }
  }

  /** `FUNCTION LOAD <code>` on the master at `node`; an already loaded library counts as done. */
  async loadScriptLibrary(node: string, code: string): Promise<void> {
    this.assertOpen();
    const connection = this.masterAt(node);
    try {
      await connection.call(["FUNCTION", "LOAD", code]);
    } catch (error) {
      if (error instanceof TargetError && /already exists/i.test(error.serverMessage ?? "")) return;
      throw error;
    }
  }

  /** `FUNCTION DELETE <library>` on the master at `node`; a missing library counts as done. */
  async deleteScriptLibrary(node: string, library: string): Promise<void> {
    this.assertOpen();
    if (!library.startsWith(SCRIPT_LIBRARY_PREFIX))
      throw new TargetError(
        `Refusing to delete library "${library}": only ${SCRIPT_LIBRARY_PREFIX}* libraries are Cacheplane's.`,
      );
    try {
      await this.masterAt(node).call(["FUNCTION", "DELETE", library]);
    } catch (error) {
      if (error instanceof TargetError && /not found|no such library/i.test(error.serverMessage ?? ""))
        return;
      throw error;
    }
  }

  private masterAt(address: string): AdminConnection {
    const connection = this.masters().find((n) => n.address === address);
    if (!connection)
      throw new TargetError(
        `${address} is not a master this target is connected to; plan again (the cluster topology may have changed).`,
        { node: address },
      );
    return connection;
  }

  /** Closes every admin connection. Idempotent. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await Promise.all(this.nodes.map((n) => n.close()));
  }

  private assertOpen(): void {
    if (this.closed) throw new TargetError("This RedisAclTarget was closed; connect again.");
  }

  private checkUserId(userId: string): void {
    const admin = this.endpoint.username ?? "default";
    if (userId === "default" || userId === admin)
      throw new TargetError(
        `Refusing to change "${userId}": it is the ${userId === admin ? "admin user this target connects as" : "default user"}.`,
      );
    if (!/^[A-Za-z0-9][A-Za-z0-9_.-]*$/.test(userId))
      throw new TargetError(`"${userId}" is not a valid service user id.`);
  }

  private checkAccess(userId: string, accessString: string): void {
    assertNoCredentialRules([accessString], userId);
  }

  /** Runs `fn` on every node in parallel; if any fail, one TargetError names each failed node. */
  private async onEveryNode(what: string, fn: (node: AdminConnection) => Promise<unknown>): Promise<void> {
    const results = await Promise.allSettled(this.nodes.map((node) => fn(node)));
    const failures = results.flatMap((r) => (r.status === "rejected" ? [r.reason as unknown] : []));
    if (failures.length === 0) return;
    const first = failures[0];
    if (this.nodes.length === 1 && first instanceof TargetError) throw first;
    const lines = failures.map((f) => `  - ${f instanceof Error ? f.message : String(f)}`);
    throw new TargetError(
      `Could not ${what} on ${failures.length} of ${this.nodes.length} nodes (the others were changed; ACL state is ` +
        `per node, so run apply again once the cause is fixed):\n${lines.join("\n")}`,
      first instanceof TargetError ? { ...first.details } : {},
    );
  }
}
