/**
 * Create/Update/Delete of a `Custom::CacheplaneUserGroupMembership`: puts a service's user into the
 * platform's user group (which belongs to another stack), through the provisioner's ElastiCache target.
 *
 * - Create: makes sure the user exists (creating it when the handler owns it), is active and has the
 *   declared access string, then adds it to the group.
 * - Update: the same for the new properties; a changed access string is corrected in place; when the
 *   secret was regenerated (its template changed) the user's passwords are set from it again; a moved
 *   group gets the user added to the new group, then removed from the old one. A new user id means a
 *   new physical id, so CloudFormation deletes the old membership afterwards.
 * - Delete: removes the user from the group (and deletes it when the handler owns it). The service's
 *   keys are kept; the response says so.
 * Every failure becomes a FAILED response whose reason names the step, never a password.
 */
import type { CloudFormationCustomResourceEvent, CloudFormationCustomResourceResponse } from "aws-lambda";
import { buildResponse, redactSecrets } from "./cfn-response.js";
import { type MembershipProperties, parseMembershipProperties } from "./properties.js";
import { sameElastiCacheAccess } from "./provisioner.js";

/** The ElastiCache operations the handler needs (the provisioner's `ElastiCacheTarget` has them all). */
export interface MembershipTarget {
  describeUser(
    userId: string,
  ): Promise<{ AccessString?: string | undefined; Status?: string | undefined } | undefined>;
  waitForUserActive(userId: string): Promise<unknown>;
  createUser(
    action: {
      type: "create-user";
      service: string;
      userId: string;
      userName: string;
      keyspace: string;
      accessString: string;
      /** Engine of the new user: it must suit the user group (a `redis` group only takes `redis` users). */
      engine: "valkey" | "redis";
    },
    passwords: readonly string[],
  ): Promise<void>;
  modifyUser(userId: string, change: { accessString?: string; passwords?: readonly string[] }): Promise<void>;
  /** The group's current members (undefined when the group does not exist). */
  describeGroup(groupId: string): Promise<{ UserIds?: string[] | undefined } | undefined>;
  addToGroup(groupId: string, userId: string): Promise<void>;
  removeFromGroup(groupId: string, userId: string): Promise<void>;
  deleteUser(userId: string): Promise<void>;
}

/** What the handler works with; injected so tests can mock the AWS clients. */
export interface MembershipDeps {
  target: MembershipTarget;
  /** Passwords (current, then previous during a rotation) of the secret, for users the handler owns. */
  readPasswords(secretArn: string): Promise<string[]>;
  /** Progress lines for the function's log. @default none */
  log?: (line: string) => void;
}

/** Physical id of a membership: the user id (a new user id replaces the resource). */
export function physicalIdOf(props: MembershipProperties): string {
  return props.userId;
}

/**
 * Suffix of the physical id of a membership that already existed when the resource was created (added
 * by `cacheplane apply`, by hand, or by another stack): its Delete, and the Delete of a rollback, leave
 * that member in the group, because this resource did not add it.
 */
export const PRE_EXISTING_SUFFIX = "|pre-existing";

/** True when the membership with this physical id existed before the resource was created. */
export function isPreExisting(physicalResourceId: string): boolean {
  return physicalResourceId.endsWith(PRE_EXISTING_SUFFIX);
}

/** The physical id for a new membership of `props`, recording whether the user already was a member. */
async function newPhysicalId(props: MembershipProperties, deps: MembershipDeps): Promise<string> {
  const group = await deps.target.describeGroup(props.userGroupId);
  const member = (group?.UserIds ?? []).includes(props.userId);
  return member ? `${physicalIdOf(props)}${PRE_EXISTING_SUFFIX}` : physicalIdOf(props);
}

const FAILED_CREATE_PREFIX = "cacheplane-failed-create-";

