/**
 * The properties of a `Custom::CacheplaneUserGroupMembership` resource, as CloudFormation sends them
 * (every value a string), parsed and checked. None of them is secret: passwords stay in Secrets Manager.
 */
import { RESERVED_USER_IDS } from "@cacheplane/core";

/** The custom resource type `ServiceCacheAccess` creates. */
export const MEMBERSHIP_RESOURCE_TYPE = "Custom::CacheplaneUserGroupMembership";

/** What one membership resource declares. */
export interface MembershipProperties {
  /** The platform's user group. */
  userGroupId: string;
  /** The service's Redis user (also its user name). */
  userId: string;
  /** Engine of the user. */
  engine: "valkey" | "redis";
  /** Service name (reports, tags). */
  service: string;
  /** The service's keyspace (reported on delete: its keys are kept). */
  keyspace: string;
  /** The access string the user must have; corrected in place when it differs. @default not checked */
  accessString?: string;
  /** True when the handler owns the user (creates and deletes it); false when a stack resource does. */
  manageUser: boolean;
  /** `password` or `iam`: how the user authenticates. */
  authentication: "password" | "iam";
  /** Secret holding the password (password users). @default none (IAM users) */
  secretArn?: string;
  /**
   * The secret's generation template as deployed. When it changes, CloudFormation generates a new
   * password into the secret, so the handler sets the user's passwords from the secret again.
   * @default none (never re-synced)
   */
  secretTemplate?: string;
}

/** Raw properties, as the resource declares them (PascalCase, strings). */
export type RawMembershipProperties = Record<string, unknown>;

const USER_ID = /^[a-z][a-z0-9-]{0,39}$/;

/** Parses and checks resource properties; the error lists every bad property. */
export function parseMembershipProperties(raw: RawMembershipProperties | undefined): MembershipProperties {
  const p = raw ?? {};
  const problems: string[] = [];
  const text = (key: string, required = true): string | undefined => {
    const value = p[key];
    if (value === undefined || value === "") {
      if (required) problems.push(`${key} is required`);
      return undefined;
    }
    if (typeof value !== "string") {
      problems.push(`${key} must be a string`);
      return undefined;
    }
    return value;
  };
  const userGroupId = text("UserGroupId");
  const userId = text("UserId");
  const engine = text("Engine");
  const service = text("Service");
  const keyspace = text("Keyspace");
  const accessString = text("AccessString", false);
  const manage = text("ManageUser", false) ?? "false";
  const secretArn = text("SecretArn", false);
  const secretTemplate = text("SecretTemplate", false);
  const authentication = text("Authentication", false) ?? "password";
  if (authentication !== "password" && authentication !== "iam") {
    problems.push(`Authentication must be "password" or "iam", got "${authentication}"`);
  }
  if (userId !== undefined && !USER_ID.test(userId))
    problems.push(`UserId "${userId}" is not an ElastiCache user id`);
  if (userId !== undefined && RESERVED_USER_IDS.has(userId)) problems.push(`UserId "${userId}" is reserved`);
  if (engine !== undefined && engine !== "valkey" && engine !== "redis") {
    problems.push(`Engine must be "valkey" or "redis", got "${engine}"`);
  }
  if (manage !== "true" && manage !== "false") problems.push('ManageUser must be "true" or "false"');
  if (manage === "true" && secretArn === undefined)
    problems.push("SecretArn is required when ManageUser is true");
  if (problems.length > 0) throw new Error(`Invalid membership properties: ${problems.join("; ")}`);
  const props: MembershipProperties = {
    userGroupId: userGroupId!,
    userId: userId!,
    engine: engine as "valkey" | "redis",
    service: service!,
    keyspace: keyspace!,
    manageUser: manage === "true",
    authentication: authentication as "password" | "iam",
  };
  if (accessString !== undefined) props.accessString = accessString;
  if (secretArn !== undefined) props.secretArn = secretArn;
  if (secretTemplate !== undefined) props.secretTemplate = secretTemplate;
  return props;
}
