/**
 * `SecretStore` on AWS Secrets Manager. One secret per service, named by core's `secretNameFor`
 * (`/services/<service>/redis/<keyspace>`), holding the JSON payload clients read plus Cacheplane's
 * bookkeeping (see `secrets-manager-document.ts`). Secrets the store creates are tagged
 * `cacheplane:managed=true` and `cacheplane:userId=<id>`, which is how `listManagedUserIds` finds them.
 */
import {
  CreateSecretCommand,
  DeleteSecretCommand,
  GetSecretValueCommand,
  type GetSecretValueCommandOutput,
  ListSecretsCommand,
  PutSecretValueCommand,
  RestoreSecretCommand,
  type SecretListEntry,
  SecretsManagerClient,
} from "@aws-sdk/client-secrets-manager";
import type { ResolvedService, SecretPayload } from "@cacheplane/core";
import { describeAwsError, hasErrorName, isTransientError } from "./elasticache-errors.js";
import { type RetryClock, type RetryPolicy, resolveClock, withRetry } from "./elasticache-retry.js";
import {
  MANAGED_BY_PROVISIONER,
  MANAGED_TAG,
  provisionerTags,
  tagValue,
  USER_ID_TAG,
} from "./elasticache-tags.js";
import { ProvisionerError } from "./errors.js";
import {
  decodeSecretDocument,
  encodeSecretDocument,
  type SecretBookkeeping,
} from "./secrets-manager-document.js";
import type { SecretStore, StoredSecret } from "./types.js";

/** Options of {@link SecretsManagerStore}. */
export interface SecretsManagerStoreOptions {
  /** The SDK client to use. @default a new `SecretsManagerClient({ region })` */
  client?: SecretsManagerClient;
  /** Region of the default client. @default the SDK's region resolution (`AWS_REGION`, profile) */
  region?: string;
  /** The secret name of a service. @default `service.secretName` (core's `secretNameFor`) */
  nameFor?: (service: ResolvedService) => string;
  /** KMS key (id, alias or ARN) for new secrets. @default the account's `aws/secretsmanager` key */
  kmsKeyId?: string;
  /** Extra tags on new secrets. @default none */
  tags?: Record<string, string>;
  /** Days a removed secret can still be restored (7-30); ignored with `forceDelete`. @default 7 */
  recoveryWindowInDays?: number;
  /** Delete removed secrets at once, without a recovery window. @default false */
  forceDelete?: boolean;
  /** Retries of throttled calls. @default 8 attempts, 250 ms doubling to 20 s */
  retry?: RetryPolicy;
  /** Sleep/clock/random for retries and timestamps (tests). @default the real clock */
  clock?: Partial<RetryClock>;
}

/** A secret read by name or ARN, with its bookkeeping. */
export interface SecretsManagerEntry {
  arn: string | undefined;
  payload: SecretPayload;
  bookkeeping: SecretBookkeeping;
  /** When this version was written (from Secrets Manager). */
  createdAt: Date | undefined;
}

/** An error from the store, naming the secret (never its value). */
export class SecretsManagerStoreError extends ProvisionerError {
  override readonly name = "SecretsManagerStoreError";
  constructor(
    readonly operation: string,
    readonly secretId: string,
    cause: unknown,
  ) {
    super(`Secrets Manager ${operation} (${secretId}) failed: ${describeAwsError(cause)}`, { cause });
  }
}

/**
 * Service secrets in AWS Secrets Manager.
 *
 * ```ts
 * const store = new SecretsManagerStore({ region: "eu-west-1" });
 * await store.put(service, payload); // creates or updates /services/orders/redis/orders
 * ```
 */
export class SecretsManagerStore implements SecretStore {
  readonly kind = "secrets-manager" as const;

  private readonly client: SecretsManagerClient;
  private readonly ownsClient: boolean;
  private readonly options: SecretsManagerStoreOptions;
  private readonly clock: RetryClock;
  /** Secret name -> ARN, learnt from reads and writes, so `locate` can return the ARN. */
  private readonly arns = new Map<string, string>();

  constructor(options: SecretsManagerStoreOptions = {}) {
    this.options = options;
    this.ownsClient = options.client === undefined;
    this.client =
      options.client ??
      new SecretsManagerClient(options.region !== undefined ? { region: options.region } : {});
    this.clock = resolveClock(options.clock);
  }

  /** The secret name of a service. */
  nameOf(service: ResolvedService): string {
    return this.options.nameFor?.(service) ?? service.secretName;
  }

  async get(service: ResolvedService): Promise<StoredSecret | undefined> {
    const name = this.nameOf(service);
    const entry = await this.read(name);
    if (!entry) return undefined;
    const stored: StoredSecret = {
      service: service.name,
      userId: service.userId,
      payload: entry.payload,
      updatedAt:
        entry.bookkeeping.updatedAt ??
        entry.createdAt?.toISOString() ??
        new Date(this.clock.now()).toISOString(),
    };
    if (entry.bookkeeping.rotationStartedAt !== undefined) {
      stored.rotation = { startedAt: entry.bookkeeping.rotationStartedAt };
    }
    return stored;
  }

