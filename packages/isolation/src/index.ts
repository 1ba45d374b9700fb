/**
 * `@cacheplane/isolation` (private): the attack matrix of issue 8 and the helpers to run it against
 * real servers. See README.md.
 */
export { ATTACKS, type Attack, type AttackContext } from "./attacks.js";
export { clusterTarget, gatewayTarget, type MatrixTarget, standaloneTarget } from "./harness.js";
export {
  formatMatrix,
  type MatrixResult,
  type MatrixRun,
  type MatrixServer,
  runMatrix,
  summarize,
  type Verdict,
} from "./matrix.js";
export {
  type Canaries,
  canariesFor,
  checkCanaries,
  MATRIX_SERVICES,
  matrixConfig,
  provisionMatrix,
  seedCanaries,
} from "./platform.js";
export {
  DirectTransport,
  type GatewayTokens,
  GatewayTransport,
  type Identity,
  isDenial,
  type Outcome,
  type Scope,
  type Transport,
} from "./transports.js";
