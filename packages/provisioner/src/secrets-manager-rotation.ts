/**
 * Secrets Manager rotation of a service's password, with Cacheplane's two-password rotation: the four
 * steps Secrets Manager calls a rotation function with (createSecret, setSecret, testSecret,
 * finishSecret), on version staging labels.
 *
 * - createSecret: a new version labelled AWSPENDING = the current payload with a new `password` and the
 *   current password as `previousPassword` (`rotationStartPayload`, as `cacheplane rotate` does).
 * - setSecret: the user gets both passwords (new and previous): running services keep working with the
 *   password they have, and pick the new one up when they next read the secret (at the latest when the
 *   server refuses the old one: the client re-reads its secret on WRONGPASS).
 * - testSecret: the new password is checked against the cache (a real AUTH where the function can
 *   reach it, else the user must be active with both passwords set).
 * - finishSecret: AWSCURRENT moves to the new version.
 * The previous password stays valid until the next rotation, which replaces it: at most two passwords
 * are valid at any time, and a rotation never cuts off a running client. Every step is idempotent, as
 * Secrets Manager may call a step again.
 */
import type { SecretPayload } from "@cacheplane/core";
import { generatePassword as defaultGeneratePassword } from "./password.js";
import { rotationPasswords, rotationStartPayload } from "./rotation.js";
import { decodeSecretDocument, encodeSecretDocument } from "./secrets-manager-document.js";

/** The steps Secrets Manager calls a rotation function with. */
export type RotationStep = "createSecret" | "setSecret" | "testSecret" | "finishSecret";

/** The event a rotation Lambda receives. */
export interface RotationEvent {
  Step: RotationStep;
  SecretId: string;
  ClientRequestToken: string;
  /** Present for secrets rotated by an external service; unused. */
  RotationToken?: string;
}

/** Secret versions, as Secrets Manager keeps them (or a local stand-in in tests). */
export interface RotationSecrets {
  /** Version ids and their staging labels; whether rotation is enabled. */
  describe(secretId: string): Promise<{ rotationEnabled: boolean; versions: Record<string, string[]> }>;
  /** The secret string of the version with `stage` (and `versionId` when given), undefined when there is none. */
  read(secretId: string, stage: "AWSCURRENT" | "AWSPENDING", versionId?: string): Promise<string | undefined>;
  /** Writes a new version `versionId` labelled AWSPENDING. */
  putPending(secretId: string, versionId: string, secretString: string): Promise<void>;
  /** Moves AWSCURRENT to `versionId` (from `fromVersionId`). */
  promote(secretId: string, versionId: string, fromVersionId: string | undefined): Promise<void>;
}

/** The cache's users (the ElastiCache target, or a Redis target locally). */
export interface RotationUsers {
  /** Makes the user accept exactly `passwords` (1 or 2). */
  setPasswords(userId: string, passwords: readonly string[]): Promise<void>;
  /** Proves the pending payload works (AUTH with its password, or the user's state); throws otherwise. */
  test(userId: string, payload: SecretPayload): Promise<void>;
}

/** What the steps work with. */
export interface RotationDeps {
  secrets: RotationSecrets;
  users: RotationUsers;
  /** @default the provisioner's generator (40 letters and digits) */
  generatePassword?: () => string;
  /** ISO time of "now" for the bookkeeping. @default the real clock */
  now?: () => string;
  /** Progress lines (never a password). @default none */
  log?: (line: string) => void;
}

/** A rotation that cannot go on; the message names the secret and the fix, never a password. */
export class SecretRotationError extends Error {
  override readonly name = "SecretRotationError";
}

/** The ElastiCache user id of a payload: from `user_arn` (…:user:<id>), else its username. */
export function rotationUserId(payload: SecretPayload): string {
  const fromArn = payload.user_arn?.split(":user:")[1];
  return fromArn && fromArn.length > 0 ? fromArn : payload.username;
}

/** Runs one rotation step. Idempotent: a repeated call finds its work done and returns. */
export async function runRotationStep(event: RotationEvent, deps: RotationDeps): Promise<void> {
  const { SecretId: secretId, ClientRequestToken: token, Step: step } = event;
  const log = deps.log ?? (() => {});
  const { rotationEnabled, versions } = await deps.secrets.describe(secretId);
  if (!rotationEnabled) throw new SecretRotationError(`Rotation is not enabled for secret ${secretId}`);
  const stages = versions[token];
  if (!stages) {
    throw new SecretRotationError(`Secret ${secretId} has no version ${token} to rotate to`);
  }
  if (stages.includes("AWSCURRENT") && step !== "finishSecret") {
    log(`${step}: version ${token} is already AWSCURRENT; nothing to do`);
    return;
  }
  if (!stages.includes("AWSPENDING") && !stages.includes("AWSCURRENT")) {
    throw new SecretRotationError(`Version ${token} of secret ${secretId} is not AWSPENDING`);
  }
  switch (step) {
    case "createSecret":
      return createSecret(secretId, token, deps, log);
    case "setSecret": {
      const pending = await pendingPayload(secretId, token, deps);
      const userId = rotationUserId(pending);
      log(`setSecret: user ${userId} now accepts the new and the previous password`);
      await deps.users.setPasswords(userId, rotationPasswords(pending));
      return;
    }
    case "testSecret": {
      const pending = await pendingPayload(secretId, token, deps);
      log(`testSecret: checking the new password of ${rotationUserId(pending)}`);
      await deps.users.test(rotationUserId(pending), pending);
      return;
    }
    case "finishSecret": {
      const current = Object.entries(versions).find(([, s]) => s.includes("AWSCURRENT"))?.[0];
      if (current === token) {
        log(`finishSecret: version ${token} already is AWSCURRENT`);
        return;
      }
      await deps.secrets.promote(secretId, token, current);
      log(
        `finishSecret: version ${token} is AWSCURRENT; the previous password stays valid until the next rotation`,
      );
      return;
    }
    default:
      throw new SecretRotationError(`Unknown rotation step "${String(step)}"`);
  }
}

