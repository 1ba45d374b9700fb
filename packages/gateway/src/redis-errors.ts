/**
 * Maps what ioredis throws to HTTP: Redis's own error replies are the client's business (400, or 403
 * for NOPERM, as the command was refused by the service's ACL); everything about reaching Redis
 * (timeouts, closed or unready connections, a cluster that is down, rejected service credentials)
 * is 503.
 */
import { isAuthError } from "@cacheplane/client/connection";
import { GatewayError, unavailable } from "./errors.js";

/** Error replies that mean "Redis cannot serve now", not "your command is wrong". */
const UNAVAILABLE_REPLIES = /^(CLUSTERDOWN|LOADING|BUSY|MASTERDOWN|TRYAGAIN|READONLY|NOREPLICAS)\b/;

/** True for an error reply sent by Redis (as opposed to a connection or client error). */
export function isReplyError(error: unknown): error is Error {
  return error instanceof Error && error.name === "ReplyError";
}

/** True when Redis rejected the service's credentials (re-read the secret): the client's own test. */
export { isAuthError as isAuthFailure } from "@cacheplane/client/connection";

/** The message of an error reply as the client should see it (ioredis adds nothing to it). */
export function replyErrorMessage(error: Error): string {
  return error.message;
}

/**
 * The HTTP error for a failed Redis call. `timeoutMs` is named in timeout messages.
 * Messages come from Redis or from this module, never from secrets.
 */
export function toGatewayError(error: unknown, timeoutMs: number): GatewayError {
  if (error instanceof GatewayError) return error;
  if (isReplyError(error)) {
    const message = replyErrorMessage(error);
    if (isAuthError(error)) return unavailable("Redis rejected the service's credentials");
    if (UNAVAILABLE_REPLIES.test(message)) return unavailable(message.split(/\s+/)[0] ?? "busy");
    if (/^NOPERM\b/.test(message)) return new GatewayError(403, message);
    if (/^EXECABORT\b/.test(message)) return execAbortError(error);
    return new GatewayError(400, message);
  }
  const message = error instanceof Error ? error.message : String(error);
  if (/timed out/i.test(message)) return unavailable(`no answer within ${timeoutMs} ms`);
  if (
    /offline ?queue|not ready|isn't writeable|closed|ECONNREFUSED|ECONNRESET|EPIPE|ETIMEDOUT|ENOTFOUND/i.test(
      message,
    )
  ) {
    return unavailable("not connected");
  }
  return unavailable("connection error");
}

function execAbortError(error: Error): GatewayError {
  const previous = (error as { previousErrors?: unknown }).previousErrors;
  const causes = Array.isArray(previous)
    ? previous.map((e) => (e instanceof Error ? e.message : String(e))).filter((m) => m.length > 0)
    : [];
  const noperm = causes.some((m) => /^NOPERM\b/.test(m));
  const detail = causes.length > 0 ? `: ${causes.join("; ")}` : "";
  return new GatewayError(
    noperm ? 403 : 400,
    `EXECABORT Transaction discarded because of previous errors${detail}`,
  );
}
