/**
 * Synth-time checks shared by the constructs. Every message starts with the construct path, so that
 * `cdk synth` points at the construct to fix, and says what to change.
 */
import { Token } from "aws-cdk-lib";
import type { IConstruct } from "constructs";

/** A construct configured in a way ElastiCache or Cacheplane would reject. */
export class CacheplaneValidationError extends Error {
  override readonly name = "CacheplaneValidationError";
  constructor(
    /** Path of the construct at fault, e.g. `Platform/Cache`. */
    readonly constructPath: string,
    message: string,
  ) {
    super(`${constructPath}: ${message}`);
  }
}

/** Throws a {@link CacheplaneValidationError} naming `scope`'s path. */
export function invalid(scope: IConstruct, message: string): never {
  throw new CacheplaneValidationError(scope.node.path, message);
}

const SLUG = /^[a-z0-9][a-z0-9-]*$/;
/** ElastiCache ids (serverless cache, user group, user): a letter, then letters, digits, single hyphens. */
const ELASTICACHE_ID = /^[a-z][a-z0-9]*(-[a-z0-9]+)*$/;

/** Checks a stage or cache name: lowercase letters, digits and hyphens (core's rule). */
export function checkSlug(scope: IConstruct, field: string, value: string, maxLength = 40): void {
  if (Token.isUnresolved(value)) invalid(scope, `${field} must be a literal string, not a token`);
  if (!SLUG.test(value) || value.length > maxLength) {
    invalid(
      scope,
      `${field} "${value}" must be 1-${maxLength} lowercase letters, digits and hyphens (e.g. "dev", "shared")`,
    );
  }
}

/** Checks an ElastiCache resource id (serverless cache name, user group id). */
export function checkElastiCacheId(scope: IConstruct, field: string, value: string): void {
  if (Token.isUnresolved(value)) return;
  if (value.length > 40 || !ELASTICACHE_ID.test(value)) {
    invalid(
      scope,
      `${field} "${value}" must be 1-40 characters: a lowercase letter first, then lowercase letters, digits ` +
        "and single hyphens, not ending with a hyphen",
    );
  }
}

/** Checks that `value` is a whole number in [min, max] (tokens pass). */
export function checkIntegerRange(
  scope: IConstruct,
  field: string,
  value: number | undefined,
  min: number,
  max: number,
  unit: string,
): void {
  if (value === undefined || Token.isUnresolved(value)) return;
  if (!Number.isInteger(value) || value < min || value > max) {
    invalid(scope, `${field} must be a whole number of ${unit} from ${min} to ${max}, got ${value}`);
  }
}

/** Checks `min <= max` when both are set. */
export function checkMinMax(
  scope: IConstruct,
  minField: string,
  min: number | undefined,
  maxField: string,
  max: number | undefined,
): void {
  if (min === undefined || max === undefined || Token.isUnresolved(min) || Token.isUnresolved(max)) return;
  if (min > max) invalid(scope, `${minField} (${min}) must not be greater than ${maxField} (${max})`);
}
