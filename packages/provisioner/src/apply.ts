/**
 * Applying a platform: plan against the target, then carry out each action in order. Crash-safe: a
 * password is always written to the service's secret before the server learns it, so after a crash at
 * any point the next apply finishes the job and no password is ever lost (docs/decisions/0004).
 */
import {
  buildSecretPayload,
  type PlanAction,
  type PlatformConfig,
  platformUsers,
  type ResolvedService,
  type SecretPayload,
} from "@cacheplane/core";
import { scriptLibrary } from "@cacheplane/core/server-scripts";
import { assertWithinElastiCacheLimits } from "./elasticache-limits.js";
import { TargetError } from "./errors.js";
import { generatePassword as defaultGeneratePassword } from "./password.js";
import { detailedPlan } from "./plan-against.js";
import type { ApplyOptions, ApplyResult, ProvisioningTarget, SecretStore, StoredSecret } from "./types.js";

/** The passwords a secret holds, current first. */
export function secretPasswords(payload: SecretPayload): string[] {
  return payload.previousPassword !== undefined
    ? [payload.password, payload.previousPassword]
    : [payload.password];
}

/** JSON with sorted keys, to compare payloads regardless of key order. */
function stableJson(value: SecretPayload): string {
  const record = value as unknown as Record<string, unknown>;
  return JSON.stringify(
    Object.fromEntries(
      Object.keys(record)
        .sort()
        .map((k) => [k, record[k]]),
    ),
  );
}

/**
 * Makes the target and the secrets match the config:
 * - create-user: uses the service's secret if one exists (a previous run crashed after writing it),
 *   else generates a password and writes the secret first, then creates the user;
 * - modify-user: sets the access string and the secret's passwords (a service without a secret gets a
 *   new password, written to the secret first). On Redis both are always re-applied in one
 *   `ACL SETUSER ... reset ...`, so the user ends up exactly as declared;
 * - delete-user (only with `prune`): deletes the user, then its secret;
 * - group actions: passed to the target (ElastiCache).
 * Afterwards every existing secret is rewritten if its connection details (host, port, tls, username,
 * keyspaces, ...) no longer match the target and config; passwords are kept.
 * Applying twice changes nothing the second time.
 */
export async function applyPlatform(
  config: PlatformConfig,
  target: ProvisioningTarget,
  store: SecretStore,
  options: ApplyOptions = {},
): Promise<ApplyResult> {
  const generate = options.generatePassword ?? defaultGeneratePassword;
  const prune = options.prune ?? false;
  const planned = await detailedPlan(config, target, store, {
    prune,
    pruneScriptLibraries: options.pruneScriptLibraries ?? false,
  });
  const { actions, secrets } = planned;
  // ElastiCache quotas (100 users per user group, 1,000 per account) are checked before the first change.
  if (target.kind === "elasticache") assertWithinElastiCacheLimits(actions, planned.actual);
  const info = target.connectionInfo();
  // The services' users and, with `scanner: true`, the platform's scanner identity.
  const services = new Map(platformUsers(config).map((s) => [s.name, s]));
  const serviceOf = (name: string): ResolvedService => {
    const service = services.get(name);
    if (!service) throw new Error(`internal: the plan names service "${name}" the config does not declare`);
    return service;
  };
  /** True when a declared service's secret belongs to `userId` (a renamed user keeps its secret). */
  const secretInUse = (userId: string) =>
    [...secrets.values()].some((s) => s !== undefined && s.userId === userId);

  const ensureSecret = async (service: ResolvedService): Promise<string[]> => {
    const existing = secrets.get(service.name);
    if (existing) return secretPasswords(existing.payload);
    const password = generate();
    const payload = buildSecretPayload(config, service, info, { current: password });
    await store.put(service, payload);
    secrets.set(service.name, {
      service: service.name,
      userId: service.userId,
      payload,
      updatedAt: new Date().toISOString(),
    });
    return [password];
  };

  const applied: PlanAction[] = [];
  const total = actions.length;
  for (const [index, action] of actions.entries()) {
    options.onProgress?.({ index, total, action, status: "start" });
    switch (action.type) {
      case "create-user": {
        const passwords = await ensureSecret(serviceOf(action.service));
        await target.createUser(action, passwords);
        break;
      }
      case "modify-user": {
        const passwords = await ensureSecret(serviceOf(action.service));
        const exact = target.kind === "redis";
        const change: { accessString?: string; passwords?: readonly string[] } = {};
        if (exact || action.changes.includes("access")) change.accessString = action.accessString;
        if (exact || action.changes.includes("passwords")) change.passwords = passwords;
        await target.modifyUser(action.userId, change);
        break;
      }
      case "add-to-group":
        await target.addToGroup(action.groupId, action.userId);
        break;
      case "remove-from-group":
        await target.removeFromGroup(action.groupId, action.userId);
        break;
      case "delete-user":
        await target.deleteUser(action.userId);
        if (!secretInUse(action.userId)) await store.remove(action.userId);
        break;
      case "load-script-library": {
        const library = scriptLibrary();
        if (!target.loadScriptLibrary || action.library !== library.name)
          throw new TargetError(`internal: cannot load script library ${action.library} on ${action.node}`);
        await target.loadScriptLibrary(action.node, library.code);
        break;
      }
      case "delete-script-library":
        if (!target.deleteScriptLibrary)
          throw new TargetError(`internal: this target cannot delete script libraries (${action.node})`);
        await target.deleteScriptLibrary(action.node, action.library);
        break;
    }
    applied.push(action);
    options.onProgress?.({ index, total, action, status: "done" });
  }

  if (prune) {
    // Secrets of pruned users whose deletion went through but whose secret removal did not (a crash).
    const desiredIds = new Set(platformUsers(config).map((s) => s.userId));
    const present = new Set(planned.actual.users.map((u) => u.userId));
    for (const userId of planned.managedUserIds) {
      if (!desiredIds.has(userId) && !present.has(userId) && !secretInUse(userId)) await store.remove(userId);
    }
  }

  await refreshSecrets(config, store, info, secrets);
  const locations: Record<string, string> = {};
  for (const service of platformUsers(config)) locations[service.name] = store.locate(service);
  return {
    applied,
    secrets: locations,
    dangerous: planned.dangerous,
    accessVerified: planned.accessVerified,
  };
}

/** Rewrites secrets whose non-password fields are stale (endpoint moved, user renamed, keyspaces changed). */
async function refreshSecrets(
  config: PlatformConfig,
  store: SecretStore,
  info: ReturnType<ProvisioningTarget["connectionInfo"]>,
  secrets: Map<string, StoredSecret | undefined>,
): Promise<void> {
  for (const service of platformUsers(config)) {
    const secret = secrets.get(service.name);
    if (!secret) continue;
    const passwords: { current: string; previous?: string } = { current: secret.payload.password };
    if (secret.payload.previousPassword !== undefined) passwords.previous = secret.payload.previousPassword;
    const expected = buildSecretPayload(config, service, info, passwords);
    if (stableJson(expected) === stableJson(secret.payload) && secret.userId === service.userId) continue;
    await store.put(service, expected, secret.rotation ? { rotation: secret.rotation } : {});
  }
}
