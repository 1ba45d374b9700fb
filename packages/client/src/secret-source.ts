/**
 * Where the Redis secret comes from (Secrets Manager ARN, JSON file, inline JSON) and the module-wide
 * cache that keeps it across warm Lambda invocations. The cached payload has a max age and can be
 * force-refreshed (after an authentication failure, so a rotated password is picked up).
 */
import type { SecretsManagerClient } from "@aws-sdk/client-secrets-manager";
import { parseSecretPayload, type SecretPayload } from "@cacheplane/core/secret";
import { SecretLoadError } from "./errors.js";
import { builtin } from "./node-builtins.js";

export type SecretSourceSpec =
  | { kind: "arn"; arn: string; client?: SecretsManagerClient }
  | { kind: "file"; path: string }
  | { kind: "inline"; value: string | object; label?: string };

export interface SecretSourceOptions {
  /** How long a fetched secret is reused before it is read again. Default 5 minutes. */
  maxAgeMs?: number;
  /** Forced refreshes closer together than this reuse the last read. Default 5 seconds. */
  minRefreshIntervalMs?: number;
  /** Clock for tests. */
  now?: () => number;
}

export interface GetSecretOptions {
  /** Read the source again even if the cached payload is younger than the max age. */
  forceRefresh?: boolean;
}

interface CacheEntry {
  payload?: SecretPayload;
  fetchedAt: number;
  pending?: Promise<SecretPayload>;
}

/** Errors that retrying will not fix: they reach the caller instead of becoming misses. */
const PERMANENT_SECRETS_MANAGER_ERRORS = new Set([
  "AccessDeniedException",
  "ResourceNotFoundException",
  "ValidationException",
  "InvalidParameterException",
  "InvalidRequestException",
  "DecryptionFailure",
  "UnrecognizedClientException",
]);

/** Module-wide: survives across warm invocations of the same Lambda execution environment. */
const secretCache = new Map<string, CacheEntry>();
const secretsManagerClients = new Map<string, SecretsManagerClient>();

/** A secret source. `id` identifies the source (never its content) and keys the module caches. */
export class SecretSource {
  readonly id: string;
  /** Safe to print: the ARN, the file path or `REDIS_SECRET`. */
  readonly description: string;
  private readonly maxAgeMs: number;
  private readonly minRefreshIntervalMs: number;
  private readonly now: () => number;

  constructor(
    readonly spec: SecretSourceSpec,
    options: SecretSourceOptions = {},
  ) {
    this.maxAgeMs = options.maxAgeMs ?? 300_000;
    this.minRefreshIntervalMs = options.minRefreshIntervalMs ?? 5_000;
    this.now = options.now ?? Date.now;
    switch (spec.kind) {
      case "arn":
        this.id = `arn:${spec.arn}`;
        this.description = spec.arn;
        break;
      case "file":
        this.id = `file:${spec.path}`;
        this.description = spec.path;
        break;
      case "inline": {
        const text = typeof spec.value === "string" ? spec.value : JSON.stringify(spec.value);
        this.id = `inline:${builtin<typeof import("node:crypto")>("node:crypto")
          .createHash("sha256")
          .update(text)
          .digest("hex")
          .slice(0, 24)}`;
        this.description = spec.label ?? "REDIS_SECRET";
        break;
      }
    }
  }

  /** Parses an inline secret now (so a malformed `REDIS_SECRET` fails at `createCache`). */
  parseInlineNow(): SecretPayload | undefined {
    if (this.spec.kind !== "inline") return undefined;
    return parseSecretPayload(this.spec.value, this.description);
  }

  /** The payload, from the module cache when fresh enough. */
  async get(options: GetSecretOptions = {}): Promise<SecretPayload> {
    const now = this.now();
    let entry = secretCache.get(this.id);
    if (entry?.pending) return entry.pending;
    if (entry?.payload) {
      const age = now - entry.fetchedAt;
      const fresh = options.forceRefresh ? age < this.minRefreshIntervalMs : age < this.maxAgeMs;
      if (fresh) return entry.payload;
    }
    if (!entry) {
      entry = { fetchedAt: 0 };
      secretCache.set(this.id, entry);
    }
    const target = entry;
    const pending = this.read().then(
      (payload) => {
        target.payload = payload;
        target.fetchedAt = this.now();
        target.pending = undefined;
        return payload;
      },
      (err: unknown) => {
        target.pending = undefined;
        throw err;
      },
    );
    target.pending = pending;
    return pending;
  }

  private async read(): Promise<SecretPayload> {
    const spec = this.spec;
    switch (spec.kind) {
      case "inline":
        return parseSecretPayload(spec.value, this.description);
      case "file": {
        let text: string;
        try {
          text = await builtin<typeof import("node:fs/promises")>("node:fs/promises").readFile(
            spec.path,
            "utf8",
          );
        } catch (err) {
          const code = (err as NodeJS.ErrnoException).code ?? "error";
          throw new SecretLoadError(
            `Cannot read Redis secret file ${spec.path} (${code})`,
            spec.path,
            true,
            err,
          );
        }
        return parseSecretPayload(text, spec.path);
      }
      case "arn": {
        const { GetSecretValueCommand, SecretsManagerClient } = await import(
          "@aws-sdk/client-secrets-manager"
        );
        const region = regionFromArn(spec.arn);
        let client = spec.client;
        if (!client) {
          const clientKey = region ?? "(default)";
          client = secretsManagerClients.get(clientKey);
          if (!client) {
            client = new SecretsManagerClient(region ? { region } : {});
            secretsManagerClients.set(clientKey, client);
          }
        }
        let secretString: string | undefined;
        try {
          const out = await client.send(new GetSecretValueCommand({ SecretId: spec.arn }));
          secretString =
            out.SecretString ??
            (out.SecretBinary ? Buffer.from(out.SecretBinary).toString("utf8") : undefined);
        } catch (err) {
          const name = err instanceof Error ? err.name : "error";
          throw new SecretLoadError(
            `Cannot read Redis secret ${spec.arn} from Secrets Manager (${name})`,
            spec.arn,
            PERMANENT_SECRETS_MANAGER_ERRORS.has(name),
            err,
          );
        }
        if (secretString === undefined) {
          throw new SecretLoadError(`Secret ${spec.arn} has no SecretString`, spec.arn, true);
        }
        return parseSecretPayload(secretString, spec.arn);
      }
    }
  }
}

/** `arn:aws:secretsmanager:<region>:<account>:secret:<name>` -> region. */
export function regionFromArn(arn: string): string | undefined {
  const parts = arn.split(":");
  return parts[0] === "arn" && parts[2] === "secretsmanager" && parts[3] ? parts[3] : undefined;
}

/** Drops every cached secret (tests; or to force a re-read everywhere). */
export function clearSecretCache(): void {
  secretCache.clear();
}
