/**
 * Lambda entry of the Secrets Manager rotation function `ServiceCacheAccess({ rotation })` creates:
 * Cacheplane's two-password rotation (`runRotationStep` from the provisioner) on the secret's
 * versions, with the ElastiCache user's passwords set through the ElastiCache target. Bundled with
 * esbuild at synth time; the AWS SDK comes from the Lambda runtime.
 */
import { SecretsManagerClient } from "@aws-sdk/client-secrets-manager";
import type { Context } from "aws-lambda";
import {
  ElastiCacheTarget,
  elastiCacheRotationUsers,
  type RotationEvent,
  runRotationStep,
  secretsManagerVersions,
} from "./provisioner.js";

/** Time kept back from the Lambda timeout: a step that cannot finish fails and is retried by Secrets Manager. */
const MARGIN_MS = 10_000;

export async function handler(event: RotationEvent, context: Context): Promise<void> {
  const deadline = Date.now() + context.getRemainingTimeInMillis() - MARGIN_MS;
  const target = new ElastiCacheTarget({ deadline });
  const secrets = new SecretsManagerClient({});
  try {
    await runRotationStep(event, {
      secrets: secretsManagerVersions(secrets),
      users: elastiCacheRotationUsers(target),
      log: (line) => console.log(`[${event.Step}] ${line}`),
    });
  } finally {
    await target.close();
    secrets.destroy();
  }
}
