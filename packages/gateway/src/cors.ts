/** Cross-origin access for browser apps calling the gateway directly (e.g. `@upstash/redis` in a SPA). */
import type { GatewayResponse } from "./handler-types.js";

/** Which browser origins may call the gateway. */
export interface CorsOptions {
  /** `"*"` for any origin, or exact origins such as `["https://app.example.com"]`. */
  origins: "*" | readonly string[];
  /** How long browsers may cache a preflight answer, in seconds. @default 600 */
  maxAgeSeconds?: number;
}

const ALLOWED_METHODS = "GET, HEAD, POST, PUT, OPTIONS";
const ALLOWED_HEADERS =
  "authorization, content-type, upstash-encoding, upstash-response-format, upstash-sync-token, cacheplane-read-only";

/** The `Access-Control-Allow-Origin` value for `origin`, or undefined when it is not allowed. */
export function allowedOrigin(cors: CorsOptions | undefined, origin: string | null): string | undefined {
  if (!cors || origin === null) return undefined;
  if (cors.origins === "*") return "*";
  return cors.origins.includes(origin) ? origin : undefined;
}

/**
 * Adds CORS headers for an actual (non-preflight) request. `vary` is appended to, as Web `Headers`
 * would (`Origin, Origin` on a preflight answer, which already varies on the origin).
 */
export function applyCors(
  headers: Record<string, string>,
  cors: CorsOptions | undefined,
  origin: string | null,
): void {
  const allowed = allowedOrigin(cors, origin);
  if (!allowed) return;
  headers["access-control-allow-origin"] = allowed;
  // Browser clients may read the read-your-writes token (sync-token.ts).
  if (headers["upstash-sync-token"] !== undefined)
    headers["access-control-expose-headers"] = "upstash-sync-token";
  if (allowed !== "*") {
    const vary = headers.vary;
    headers.vary = vary === undefined ? "Origin" : `${vary}, Origin`;
  }
}

/** The answer to an `OPTIONS` preflight: 204 with the allowed methods and headers (or without, when denied). */
export function preflight(
  cors: CorsOptions | undefined,
  header: (name: string) => string | null,
): GatewayResponse {
  const headers: Record<string, string> = { "cache-control": "no-store" };
  const allowed = allowedOrigin(cors, header("origin"));
  if (allowed) {
    headers["access-control-allow-origin"] = allowed;
    if (allowed !== "*") headers.vary = "Origin";
    headers["access-control-allow-methods"] = ALLOWED_METHODS;
    const requested = header("access-control-request-headers");
    const telemetry = (requested ?? "")
      .split(",")
      .map((h) => h.trim().toLowerCase())
      .filter((h) => /^upstash-telemetry-[a-z-]+$/.test(h));
    headers["access-control-allow-headers"] = [ALLOWED_HEADERS, ...telemetry].join(", ");
    headers["access-control-max-age"] = String(cors?.maxAgeSeconds ?? 600);
  }
  return { status: 204, headers, body: null };
}