/** Handles one CloudFormation event and returns the response to send; never throws. */
export async function handleMembershipEvent(
  event: CloudFormationCustomResourceEvent,
  deps: MembershipDeps,
): Promise<CloudFormationCustomResourceResponse> {
  const known: string[] = [];
  const log = deps.log ?? (() => {});
  let physicalResourceId =
    event.RequestType === "Create" ? `${FAILED_CREATE_PREFIX}${event.RequestId}` : event.PhysicalResourceId;
  try {
    switch (event.RequestType) {
      case "Create": {
        const props = parseMembershipProperties(event.ResourceProperties);
        // Recorded before any change, so that even a failed Create's rollback keeps a member it did not add.
        physicalResourceId = await newPhysicalId(props, deps);
        if (isPreExisting(physicalResourceId)) {
          log(`${props.userId} already is a member of ${props.userGroupId}: its Delete will leave it there`);
        }
        await ensureMember(props, deps, known, log);
        return buildResponse(event, {
          status: "SUCCESS",
          physicalResourceId,
          reason: `User ${props.userId} is a member of user group ${props.userGroupId}`,
          data: { ...dataOf(props), PreExisting: String(isPreExisting(physicalResourceId)) },
        });
      }
      case "Update": {
        const props = parseMembershipProperties(event.ResourceProperties);
        const old = parseOld(event.OldResourceProperties);
        // Same user and group: the same membership (and its pre-existing record). A new user or group:
        // a new membership, whose pre-existence is recorded like a Create's.
        physicalResourceId =
          old && old.userId === props.userId && old.userGroupId === props.userGroupId
            ? event.PhysicalResourceId
            : await newPhysicalId(props, deps);
        await ensureMember(props, deps, known, log);
        if (passwordsMayHaveChanged(props, old)) {
          const passwords = await deps.readPasswords(props.secretArn!);
          known.push(...passwords);
          log(`setting the passwords of ${props.userId} from its secret (the secret was regenerated)`);
          await deps.target.modifyUser(props.userId, { passwords });
        }
        if (
          old &&
          old.userId === props.userId &&
          old.userGroupId !== props.userGroupId &&
          !isPreExisting(event.PhysicalResourceId)
        ) {
          log(`removing ${old.userId} from its previous group ${old.userGroupId}`);
          await deps.target.removeFromGroup(old.userGroupId, old.userId);
        }
        return buildResponse(event, {
          status: "SUCCESS",
          physicalResourceId,
          reason: `User ${props.userId} is a member of user group ${props.userGroupId}`,
          data: dataOf(props),
        });
      }
      case "Delete": {
        if (event.PhysicalResourceId.startsWith(FAILED_CREATE_PREFIX)) {
          return buildResponse(event, {
            status: "SUCCESS",
            physicalResourceId,
            reason: "Nothing to delete: the membership was never created",
          });
        }
        const props = parseMembershipProperties(event.ResourceProperties);
        if (isPreExisting(event.PhysicalResourceId)) {
          log(`${props.userId} was a member before this resource existed: left in ${props.userGroupId}`);
          return buildResponse(event, {
            status: "SUCCESS",
            physicalResourceId,
            reason:
              `User ${props.userId} was already a member of user group ${props.userGroupId} when this resource ` +
              "was created, so it was left there (and the user kept)",
            data: { ...dataOf(props), PreExisting: "true" },
          });
        }
        const reason = await removeMember(props, deps, log);
        return buildResponse(event, {
          status: "SUCCESS",
          physicalResourceId,
          reason,
          data: { ...dataOf(props), DataRetained: "true" },
        });
      }
    }
  } catch (error) {
    const message = error instanceof Error ? error.message : String(error);
    log(`failed: ${redactSecrets(message, known)}`);
    return buildResponse(event, {
      status: "FAILED",
      physicalResourceId,
      reason: redactSecrets(`${event.RequestType} of the membership failed: ${message}`, known),
    });
  }
}

function parseOld(raw: Record<string, unknown> | undefined): MembershipProperties | undefined {
  try {
    return parseMembershipProperties(raw);
  } catch {
    return undefined;
  }
}

/**
 * True when CloudFormation may have generated a new password into the secret (its template or the
 * secret itself changed) while the user still has the old one.
 */
function passwordsMayHaveChanged(
  props: MembershipProperties,
  old: MembershipProperties | undefined,
): boolean {
  if (props.authentication !== "password" || props.secretArn === undefined || old === undefined) return false;
  if (old.userId !== props.userId) return false; // a new user is created with the current password
  return old.secretTemplate !== props.secretTemplate || old.secretArn !== props.secretArn;
}

function dataOf(props: MembershipProperties): Record<string, string> {
  return { UserId: props.userId, UserGroupId: props.userGroupId, Keyspace: props.keyspace };
}

/** Makes the user exist, active and correct, then a member of the group. */
async function ensureMember(
  props: MembershipProperties,
  deps: MembershipDeps,
  known: string[],
  log: (line: string) => void,
): Promise<void> {
  const { target } = deps;
  let user = await target.describeUser(props.userId);
  if (!user) {
    if (!props.manageUser) {
      throw new Error(
        `user ${props.userId} does not exist; it is created by the stack's AWS::ElastiCache::User resource, ` +
          "which must be deployed before the membership (check the resource's dependencies)",
      );
    }
    const passwords = await deps.readPasswords(props.secretArn!);
    known.push(...passwords);
    log(`creating user ${props.userId}`);
    await target.createUser(
      {
        type: "create-user",
        service: props.service,
        userId: props.userId,
        userName: props.userId,
        keyspace: props.keyspace,
        accessString: props.accessString ?? `on ~${props.keyspace}:* -@all`,
        engine: props.engine,
      },
      passwords,
    );
    user = await target.describeUser(props.userId);
  }
  await target.waitForUserActive(props.userId);
  // Compared by meaning: ElastiCache may store a rewritten spelling (docs/decisions/0007).
  if (
    props.accessString !== undefined &&
    !sameElastiCacheAccess(user?.AccessString ?? "", props.accessString)
  ) {
    log(`setting the access string of ${props.userId} in place`);
    await target.modifyUser(props.userId, { accessString: props.accessString });
  }
  log(`adding ${props.userId} to ${props.userGroupId}`);
  await target.addToGroup(props.userGroupId, props.userId);
}

/** Removes the user from the group (deleting it when the handler owns it); returns the reason text. */
async function removeMember(
  props: MembershipProperties,
  deps: MembershipDeps,
  log: (line: string) => void,
): Promise<string> {
  log(`removing ${props.userId} from ${props.userGroupId}`);
  await deps.target.removeFromGroup(props.userGroupId, props.userId);
  let userNote = "";
  if (props.manageUser) {
    try {
      await deps.target.deleteUser(props.userId);
      userNote = " and deleted the user";
    } catch (error) {
      // A user the handler did not create stays; a failed delete must not block the stack.
      const message = error instanceof Error ? error.message : String(error);
      if (!/refusing/.test(message)) throw error;
      userNote = `; the user was kept (${message})`;
    }
  }
  return (
    `Removed user ${props.userId} from user group ${props.userGroupId}${userNote}. ` +
    `Keys under "${props.keyspace}:*" were kept in the cache; they expire by TTL or can be deleted explicitly.`
  );
}
