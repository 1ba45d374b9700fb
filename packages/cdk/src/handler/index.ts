/**
 * Lambda entry of the user-group membership custom resource. Bundled with esbuild at synth time by
 * `ServiceCacheAccess` (one function per stack). Answers CloudFormation itself (no Provider framework):
 * it stops waiting well before the Lambda timeout, so CloudFormation always gets a response.
 */
import type { CloudFormationCustomResourceEvent, Context } from "aws-lambda";
import { sendResponse } from "./cfn-response.js";
import { handleMembershipEvent } from "./membership.js";
import { ElastiCacheTarget, MANAGED_BY_CLOUDFORMATION, SecretsManagerStore } from "./provisioner.js";

/** Time kept back from the Lambda timeout to send the response. */
const RESPONSE_MARGIN_MS = 30_000;

export async function handler(event: CloudFormationCustomResourceEvent, context: Context): Promise<void> {
  const deadline = Date.now() + context.getRemainingTimeInMillis() - RESPONSE_MARGIN_MS;
  // Users this handler creates belong to the stack: tagged so that `cacheplane apply --prune` leaves them.
  const target = new ElastiCacheTarget({ deadline, ownerTag: MANAGED_BY_CLOUDFORMATION });
  const store = new SecretsManagerStore();
  const log = (line: string) => console.log(`[${event.LogicalResourceId}] ${line}`);
  log(`${event.RequestType} request ${event.RequestId}`);
  try {
    const response = await handleMembershipEvent(event, {
      target,
      readPasswords: async (secretArn) => {
        const entry = await store.read(secretArn);
        if (!entry) throw new Error(`secret ${secretArn} does not exist`);
        const { password, previousPassword } = entry.payload;
        return previousPassword !== undefined ? [password, previousPassword] : [password];
      },
      log,
    });
    log(`${response.Status}: ${response.Reason ?? ""}`);
    await sendResponse(event.ResponseURL, response);
  } finally {
    await target.close();
    store.close();
  }
}