async function createSecret(
  secretId: string,
  token: string,
  deps: RotationDeps,
  log: (line: string) => void,
): Promise<void> {
  const currentText = await deps.secrets.read(secretId, "AWSCURRENT");
  if (currentText === undefined)
    throw new SecretRotationError(`Secret ${secretId} has no AWSCURRENT version`);
  if ((await deps.secrets.read(secretId, "AWSPENDING", token)) !== undefined) {
    log(`createSecret: version ${token} already exists`);
    return;
  }
  const { payload, bookkeeping } = decodeSecretDocument(currentText, secretId);
  if (payload.auth === "iam") {
    throw new SecretRotationError(
      `Secret ${secretId} belongs to an IAM-authenticated service: it has no password to rotate (disable rotation)`,
    );
  }
  const next = (deps.generatePassword ?? defaultGeneratePassword)();
  if (next === payload.password)
    throw new SecretRotationError("The password generator returned the current password");
  const pending = rotationStartPayload(payload, next);
  const startedAt = deps.now?.() ?? new Date().toISOString();
  await deps.secrets.putPending(
    secretId,
    token,
    encodeSecretDocument(pending, { ...bookkeeping, updatedAt: startedAt, rotationStartedAt: startedAt }),
  );
  log(`createSecret: version ${token} holds a new password (AWSPENDING)`);
}

async function pendingPayload(secretId: string, token: string, deps: RotationDeps): Promise<SecretPayload> {
  const text = await deps.secrets.read(secretId, "AWSPENDING", token);
  if (text === undefined)
    throw new SecretRotationError(`Secret ${secretId} has no AWSPENDING version ${token}`);
  return decodeSecretDocument(text, secretId).payload;
}

/** {@link RotationSecrets} on AWS Secrets Manager (the SDK client the rotation Lambda has). */
export function secretsManagerVersions(client: {
  send(command: unknown): Promise<unknown>;
}): RotationSecrets {
  return {
    async describe(secretId) {
      const { DescribeSecretCommand } = await import("@aws-sdk/client-secrets-manager");
      const out = (await client.send(new DescribeSecretCommand({ SecretId: secretId }))) as {
        RotationEnabled?: boolean;
        VersionIdsToStages?: Record<string, string[]>;
      };
      return { rotationEnabled: out.RotationEnabled === true, versions: out.VersionIdsToStages ?? {} };
    },
    async read(secretId, stage, versionId) {
      const { GetSecretValueCommand } = await import("@aws-sdk/client-secrets-manager");
      try {
        const out = (await client.send(
          new GetSecretValueCommand({
            SecretId: secretId,
            VersionStage: stage,
            ...(versionId !== undefined ? { VersionId: versionId } : {}),
          }),
        )) as { SecretString?: string };
        return out.SecretString;
      } catch (error) {
        if ((error as Error).name === "ResourceNotFoundException") return undefined;
        throw error;
      }
    },
    async putPending(secretId, versionId, secretString) {
      const { PutSecretValueCommand } = await import("@aws-sdk/client-secrets-manager");
      await client.send(
        new PutSecretValueCommand({
          SecretId: secretId,
          ClientRequestToken: versionId,
          SecretString: secretString,
          VersionStages: ["AWSPENDING"],
        }),
      );
    },
    async promote(secretId, versionId, fromVersionId) {
      const { UpdateSecretVersionStageCommand } = await import("@aws-sdk/client-secrets-manager");
      await client.send(
        new UpdateSecretVersionStageCommand({
          SecretId: secretId,
          VersionStage: "AWSCURRENT",
          MoveToVersionId: versionId,
          ...(fromVersionId !== undefined ? { RemoveFromVersionId: fromVersionId } : {}),
        }),
      );
    },
  };
}

/**
 * {@link RotationUsers} on ElastiCache: passwords through the target's ModifyUser (which waits for the
 * user to be active); the test checks that the user is active and holds the expected number of
 * passwords (the rotation function is not in the cache's VPC, so it cannot AUTH).
 */
export function elastiCacheRotationUsers(target: {
  modifyUser(userId: string, change: { passwords?: readonly string[] }): Promise<void>;
  waitForUserActive(userId: string): Promise<{ Authentication?: { Type?: string; PasswordCount?: number } }>;
}): RotationUsers {
  return {
    setPasswords: (userId, passwords) => target.modifyUser(userId, { passwords }),
    async test(userId, payload) {
      const user = await target.waitForUserActive(userId);
      const expected = rotationPasswords(payload).length;
      const type = user.Authentication?.Type;
      const count = user.Authentication?.PasswordCount;
      if (type !== "password" || count !== expected) {
        throw new SecretRotationError(
          `ElastiCache user ${userId} has authentication ${type ?? "unknown"} with ${count ?? "?"} password(s), ` +
            `expected password with ${expected}; setSecret did not take effect (the rotation will be retried)`,
        );
      }
    },
  };
}
