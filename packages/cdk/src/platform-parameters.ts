/**
 * Names of the SSM parameters a platform stack publishes for application stacks: core's
 * `platformExports` (endpoint, port, user group id and ARN) plus what the CDK constructs also need to
 * wire a service without a hard cross-stack reference (cache security group, serverless cache name).
 */
import { type PlatformExports, platformExports } from "@cacheplane/core";

/** Every parameter name under `/platform/<stage>/<region>/redis/<cacheName>/`. */
export interface PlatformParameterNames extends PlatformExports {
  /** Parameter holding the id of the cache's security group (services add ingress rules to it). */
  securityGroupIdParameter: string;
  /** Parameter holding the serverless cache name (IAM auth tokens and `elasticache:Connect` grants). */
  serverlessCacheNameParameter: string;
}

/** The parameter names of the platform `stage`/`region`/`cacheName`. */
export function platformParameterNames(platform: {
  stage: string;
  region: string;
  cacheName: string;
}): PlatformParameterNames {
  const core = platformExports(platform);
  const base = core.endpointParameter.replace(/\/endpoint$/, "");
  return {
    ...core,
    securityGroupIdParameter: `${base}/securityGroupId`,
    serverlessCacheNameParameter: `${base}/serverlessCacheName`,
  };
}
