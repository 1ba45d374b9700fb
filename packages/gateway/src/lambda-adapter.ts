/**
 * Lambda adapter for Function URLs and API Gateway HTTP APIs (payload format 2.0): turns the event
 * into a Web `Request` (base64 bodies, headers, cookies, raw query string) and the gateway's
 * `Response` into the structured result. Responses are buffered, so `/subscribe` streams are not
 * available here (501); use the Node server or a streaming runtime for them.
 */
import type { APIGatewayProxyEventV2, APIGatewayProxyStructuredResultV2 } from "aws-lambda";
import type { Gateway } from "./gateway.js";
import { rememberBody } from "./request-body.js";

/** Options of {@link toLambdaHandler}. */
export interface LambdaHandlerOptions {
  /**
   * A path prefix to remove before routing, e.g. the stage name of a non-default API Gateway stage
   * (`/prod`). @default "" (Function URLs and `$default` stages need none)
   */
  stripPrefix?: string;
}

/** A Lambda handler for payload format 2.0 events. */
export type LambdaHttpHandler = (event: APIGatewayProxyEventV2) => Promise<APIGatewayProxyStructuredResultV2>;

const TEXT_TYPES = /^(application\/json|text\/|application\/javascript)/i;

function errorResult(statusCode: number, message: string): APIGatewayProxyStructuredResultV2 {
  return {
    statusCode,
    headers: { "content-type": "application/json", "cache-control": "no-store" },
    body: JSON.stringify({ error: message }),
    isBase64Encoded: false,
  };
}

/** The Web `Request` a payload-2.0 event describes. */
export function requestFromEvent(event: APIGatewayProxyEventV2, stripPrefix = ""): Request {
  const http = event.requestContext.http;
  let path = event.rawPath || http.path || "/";
  const prefix = stripPrefix.replace(/\/+$/, "");
  if (prefix && (path === prefix || path.startsWith(`${prefix}/`))) path = path.slice(prefix.length) || "/";
  const host = event.requestContext.domainName || event.headers?.host || "lambda.local";
  const query = event.rawQueryString ? `?${event.rawQueryString}` : "";
  const url = new URL(`https://${host}${path.startsWith("/") ? "" : "/"}${path}${query}`);
  const headers = new Headers();
  for (const [name, value] of Object.entries(event.headers ?? {})) {
    if (value === undefined) continue;
    try {
      headers.set(name, value);
    } catch {
      // Not representable in the Fetch API: leave it out.
    }
  }
  if (event.cookies && event.cookies.length > 0) headers.set("cookie", event.cookies.join("; "));
  const method = (http.method || "GET").toUpperCase();
  const hasBody =
    event.body !== undefined &&
    event.body !== null &&
    event.body !== "" &&
    method !== "GET" &&
    method !== "HEAD";
  const body = hasBody
    ? Buffer.from(event.body as string, event.isBase64Encoded ? "base64" : "utf8")
    : undefined;
  const request = new Request(url, { method, headers, ...(body ? { body: new Uint8Array(body) } : {}) });
  return body ? rememberBody(request, body) : request;
}

/** The structured result for a (buffered) `Response`. */
export async function resultFromResponse(response: Response): Promise<APIGatewayProxyStructuredResultV2> {
  const headers: Record<string, string> = {};
  response.headers.forEach((value, name) => {
    if (name !== "set-cookie") headers[name] = value;
  });
  const cookies = response.headers.getSetCookie();
  const bytes = Buffer.from(await response.arrayBuffer());
  const text = TEXT_TYPES.test(response.headers.get("content-type") ?? "application/json");
  return {
    statusCode: response.status,
    headers,
    ...(cookies.length > 0 ? { cookies } : {}),
    body: text ? bytes.toString("utf8") : bytes.toString("base64"),
    isBase64Encoded: !text,
  };
}

/**
 * Wraps a gateway as a Lambda handler for Function URLs and HTTP APIs (payload 2.0).
 *
 * @example
 * const gateway = createGateway({ services, tokens: { records } });
 * export const handler = toLambdaHandler(gateway);
 */
export function toLambdaHandler(gateway: Gateway, options: LambdaHandlerOptions = {}): LambdaHttpHandler {
  const prefix = options.stripPrefix ?? "";
  return async (event) => {
    let request: Request;
    try {
      request = requestFromEvent(event, prefix);
    } catch {
      return errorResult(400, "ERR invalid request");
    }
    const path = new URL(request.url).pathname;
    if (/^\/p?subscribe(\/|$)/.test(path)) {
      return errorResult(501, "ERR /subscribe needs a streaming connection; use the Node gateway server");
    }
    try {
      return await resultFromResponse(await gateway.fetch(request));
    } catch {
      return errorResult(500, "ERR internal gateway error");
    }
  };
}
