export {
  type AccessPreset,
  type AccessSpec,
  type AccessStringInput,
  buildAccessString,
  DANGEROUS_CATEGORIES,
  DANGEROUS_COMMANDS,
  explicitGrantProblem,
  isDangerousGrant,
  isScriptingCommand,
  normalizeAccessString,
  parseCommandRule,
} from "./access.js";
export {
  defineConfig,
  ENGINES,
  type Engine,
  findService,
  type PlatformConfig,
  type PlatformConfigInput,
  parseConfig,
  type ResolvedService,
  type ServiceInput,
} from "./config.js";
export {
  type AccessProbe,
  DENIED_COMMANDS,
  type DenialKind,
  type DeniedCommand,
  deniedEntry,
  forbiddenProbes,
  probesFor,
  READ_ONLY_DENIED,
  SCRIPTING_COMMANDS,
} from "./denied-commands.js";
export { ConfigError, type ConfigIssue } from "./errors.js";
export { type PlatformExports, platformExports } from "./exports.js";
export { formatMigrationChecklist, type MigrationStep, migrationChecklist } from "./migration.js";
export {
  keyPrefix,
  keyspaceProblem,
  MAX_KEYSPACE_LENGTH,
  MAX_SERVICE_NAME_LENGTH,
  MAX_USER_ID_LENGTH,
  normalizeKeyspace,
  normalizeResourceName,
  RESERVED_USER_IDS,
  secretNameFor,
  serviceNameProblem,
  userIdFor,
} from "./naming.js";
export {
  type ActualState,
  type ActualUser,
  type DesiredState,
  type DesiredUser,
  desiredStateFromConfig,
  formatPlan,
  type ModifyChange,
  type NodeDifference,
  type PlanAction,
  type PlanActionType,
  type PlanOptions,
  plan,
  SCRIPT_LIBRARY_PREFIX,
  summarizePlan,
} from "./plan.js";
export {
  MIN_SECRET_LENGTH,
  REDACTED,
  type RedactOptions,
  Redactor,
  redact,
  redactedMessage,
  redactUrl,
} from "./redaction.js";
export {
  isScanner,
  platformUsers,
  SCANNER_GRANTS,
  SCANNER_NAME,
  type ScannerIdentity,
  scannerAccessString,
  scannerForbiddenProbes,
  scannerIdentity,
  scannerUserId,
} from "./scanner.js";
export {
  buildSecretPayload,
  isAcceptablePassword,
  PASSWORD_ALPHABET,
  PASSWORD_LENGTH,
  passwordHash,
  type SecretTarget,
} from "./secret.js";
export {
  parseSecretPayload,
  redactSecret,
  type SecretPayload,
  SecretPayloadError,
} from "./secret-payload.js";
