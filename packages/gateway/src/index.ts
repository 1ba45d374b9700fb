export { adminTokenPath, checkAdminToken, ensureAdminToken } from "./admin-token.js";
export {
  type AppSyncCommandResult,
  type AppSyncGatewayArguments,
  type AppSyncGatewayResolver,
  type AppSyncResolverOptions,
  toAppSyncResolver,
} from "./appsync-resolver.js";
export type { CorsOptions } from "./cors.js";
export { GatewayError, type GatewayStatus } from "./errors.js";
export { createGateway, type Gateway, READ_ONLY_HEADER } from "./gateway.js";
export type { GatewayLimits, GatewayLogEntry, GatewayOptions, ScannerIdentity } from "./gateway-options.js";
export { type LambdaHandlerOptions, type LambdaHttpHandler, toLambdaHandler } from "./lambda-adapter.js";
export {
  createGatewayNodeServer,
  DEFAULT_NODE_SERVER_LIMITS,
  type GatewayServer,
  type GatewayServerOptions,
  type IssuedGatewayTokens,
  issueGatewayTokens,
  type NodeListenerOptions,
  type NodeServerLimits,
  startGatewayServer,
  toNodeListener,
} from "./node-server.js";
export { OBSERVER_RULES, type OperatorAdmin } from "./operator-view/sampler.js";
export type { OperatorOptions } from "./operator-view/view.js";
export {
  currentProcessRecord,
  type ProcessRecord,
  type ProcessState,
  parseProcessRecord,
  processStartIdentity,
  processState,
} from "./process-record.js";
export {
  type GatewayService,
  type LoadGatewayServicesOptions,
  loadGatewayServices,
  loadScannerIdentity,
  type RedisTarget,
} from "./services.js";
export type { AdminIdentity, TokenIdentity, TokenSource } from "./token-verifier.js";
export {
  ADMIN_TOKEN_FILE,
  checkServiceTokens,
  ensureServiceTokens,
  hashToken,
  pruneServiceTokens,
  type RotatedServiceTokens,
  type RotateTokensOptions,
  readTokenRegistry,
  retiredTokenServices,
  rotateServiceTokens,
  type ServiceTokens,
  serviceTokenPath,
  type TokenFileOptions,
  type TokenKind,
  type TokenRecord,
  tokenRegistryPath,
} from "./tokens.js";