  /** Reads any secret by name or ARN; undefined when it does not exist (or is scheduled for deletion). */
  async read(secretId: string): Promise<SecretsManagerEntry | undefined> {
    let out: GetSecretValueCommandOutput;
    try {
      out = await this.call("GetSecretValue", secretId, () =>
        this.client.send(new GetSecretValueCommand({ SecretId: secretId })),
      );
    } catch (error) {
      const cause = (error as { cause?: unknown }).cause;
      if (hasErrorName(cause, "ResourceNotFoundException")) return undefined;
      if (
        hasErrorName(cause, "InvalidRequestException") &&
        /deletion/i.test(String((cause as Error).message))
      ) {
        return undefined;
      }
      throw error;
    }
    if (out.ARN && out.Name) this.arns.set(out.Name, out.ARN);
    if (typeof out.SecretString !== "string") {
      throw new SecretsManagerStoreError(
        "GetSecretValue",
        secretId,
        new Error("the secret has no SecretString (binary secrets are not supported)"),
      );
    }
    const { payload, bookkeeping } = decodeSecretDocument(out.SecretString, secretId);
    return { arn: out.ARN, payload, bookkeeping, createdAt: out.CreatedDate };
  }

  async put(
    service: ResolvedService,
    payload: SecretPayload,
    meta?: { rotation?: { startedAt: string } },
  ): Promise<void> {
    const name = this.nameOf(service);
    const bookkeeping: SecretBookkeeping = {
      service: service.name,
      userId: service.userId,
      updatedAt: new Date(this.clock.now()).toISOString(),
    };
    if (meta?.rotation) bookkeeping.rotationStartedAt = meta.rotation.startedAt;
    const secretString = encodeSecretDocument(payload, bookkeeping);

    const putValue = async () => {
      const out = await this.call("PutSecretValue", name, () =>
        this.client.send(new PutSecretValueCommand({ SecretId: name, SecretString: secretString })),
      );
      if (out.ARN) this.arns.set(name, out.ARN);
    };
    try {
      await putValue();
      return;
    } catch (error) {
      const cause = (error as { cause?: unknown }).cause;
      if (
        hasErrorName(cause, "InvalidRequestException") &&
        /deletion/i.test(String((cause as Error).message))
      ) {
        // A retired service comes back: restore the secret scheduled for deletion, then write it.
        await this.call("RestoreSecret", name, () =>
          this.client.send(new RestoreSecretCommand({ SecretId: name })),
        );
        await putValue();
        return;
      }
      if (!hasErrorName(cause, "ResourceNotFoundException")) throw error;
    }
    try {
      const extra = Object.entries(this.options.tags ?? {}).map(([Key, Value]) => ({ Key, Value }));
      const out = await this.call("CreateSecret", name, () =>
        this.client.send(
          new CreateSecretCommand({
            Name: name,
            Description: `Redis credentials of service ${service.name} (user ${service.userId}), managed by Cacheplane`,
            SecretString: secretString,
            Tags: [...provisionerTags(service.userId, service.name), ...extra],
            ...(this.options.kmsKeyId !== undefined ? { KmsKeyId: this.options.kmsKeyId } : {}),
          }),
        ),
      );
      if (out.ARN) this.arns.set(name, out.ARN);
    } catch (error) {
      // Created concurrently between our two calls: write the value as a new version.
      if (!hasErrorName((error as { cause?: unknown }).cause, "ResourceExistsException")) throw error;
      await putValue();
    }
  }

  async listManagedUserIds(): Promise<string[]> {
    const entries = await this.listByTag(MANAGED_TAG, MANAGED_BY_PROVISIONER);
    const ids = new Set<string>();
    for (const e of entries) {
      const userId = tagValue(e.Tags, USER_ID_TAG);
      if (userId) ids.add(userId);
    }
    return [...ids].sort();
  }

  async remove(userId: string): Promise<void> {
    const entries = (await this.listByTag(USER_ID_TAG, userId)).filter(
      (e) => tagValue(e.Tags, MANAGED_TAG) === MANAGED_BY_PROVISIONER,
    );
    for (const entry of entries) {
      const secretId = entry.ARN ?? entry.Name!;
      try {
        await this.call("DeleteSecret", secretId, () =>
          this.client.send(
            new DeleteSecretCommand(
              this.options.forceDelete
                ? { SecretId: secretId, ForceDeleteWithoutRecovery: true }
                : { SecretId: secretId, RecoveryWindowInDays: this.options.recoveryWindowInDays ?? 7 },
            ),
          ),
        );
      } catch (error) {
        if (!hasErrorName((error as { cause?: unknown }).cause, "ResourceNotFoundException")) throw error;
      }
      if (entry.Name) this.arns.delete(entry.Name);
    }
  }

  /** The secret's ARN once the store has read or written it, else its name (both work as `SecretId`). */
  locate(service: ResolvedService): string {
    const name = this.nameOf(service);
    return this.arns.get(name) ?? name;
  }

  /** Releases the SDK client if the store created it. */
  close(): void {
    if (this.ownsClient) this.client.destroy();
  }

  /** Secrets (not scheduled for deletion) carrying tag `key` = `value`, verified client-side. */
  private async listByTag(key: string, value: string): Promise<SecretListEntry[]> {
    const found: SecretListEntry[] = [];
    let token: string | undefined;
    do {
      const page = await this.call("ListSecrets", `tag ${key}=${value}`, () =>
        this.client.send(
          new ListSecretsCommand({
            MaxResults: 100,
            Filters: [
              { Key: "tag-key", Values: [key] },
              { Key: "tag-value", Values: [value] },
            ],
            ...(token ? { NextToken: token } : {}),
          }),
        ),
      );
      // The two filters match independently (any key, any value): check the pair here.
      for (const entry of page.SecretList ?? []) {
        if (tagValue(entry.Tags, key) === value && !entry.DeletedDate) found.push(entry);
      }
      token = page.NextToken;
    } while (token);
    return found;
  }

  private async call<T>(operation: string, secretId: string, fn: () => Promise<T>): Promise<T> {
    try {
      return await withRetry(fn, isTransientError, this.options.retry ?? {}, this.clock);
    } catch (error) {
      throw new SecretsManagerStoreError(operation, secretId, error);
    }
  }
}
