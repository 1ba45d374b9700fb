/**
 * Two-password rotation without downtime. `startRotation` writes the secret with a new `password` and
 * the old one as `previousPassword`, then makes the server accept both; services pick the new password
 * up when they next read their secret. `finishRotation` drops `previousPassword` from the secret, then
 * from the server. Secret first, server second, so a crash at any point is finished by running the same
 * step again (docs/decisions/0004).
 *
 * Redis checks passwords on AUTH only: connections that authenticated with the old password stay
 * authenticated after `finishRotation`. Services must reconnect (re-reading the secret) between start
 * and finish for the rotation to actually retire the old password's sessions.
 */
import {
  buildSecretPayload,
  findService,
  type PlatformConfig,
  type ResolvedService,
  type SecretPayload,
} from "@cacheplane/core";
import { RotationError, TargetError } from "./errors.js";
import { generatePassword as defaultGeneratePassword } from "./password.js";
import type { ProvisioningTarget, SecretStore, StoredSecret } from "./types.js";

/**
 * The payload that starts a rotation: `next` becomes the password, the current one becomes
 * `previousPassword` (an older previous password is dropped: at most two are ever valid). Every other
 * field (host, `user_arn`, `auth`, ...) is kept.
 */
export function rotationStartPayload(current: SecretPayload, next: string): SecretPayload {
  const { previousPassword: _older, ...rest } = current;
  return { ...rest, password: next, previousPassword: current.password };
}

/** The payload that finishes a rotation: the same without `previousPassword`. */
export function rotationFinishPayload(current: SecretPayload): SecretPayload {
  const { previousPassword: _previous, ...rest } = current;
  return rest;
}

/** The passwords the server must accept for a payload: the current one, and the previous one during a rotation. */
export function rotationPasswords(payload: SecretPayload): string[] {
  return payload.previousPassword !== undefined
    ? [payload.password, payload.previousPassword]
    : [payload.password];
}

/** Fields of a stored payload that `buildSecretPayload` does not derive and a rotation must keep. */
function keptFields(payload: SecretPayload): Partial<SecretPayload> {
  return {
    ...(payload.user_arn !== undefined ? { user_arn: payload.user_arn } : {}),
    ...(payload.auth !== undefined ? { auth: payload.auth } : {}),
  };
}

/** What a rotation step did. */
export interface RotationResult {
  service: string;
  userId: string;
  /**
   * `started`: new password generated, both valid. `resumed`: a rotation was already under way (a second
   * start, or a start that crashed half-way); it was completed without generating another password.
   * `finished`: only the new password is valid now. `already-finished`: no rotation was under way; the
   * server's passwords were (re)set to the secret's current one.
   */
  status: "started" | "resumed" | "finished" | "already-finished";
  /** When the rotation started (for `started`/`resumed`). */
  startedAt?: string;
  /** Where the secret is (file path, secret name). */
  secret: string;
}

async function loadSecret(
  config: PlatformConfig,
  serviceName: string,
  store: SecretStore,
): Promise<{ service: ResolvedService; secret: StoredSecret }> {
  const service = findService(config, serviceName);
  const secret = await store.get(service);
  if (!secret) {
    throw new RotationError(
      `Service "${service.name}" has no secret at ${store.locate(service)}; run apply first (it creates the user and its secret).`,
      service.name,
    );
  }
  return { service, secret };
}

async function requireUser(
  config: PlatformConfig,
  service: ResolvedService,
  target: ProvisioningTarget,
): Promise<void> {
  const actual = await target.readActual(config, new Set());
  if (!actual.users.some((u) => u.userId === service.userId)) {
    throw new RotationError(
      `User ${service.userId} of service "${service.name}" does not exist on the target; run apply first.`,
      service.name,
    );
  }
}

async function setServerPasswords(
  service: ResolvedService,
  target: ProvisioningTarget,
  passwords: readonly string[],
  step: "start" | "finish",
): Promise<void> {
  try {
    await target.modifyUser(service.userId, { passwords });
  } catch (error) {
    if (!(error instanceof TargetError)) throw error;
    throw new RotationError(
      `The secret of "${service.name}" is written, but the server's passwords were not updated: ${error.message}\n` +
        `Fix the cause and run the ${step === "start" ? "rotation start" : "rotation finish"} again; it continues where it stopped.`,
      service.name,
    );
  }
}

/**
 * Starts a rotation: a new password, written to the secret as `password` with the old one as
 * `previousPassword` (and rotation metadata), then both set on the server. Running it again while a
 * rotation is under way continues that rotation (same passwords) instead of replacing the old password.
 * @throws RotationError when the service has no secret or no user yet (run apply first), or the server
 * could not be updated (run it again).
 */
export async function startRotation(
  config: PlatformConfig,
  serviceName: string,
  target: ProvisioningTarget,
  store: SecretStore,
  options: { generatePassword?: () => string } = {},
): Promise<RotationResult> {
  const { service, secret } = await loadSecret(config, serviceName, store);
  await requireUser(config, service, target);
  const base = { service: service.name, userId: service.userId, secret: store.locate(service) };
  const previous = secret.payload.previousPassword;
  if (previous !== undefined) {
    await setServerPasswords(service, target, [secret.payload.password, previous], "start");
    const startedAt = secret.rotation?.startedAt ?? secret.updatedAt;
    return { ...base, status: "resumed", startedAt };
  }
  const old = secret.payload.password;
  const next = (options.generatePassword ?? defaultGeneratePassword)();
  if (next === old)
    throw new RotationError("The password generator returned the current password.", service.name);
  const startedAt = new Date().toISOString();
  const payload = rotationStartPayload(
    {
      ...buildSecretPayload(config, service, target.connectionInfo(), { current: old }),
      ...keptFields(secret.payload),
    },
    next,
  );
  await store.put(service, payload, { rotation: { startedAt } });
  await setServerPasswords(service, target, [next, old], "start");
  return { ...base, status: "started", startedAt };
}

/**
 * Finishes a rotation: the secret without `previousPassword` first, then only the new password on the
 * server (new AUTH with the old one fails from then on). Without a rotation under way it (re)sets the
 * server to the secret's current password, which also completes a finish that crashed half-way.
 * @throws RotationError when the service has no secret or user, or the server could not be updated.
 */
export async function finishRotation(
  config: PlatformConfig,
  serviceName: string,
  target: ProvisioningTarget,
  store: SecretStore,
): Promise<RotationResult> {
  const { service, secret } = await loadSecret(config, serviceName, store);
  await requireUser(config, service, target);
  const base = { service: service.name, userId: service.userId, secret: store.locate(service) };
  const current = secret.payload.password;
  if (secret.payload.previousPassword === undefined) {
    await setServerPasswords(service, target, [current], "finish");
    return { ...base, status: "already-finished" };
  }
  const payload = rotationFinishPayload({
    ...buildSecretPayload(config, service, target.connectionInfo(), { current }),
    ...keptFields(secret.payload),
  });
  await store.put(service, payload);
  await setServerPasswords(service, target, [current], "finish");
  return { ...base, status: "finished" };
}
