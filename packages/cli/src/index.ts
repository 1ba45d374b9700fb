/**
 * @cacheplane/cli: the `cacheplane` command (`runCli`) and the pieces it is built from, for scripts
 * and tests: the config loader, the doctor checks and the local dev platform.
 */

export { Redactor, redactUrl } from "@cacheplane/core";
export { type ActionFactory, type CommandHandler, DEFAULT_CONFIG_FILE } from "./commands/action.js";
export { describeAction, progressPrinter } from "./commands/apply.js";
export { DEV_READY_LINE } from "./commands/dev.js";
export { formatDoctorReport } from "./commands/doctor.js";
export { loadConfig, readConfigFile } from "./config-loader.js";
export { type DevGateway, type DevGatewayContext, startGatewayIfAvailable } from "./dev/gateway-hook.js";
export { formatDevInstructions, redisCliCommand } from "./dev/instructions.js";
export {
  type DevPlatform,
  type DevPlatformOptions,
  type DevService,
  startDevPlatform,
} from "./dev/platform.js";
export { findRedisServerBinary, REDIS_INSTALL_HINT } from "./dev/redis-binary.js";
export { type DoctorCheck, type DoctorOptions, type DoctorReport, runDoctorChecks } from "./doctor/checks.js";
export { CliError, EXIT, UsageError } from "./errors.js";
export type { CliIo, CommandContext } from "./io.js";
export { runCli, VERSION } from "./main.js";
export { TARGET_ENV } from "./target-options.js";
