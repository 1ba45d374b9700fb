/** Planning against a live target: desired state from config + secrets, actual state from the target. */
import {
  type ActualState,
  type DesiredState,
  desiredStateFromConfig,
  type PlanAction,
  type PlatformConfig,
  passwordHash,
  plan,
} from "@cacheplane/core";
import type { ProvisioningTarget, SecretStore, StoredSecret } from "./types.js";

/** What {@link planAgainst} found: the actions, and the two states they were computed from. */
export interface PlanAgainstResult {
  actions: PlanAction[];
  /** Declared users, access strings in the target's canonical form, password hashes from the secrets. */
  desired: DesiredState;
  actual: ActualState;
}

/** A plan plus what apply needs from planning (secrets by service name, managed user ids). */
export interface DetailedPlan extends PlanAgainstResult {
  secrets: Map<string, StoredSecret | undefined>;
  managedUserIds: Set<string>;
}

/** The SHA-256 hashes of a secret's passwords (current, and previous during a rotation). */
export function secretPasswordHashes(secret: StoredSecret): string[] {
  const hashes = [passwordHash(secret.payload.password)];
  if (secret.payload.previousPassword !== undefined)
    hashes.push(passwordHash(secret.payload.previousPassword));
  return hashes;
}

/** {@link planAgainst}, also returning the secrets and managed user ids it read. */
export async function detailedPlan(
  config: PlatformConfig,
  target: ProvisioningTarget,
  store: SecretStore,
  options: { prune?: boolean } = {},
): Promise<DetailedPlan> {
  const secrets = new Map<string, StoredSecret | undefined>();
  await Promise.all(
    config.services.map(async (service) => {
      secrets.set(service.name, await store.get(service));
    }),
  );
  const passwordHashes: Record<string, string[] | undefined> = {};
  for (const [name, secret] of secrets)
    passwordHashes[name] = secret ? secretPasswordHashes(secret) : undefined;
  const desired = desiredStateFromConfig(config, { passwordHashes, withUserGroup: target.supportsGroups });
  const canonical = await target.canonicalizeAccess(desired.users.map((u) => u.accessString));
  desired.users.forEach((user, i) => {
    user.accessString = canonical[i]!;
  });
  const managedUserIds = new Set(await store.listManagedUserIds());
  const actual = await target.readActual(config, managedUserIds);
  const actions = plan(desired, actual, { prune: options.prune ?? false });
  return { actions, desired, actual, secrets, managedUserIds };
}

/**
 * Reads the secrets (their password hashes make the desired state), canonicalises the declared access
 * strings through the target, reads the target's users and returns core's `plan`. Changes nothing
 * (the Redis target creates and deletes a short-lived, disabled probe user to canonicalise).
 */
export async function planAgainst(
  config: PlatformConfig,
  target: ProvisioningTarget,
  store: SecretStore,
  options: { prune?: boolean } = {},
): Promise<PlanAgainstResult> {
  const { actions, desired, actual } = await detailedPlan(config, target, store, options);
  return { actions, desired, actual };
}
