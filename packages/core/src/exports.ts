/**
 * What the platform stack publishes for application stacks: SSM parameter names under
 * `/platform/<stage>/<region>/redis/<cacheName>/...`.
 */
export interface PlatformExports {
  /** Parameter holding the cache endpoint host. */
  endpointParameter: string;
  /** Parameter holding the cache port. */
  portParameter: string;
  /** Parameter holding the user group id. */
  userGroupIdParameter: string;
  /** Parameter holding the user group ARN. */
  userGroupArnParameter: string;
}

export function platformExports(platform: {
  stage: string;
  region: string;
  cacheName: string;
}): PlatformExports {
  const base = `/platform/${platform.stage}/${platform.region}/redis/${platform.cacheName}`;
  return {
    endpointParameter: `${base}/endpoint`,
    portParameter: `${base}/port`,
    userGroupIdParameter: `${base}/userGroupId`,
    userGroupArnParameter: `${base}/userGroupArn`,
  };
}
