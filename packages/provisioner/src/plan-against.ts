/** Planning against a live target: desired state from config + secrets, actual state from the target. */
import {
  type ActualState,
  type DesiredState,
  desiredStateFromConfig,
  forbiddenProbes,
  isScanner,
  type PlanAction,
  type PlatformConfig,
  passwordHash,
  plan,
  platformUsers,
  scannerForbiddenProbes,
} from "@cacheplane/core";
import { scriptLibrary } from "@cacheplane/core/server-scripts";
import type { AccessFinding } from "./access-verifier.js";
import { AccessVerificationError } from "./errors.js";
import type { ProvisioningTarget, SecretStore, StoredSecret } from "./types.js";

/** Options of planning (and applying). */
export interface PlanAgainstOptions {
  /** Also delete managed users the config no longer declares. @default false */
  prune?: boolean;
  /** Also delete `cacheplane_*` script libraries of older releases. @default false */
  pruneScriptLibraries?: boolean;
}

/** What {@link planAgainst} found: the actions, and the two states they were computed from. */
export interface PlanAgainstResult {
  actions: PlanAction[];
  /** Declared users, access strings in the target's canonical form, password hashes from the secrets. */
  desired: DesiredState;
  actual: ActualState;
  /**
   * Dangerous commands that services with `allowDangerous: true` can run, per node, as the server
   * answered `ACL DRYRUN`. Print them loudly: they are what that setting costs.
   */
  dangerous: AccessFinding[];
  /** Whether the target verified the access strings against the server (the Redis target does). */
  accessVerified: boolean;
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
  options: PlanAgainstOptions = {},
): Promise<DetailedPlan> {
  const secrets = new Map<string, StoredSecret | undefined>();
  await Promise.all(
    platformUsers(config).map(async (service) => {
      secrets.set(service.name, await store.get(service));
    }),
  );
  const passwordHashes: Record<string, string[] | undefined> = {};
  for (const [name, secret] of secrets)
    passwordHashes[name] = secret ? secretPasswordHashes(secret) : undefined;
  const libraries = target.readScriptLibraries ? await target.readScriptLibraries() : undefined;
  const desired = desiredStateFromConfig(config, {
    passwordHashes,
    withUserGroup: target.supportsGroups,
    ...(libraries !== undefined ? { scriptLibrary: scriptLibrary().name } : {}),
  });
  const { dangerous, accessVerified } = await verifyAccess(config, target);
  const canonical = await target.canonicalizeAccess(desired.users.map((u) => u.accessString));
  desired.users.forEach((user, i) => {
    user.accessString = canonical[i]!;
  });
  const managedUserIds = new Set(await store.listManagedUserIds());
  const actual = await target.readActual(config, managedUserIds);
  if (libraries !== undefined) actual.scriptLibraries = libraries;
  const actions = plan(desired, actual, {
    prune: options.prune ?? false,
    pruneScriptLibraries: options.pruneScriptLibraries ?? false,
  });
  return { actions, desired, actual, secrets, managedUserIds, dangerous, accessVerified };
}

/**
 * Verifies every declared access string on the target (when it can): a command that must be denied
 * but is allowed throws {@link AccessVerificationError} for services without `allowDangerous`, and is
 * returned in `dangerous` for services with it.
 */
async function verifyAccess(
  config: PlatformConfig,
  target: ProvisioningTarget,
): Promise<{ dangerous: AccessFinding[]; accessVerified: boolean }> {
  if (!target.verifyAccess) return { dangerous: [], accessVerified: false };
  const findings = await target.verifyAccess(
    platformUsers(config).map((s) => ({
      service: s.name,
      userId: s.userId,
      keyspace: s.keyspace,
      accessString: s.accessString,
      // The scanner may SCAN (and nothing else): every other denied command, and any key or channel.
      probes: isScanner(s) ? scannerForbiddenProbes(s.keyspace) : forbiddenProbes(s),
    })),
  );
  const allowed = new Set(config.services.filter((s) => s.allowDangerous).map((s) => s.name));
  const violations = findings.filter((f) => !allowed.has(f.service));
  if (violations.length > 0) throw new AccessVerificationError(violations);
  return { dangerous: findings.filter((f) => allowed.has(f.service)), accessVerified: true };
}

/**
 * Reads the secrets (their password hashes make the desired state), verifies the declared access
 * strings on the server (`ACL DRYRUN`; throws {@link AccessVerificationError} when one would allow a
 * command it must deny), canonicalises them through the target, reads the target's users and script
 * libraries and returns core's `plan`. Changes nothing (the Redis target creates and deletes
 * short-lived, disabled probe users to verify and canonicalise).
 */
export async function planAgainst(
  config: PlatformConfig,
  target: ProvisioningTarget,
  store: SecretStore,
  options: PlanAgainstOptions = {},
): Promise<PlanAgainstResult> {
  const { actions, desired, actual, dangerous, accessVerified } = await detailedPlan(
    config,
    target,
    store,
    options,
  );
  return { actions, desired, actual, dangerous, accessVerified };
}
