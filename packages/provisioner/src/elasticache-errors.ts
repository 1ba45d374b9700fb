/**
 * Classifying AWS SDK v3 errors (ElastiCache and Secrets Manager) and the error the ElastiCache target
 * throws. Messages name the operation, user and group, never a password.
 */
import { ProvisionerError } from "./errors.js";

/** The error code of an AWS SDK v3 error (`name`, or `Code`/`code` for older shapes), if any. */
export function awsErrorName(error: unknown): string | undefined {
  if (typeof error !== "object" || error === null) return undefined;
  const e = error as { name?: unknown; Code?: unknown; code?: unknown };
  for (const value of [e.name, e.Code, e.code]) {
    if (typeof value === "string" && value.length > 0 && value !== "Error") return value;
  }
  return undefined;
}

function httpStatus(error: unknown): number | undefined {
  const meta = (error as { $metadata?: { httpStatusCode?: unknown } } | null)?.$metadata;
  return typeof meta?.httpStatusCode === "number" ? meta.httpStatusCode : undefined;
}

/** Codes AWS uses for "slow down". ElastiCache (query protocol) says `Throttling`. */
const THROTTLING_CODES: ReadonlySet<string> = new Set([
  "Throttling",
  "ThrottlingException",
  "ThrottledException",
  "TooManyRequestsException",
  "RequestLimitExceeded",
  "RequestThrottled",
  "RequestThrottledException",
  "SlowDown",
  "PriorRequestNotComplete",
  "APICallRateForCustomerExceededFault",
]);

/** True for throttling errors: by code, by the SDK's `$retryable.throttling` flag, or HTTP 429. */
export function isThrottlingError(error: unknown): boolean {
  const name = awsErrorName(error);
  if (name !== undefined && THROTTLING_CODES.has(name)) return true;
  const retryable = (error as { $retryable?: { throttling?: unknown } } | null)?.$retryable;
  if (retryable?.throttling === true) return true;
  return httpStatus(error) === 429;
}

const TRANSIENT_CODES: ReadonlySet<string> = new Set([
  "InternalFailure",
  "InternalError",
  "InternalServiceError",
  "ServiceUnavailable",
  "ServiceUnavailableException",
  "RequestTimeout",
  "RequestTimeoutException",
  "TimeoutError",
  "ECONNRESET",
  "ETIMEDOUT",
  "EPIPE",
]);

/** True for errors worth retrying as they are: throttling, 5xx and network resets. */
export function isTransientError(error: unknown): boolean {
  if (isThrottlingError(error)) return true;
  const name = awsErrorName(error);
  if (name !== undefined && TRANSIENT_CODES.has(name)) return true;
  const status = httpStatus(error);
  return status !== undefined && status >= 500;
}

/** True when the error has one of the given codes. */
export function hasErrorName(error: unknown, ...names: string[]): boolean {
  const name = awsErrorName(error);
  return name !== undefined && names.includes(name);
}

/** What the ElastiCache target was doing when it failed. */
export interface ElastiCacheFailureContext {
  /** API operation or step, e.g. `CreateUser`, `wait for user group`. */
  operation: string;
  /** The user concerned. @default none */
  userId?: string;
  /** The user group concerned. @default none */
  groupId?: string;
}

/**
 * A failed ElastiCache step. The message says what was being done to which user/group, the AWS error
 * code and message, and (where there is one) the fix. The original error is the `cause`.
 */
export class ElastiCacheTargetError extends ProvisionerError {
  override readonly name = "ElastiCacheTargetError";
  readonly operation: string;
  readonly userId: string | undefined;
  readonly groupId: string | undefined;
  /** The AWS error code, e.g. `InvalidParameterValueException`. */
  readonly code: string | undefined;

  constructor(context: ElastiCacheFailureContext, message: string, cause?: unknown) {
    const subject = [
      context.userId !== undefined ? `user ${context.userId}` : "",
      context.groupId !== undefined ? `group ${context.groupId}` : "",
    ]
      .filter(Boolean)
      .join(", ");
    super(`ElastiCache ${context.operation}${subject ? ` (${subject})` : ""} failed: ${message}`, { cause });
    this.operation = context.operation;
    this.userId = context.userId;
    this.groupId = context.groupId;
    this.code = awsErrorName(cause);
  }
}

/** A one-line description of an AWS error: `Code: message`. */
export function describeAwsError(error: unknown): string {
  const name = awsErrorName(error) ?? "Error";
  const message = error instanceof Error ? error.message : String(error);
  return message && message !== name ? `${name}: ${message}` : name;
}
