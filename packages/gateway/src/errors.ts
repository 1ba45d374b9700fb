/**
 * The one error type the gateway turns into an HTTP answer. Messages follow Redis/Upstash style
 * (`ERR ...`, `NOPERM ...`) so `@upstash/redis` surfaces them unchanged, and never hold a token, a
 * password or data of another service.
 */

/** HTTP statuses the gateway answers with. */
export type GatewayStatus = 400 | 401 | 403 | 404 | 405 | 413 | 429 | 500 | 501 | 503;

/** A request the gateway refuses or cannot serve; `status` is the HTTP status to answer with. */
export class GatewayError extends Error {
  override readonly name = "GatewayError";
  constructor(
    readonly status: GatewayStatus,
    message: string,
  ) {
    super(message);
  }
}

/** `400 ERR <message>`: malformed request (bad JSON, wrong shape, bad argument type). */
export function badRequest(message: string): GatewayError {
  return new GatewayError(400, `ERR ${message}`);
}

/** `403 NOPERM <message>`: the policy layer (or Redis's ACL) denies the command. */
export function forbidden(message: string): GatewayError {
  return new GatewayError(403, `NOPERM ${message}`);
}

/** `401`: no token, an unknown token or an expired one; deliberately says no more than that. */
export function unauthorized(): GatewayError {
  return new GatewayError(401, "Unauthorized: missing, unknown or expired token");
}

/** `413`: body or pipeline larger than the configured limit. */
export function tooLarge(message: string): GatewayError {
  return new GatewayError(413, `ERR ${message}`);
}

/**
 * `Retry-After` (seconds) sent with every 503: the gateway reconnects to Redis in the background at
 * least once a second, so a request retried after this long gets through as soon as Redis is back.
 */
export const RETRY_AFTER_SECONDS = 1;

/** `503`: Redis is unreachable (answered at once while the connection is known to be down) or did not answer in time. */
export function unavailable(message: string): GatewayError {
  return new GatewayError(503, `ERR Redis unavailable: ${message}`);
}
