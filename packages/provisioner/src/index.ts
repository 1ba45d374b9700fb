export { type AccessRuleDiff, accessRuleDiff, describeAccessChanges } from "./access-diff.js";
export { type AccessCheck, type AccessFinding, AccessVerifier, commandLabel } from "./access-verifier.js";
export {
  type AclLogEntry,
  AclLogFollower,
  type AuditEvent,
  type AuditPoll,
  type AuditState,
  parseAclLog,
  setAclLogMaxLen,
} from "./acl-log.js";
export type { AclSaveMode } from "./acl-persistence.js";
export { PROBE_USER_PREFIX } from "./acl-rules.js";
export { applyPlatform } from "./apply.js";
export * from "./aws.js";
export type { ClusterNode } from "./cluster-topology.js";
export {
  AccessVerificationError,
  type AccessViolation,
  ProvisionerError,
  RotationError,
  SecretStoreError,
  TargetError,
} from "./errors.js";
export { FILE_STORE_STATE_FILE, FileSecretStore } from "./file-secret-store.js";
export type { AdminTlsOptions } from "./node-set.js";
export { generatePassword } from "./password.js";
export { type PlanAgainstOptions, type PlanAgainstResult, planAgainst } from "./plan-against.js";
export { redact, redactUrl } from "./redaction.js";
export {
  type NodeDisagreement,
  PASSWORDS_DIFFER_BETWEEN_NODES,
  RedisAclTarget,
  type RedisAclTargetOptions,
} from "./redis-acl-target.js";
export {
  finishRotation,
  type RotationResult,
  rotationFinishPayload,
  rotationPasswords,
  rotationStartPayload,
  startRotation,
} from "./rotation.js";
export {
  type DryRunVerdict,
  dryRunVerdict,
  fitArity,
  parseCommandInfo,
  placeholderArgv,
  type ServerCommand,
} from "./server-commands.js";
export * from "./types.js";
export {
  type KeyspaceUsage,
  NO_KEYSPACE,
  type NodeUsage,
  sampleUsage,
  type UsageConfig,
  type UsageOptions,
  type UsageProgress,
  type UsageReport,
  type UserConnections,
} from "./usage.js";
