/**
 * The CloudFormation custom resource response: building it (reason trimmed, never a secret) and
 * sending it to the pre-signed `ResponseURL` with a plain HTTPS PUT, retried on network errors.
 */
import { request as httpRequest } from "node:http";
import { request as httpsRequest } from "node:https";
import type { CloudFormationCustomResourceEvent, CloudFormationCustomResourceResponse } from "aws-lambda";

/** CloudFormation keeps at most 4 KB of a response; reasons are trimmed well below. */
const MAX_REASON = 1000;

/** A SUCCESS or FAILED response to `event`. */
export function buildResponse(
  event: CloudFormationCustomResourceEvent,
  outcome: {
    status: "SUCCESS" | "FAILED";
    physicalResourceId: string;
    reason?: string;
    data?: Record<string, string>;
  },
): CloudFormationCustomResourceResponse {
  const reason = outcome.reason ?? (outcome.status === "SUCCESS" ? "OK" : "Failed");
  const response: CloudFormationCustomResourceResponse = {
    Status: outcome.status,
    Reason: reason.length > MAX_REASON ? `${reason.slice(0, MAX_REASON - 3)}...` : reason,
    PhysicalResourceId: outcome.physicalResourceId,
    StackId: event.StackId,
    RequestId: event.RequestId,
    LogicalResourceId: event.LogicalResourceId,
    NoEcho: false,
  } as CloudFormationCustomResourceResponse;
  if (outcome.data) response.Data = outcome.data;
  return response;
}

/** Replaces every occurrence of each secret in `text` with `***`. */
export function redactSecrets(text: string, secrets: readonly string[]): string {
  let out = text;
  for (const secret of secrets) if (secret.length > 0) out = out.split(secret).join("***");
  return out;
}

/** PUTs the response to CloudFormation's pre-signed URL; retries network failures and 5xx. */
export async function sendResponse(
  responseUrl: string,
  response: CloudFormationCustomResourceResponse,
  options: { attempts?: number; sleep?: (ms: number) => Promise<void> } = {},
): Promise<void> {
  const body = JSON.stringify(response);
  const attempts = options.attempts ?? 4;
  const sleep = options.sleep ?? ((ms: number) => new Promise<void>((r) => setTimeout(r, ms)));
  let lastError: unknown;
  for (let attempt = 0; attempt < attempts; attempt++) {
    try {
      const status = await put(responseUrl, body);
      if (status >= 200 && status < 300) return;
      lastError = new Error(`CloudFormation response URL answered HTTP ${status}`);
      if (status < 500) break;
    } catch (error) {
      lastError = error;
    }
    if (attempt + 1 < attempts) await sleep(500 * 2 ** attempt);
  }
  throw lastError instanceof Error ? lastError : new Error(String(lastError));
}

function put(url: string, body: string): Promise<number> {
  const target = new URL(url);
  const request = target.protocol === "http:" ? httpRequest : httpsRequest;
  return new Promise((resolve, reject) => {
    const req = request(
      target,
      {
        method: "PUT",
        // S3 pre-signed URLs are signed for an empty content type.
        headers: { "content-type": "", "content-length": Buffer.byteLength(body) },
        timeout: 10_000,
      },
      (res) => {
        res.resume();
        res.on("end", () => resolve(res.statusCode ?? 0));
      },
    );
    req.on("timeout", () => req.destroy(new Error("timed out sending the CloudFormation response")));
    req.on("error", reject);
    req.end(body);
  });
}
