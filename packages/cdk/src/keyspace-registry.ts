/**
 * A per-app registry of what each `ServiceCacheAccess` claims, so that two services in one CDK app can
 * never share a keyspace, a Redis user or a secret by accident. Keyspaces are claimed per platform
 * (another platform may reuse them); user ids and secret names per account and region, because
 * ElastiCache users and Secrets Manager secrets are regional resources of the account.
 */
import type { IConstruct } from "constructs";
import { invalid } from "./validation.js";

const registries = new WeakMap<IConstruct, Map<string, string>>();

/** What can be claimed. */
export type ClaimKind = "keyspace" | "user id" | "secret name";

const FIXES: Record<ClaimKind, string> = {
  keyspace: "every service needs its own keyspace (set `keyspace` on one of them)",
  "user id":
    "ElastiCache user ids are unique per account and region (rename one service, or give one platform a `userPrefix`)",
  "secret name": "secret names are unique per account and region (set `secretName` on one of them)",
};

/** One thing a construct uses: a keyspace in a platform, a user id or secret name in an account/region. */
export interface Claim {
  kind: ClaimKind;
  /** Where the value must be unique: `platform <key>` for keyspaces, `<account>/<region>` otherwise. */
  where: string;
  value: string;
}

/**
 * Records that `scope` uses every one of `claims`, all or nothing (a construct that fails validation
 * leaves no claim behind).
 * @throws CacheplaneValidationError naming both constructs when another one already claimed a value.
 */
export function claimNames(scope: IConstruct, ...claims: Claim[]): void {
  const root = scope.node.root;
  let registry = registries.get(root);
  if (!registry) {
    registry = new Map();
    registries.set(root, registry);
  }
  const keyOf = (c: Claim) => `${c.kind}\u0000${c.where}\u0000${c.value}`;
  for (const claim of claims) {
    const owner = registry.get(keyOf(claim));
    if (owner !== undefined && owner !== scope.node.path) {
      invalid(
        scope,
        `${claim.kind} "${claim.value}" in ${claim.where} is already used by ${owner}; ${FIXES[claim.kind]}`,
      );
    }
  }
  for (const claim of claims) registry.set(keyOf(claim), scope.node.path);
}
