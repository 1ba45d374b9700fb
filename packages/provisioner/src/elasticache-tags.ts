/**
 * Tags Cacheplane puts on the AWS resources it creates (ElastiCache users, Secrets Manager secrets),
 * so that a later run can tell its own resources from everyone else's.
 *
 * `cacheplane:managed` says who owns the resource:
 * - `true`: the provisioner (`cacheplane apply`) created it; `apply --prune` may delete it.
 * - `cloudformation`: a CDK stack (`ServiceCacheAccess`) owns it; the provisioner reads it but never
 *   deletes it (removing it from the stack does).
 */

/** Tag key marking a resource as created by Cacheplane. */
export const MANAGED_TAG = "cacheplane:managed";
/** `MANAGED_TAG` value for resources the provisioner owns (and may prune). */
export const MANAGED_BY_PROVISIONER = "true";
/** `MANAGED_TAG` value for resources a CloudFormation stack owns (never pruned by the provisioner). */
export const MANAGED_BY_CLOUDFORMATION = "cloudformation";
/** Tag key holding the Redis user id a resource belongs to. */
export const USER_ID_TAG = "cacheplane:userId";
/** Tag key holding the service name a resource belongs to. */
export const SERVICE_TAG = "cacheplane:service";

/** A tag as both AWS SDKs spell it. */
export interface AwsTag {
  Key?: string | undefined;
  Value?: string | undefined;
}

/** The value of tag `key`, if present. */
export function tagValue(tags: readonly AwsTag[] | undefined, key: string): string | undefined {
  return tags?.find((t) => t.Key === key)?.Value;
}

/**
 * The tags put on a user or secret created for `service`; `owner` is the `MANAGED_TAG` value
 * (`MANAGED_BY_CLOUDFORMATION` when a stack's custom resource creates it).
 */
export function provisionerTags(
  userId: string,
  service?: string,
  owner: string = MANAGED_BY_PROVISIONER,
): { Key: string; Value: string }[] {
  const tags = [
    { Key: MANAGED_TAG, Value: owner },
    { Key: USER_ID_TAG, Value: userId },
  ];
  if (service !== undefined && service.length > 0)
    tags.push({ Key: SERVICE_TAG, Value: service.slice(0, 256) });
  return tags;
}
