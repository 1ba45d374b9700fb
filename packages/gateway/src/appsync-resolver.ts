/**
 * AppSync Direct Lambda resolver for `schema.graphql`: `Query.get`, `Query.mget`, `Query.read`
 * (pipeline with read-only rights whatever the token) and `Mutation.run` (command arrays in one
 * pipeline). Every field goes through the gateway's `fetch`, so tokens, policy and the service's ACL
 * apply exactly as over HTTP.
 */
import type { AppSyncIdentityLambda, AppSyncResolverEvent } from "aws-lambda";
import { type Gateway, READ_ONLY_HEADER } from "./gateway.js";

/** Arguments of the schema's fields. */
export interface AppSyncGatewayArguments {
  key?: string;
  keys?: string[];
  commands?: string[][];
  token?: string;
}

/** One command's outcome: the reply as JSON text (AWSJSON), or the error. */
export interface AppSyncCommandResult {
  result: string | null;
  error: string | null;
}

/** Options of {@link toAppSyncResolver}. */
export interface AppSyncResolverOptions {
  /** Request header holding the gateway token. @default "x-cacheplane-token" */
  tokenHeader?: string;
}

/** The resolver function AppSync invokes. */
export type AppSyncGatewayResolver = (
  event: AppSyncResolverEvent<AppSyncGatewayArguments>,
) => Promise<string | null | (string | null)[] | AppSyncCommandResult[]>;

function header(headers: Record<string, string | undefined>, name: string): string | undefined {
  const wanted = name.toLowerCase();
  for (const [key, value] of Object.entries(headers)) if (key.toLowerCase() === wanted) return value;
  return undefined;
}

/** The gateway token of an AppSync event (argument, header, Lambda authorizer context, authorization). */
export function tokenFromAppSyncEvent(
  event: AppSyncResolverEvent<AppSyncGatewayArguments>,
  tokenHeader = "x-cacheplane-token",
): string | undefined {
  const fromArgument = event.arguments?.token;
  if (typeof fromArgument === "string" && fromArgument.length > 0) return fromArgument;
  const headers = event.request?.headers ?? {};
  const fromHeader = header(headers, tokenHeader);
  if (fromHeader) return fromHeader.trim();
  const context = (event.identity as AppSyncIdentityLambda | null | undefined)?.resolverContext as
    | Record<string, unknown>
    | undefined;
  if (typeof context?.token === "string" && context.token.length > 0) return context.token;
  const authorization = header(headers, "authorization");
  if (authorization) return authorization.replace(/^\s*bearer\s+/i, "").trim();
  return undefined;
}

function stringList(value: unknown, field: string): string[] {
  if (!Array.isArray(value) || value.some((v) => typeof v !== "string")) {
    throw new Error(`ERR ${field} must be a list of strings`);
  }
  return value as string[];
}

async function call(
  gateway: Gateway,
  path: string,
  body: unknown,
  token: string | undefined,
  readOnly: boolean,
) {
  const headers: Record<string, string> = { "content-type": "application/json" };
  if (token) headers.authorization = `Bearer ${token}`;
  if (readOnly) headers[READ_ONLY_HEADER] = "1";
  const response = await gateway.fetch(
    new Request(`https://appsync.gateway.local${path}`, {
      method: "POST",
      headers,
      body: JSON.stringify(body),
    }),
  );
  const parsed = (await response.json()) as unknown;
  if (!response.ok) {
    const message = (parsed as { error?: unknown })?.error;
    throw new Error(typeof message === "string" ? message : `ERR gateway answered ${response.status}`);
  }
  return parsed;
}

function toResults(items: unknown): AppSyncCommandResult[] {
  return (Array.isArray(items) ? items : []).map((item) => {
    const entry = item as { result?: unknown; error?: unknown };
    if (typeof entry.error === "string") return { result: null, error: entry.error };
    return { result: JSON.stringify(entry.result ?? null), error: null };
  });
}

/**
 * Wraps a gateway as an AppSync Direct Lambda resolver for the fields of `schema.graphql`.
 * Errors (401 unknown token, 403 denied command, ...) become GraphQL errors with the gateway's message.
 *
 * @example
 * export const handler = toAppSyncResolver(createGateway({ services, tokens: { records } }));
 */
export function toAppSyncResolver(
  gateway: Gateway,
  options: AppSyncResolverOptions = {},
): AppSyncGatewayResolver {
  return async (event) => {
    const token = tokenFromAppSyncEvent(event, options.tokenHeader);
    const field = `${event.info?.parentTypeName}.${event.info?.fieldName}`;
    const args = event.arguments ?? {};
    switch (field) {
      case "Query.get": {
        if (typeof args.key !== "string") throw new Error("ERR key must be a string");
        const body = (await call(gateway, "/", ["GET", args.key], token, true)) as { result?: unknown };
        return typeof body.result === "string" ? body.result : null;
      }
      case "Query.mget": {
        const keys = stringList(args.keys, "keys");
        if (keys.length === 0) return [];
        const body = (await call(gateway, "/", ["MGET", ...keys], token, true)) as { result?: unknown };
        return Array.isArray(body.result) ? body.result.map((v) => (typeof v === "string" ? v : null)) : [];
      }
      case "Query.read":
      case "Mutation.run": {
        if (!Array.isArray(args.commands)) throw new Error("ERR commands must be a list of command arrays");
        const commands = args.commands.map((c, i) => stringList(c, `commands[${i}]`));
        if (commands.length === 0) return [];
        return toResults(await call(gateway, "/pipeline", commands, token, field === "Query.read"));
      }
      default:
        throw new Error(`ERR field ${field} is not served by the Cacheplane gateway resolver`);
    }
  };
}
