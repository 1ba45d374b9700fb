/**
 * The gateway: one Web-standard `fetch(request) -> Response` handler speaking Upstash's REST
 * protocol, with adapters for Node's HTTP server, Lambda and AppSync around it.
 *
 * Per request: route -> token (constant-time hash check) -> the token's service and kind -> policy
 * (before Redis) -> the service's own Redis connection (its ACL is the final guard) -> Upstash JSON.
 * Keys are passed through unchanged: Upstash clients send full keys (`<keyspace>:...`), and the
 * service's ACL rejects keys outside its keyspace.
 */
import { type CommandArg, checkCommand, patternInKeyspace } from "./command-policy.js";
import { consoleResponse } from "./console-assets.js";
import { applyCors, preflight } from "./cors.js";
import { badRequest, forbidden, GatewayError, unauthorized } from "./errors.js";
import {
  DEFAULT_HEARTBEAT_MS,
  DEFAULT_MAX_BODY_BYTES,
  DEFAULT_MAX_PIPELINE_COMMANDS,
  DEFAULT_MAX_SUBSCRIPTIONS,
  DEFAULT_TIMEOUT_MS,
  defaultLogger,
  type GatewayLogEntry,
  type GatewayOptions,
} from "./gateway-options.js";
import { Redactor } from "./redaction.js";
import { type CommandOutcome, ServiceConnection } from "./redis-connection.js";
import { toGatewayError } from "./redis-errors.js";
import { errorJson, type ResponseEncoding, resultJson } from "./reply-encoding.js";
import { readBody } from "./request-body.js";
import { parseJsonCommand, parseJsonCommands, pathCommand, type Route, routeOf } from "./request-parsing.js";
import { ScriptCompat } from "./script-compat.js";
import type { GatewayService } from "./services.js";
import { SubscriptionHub } from "./subscriptions.js";
import { type TokenIdentity, TokenVerifier } from "./token-verifier.js";

/** A running gateway. */
export interface Gateway {
  /** Answers one HTTP request (Web-standard `Request`/`Response`, as in Hono, Deno, Bun, workers). */
  fetch(request: Request): Promise<Response>;
  /** Closes every Redis connection and ends open subscription streams. */
  close(): Promise<void>;
  /** Names of the services this gateway serves. */
  readonly services: readonly string[];
}

/** Header that downgrades a token to read-only for one request (AppSync queries use it). */
export const READ_ONLY_HEADER = "cacheplane-read-only";

const JSON_HEADERS: Readonly<Record<string, string>> = {
  "content-type": "application/json",
  "cache-control": "no-store",
  "x-content-type-options": "nosniff",
};
const ALLOWED_METHODS = new Set(["GET", "HEAD", "POST", "PUT"]);

interface ServiceState {
  service: GatewayService;
  connection: ServiceConnection;
  hub: SubscriptionHub;
}

interface RequestLog {
  route?: string;
  service?: string;
  tokenKind?: string;
  commands?: string[];
}

function bearerToken(request: Request, url: URL): string | undefined {
  const header = request.headers.get("authorization");
  if (header !== null) {
    const match = /^\s*bearer\s+(\S+)\s*$/i.exec(header);
    return match?.[1];
  }
  return url.searchParams.get("_token") ?? undefined;
}

function commandName(args: readonly CommandArg[]): string {
  const first = args[0];
  const name = typeof first === "string" ? first : (first?.toString("utf8") ?? "");
  return /^[A-Za-z][A-Za-z0-9_.-]{0,63}$/.test(name) ? name.toLowerCase() : "(invalid)";
}

function responseEncoding(request: Request): ResponseEncoding {
  const format = request.headers.get("upstash-response-format");
  if (format !== null && format.toLowerCase() !== "json") {
    throw badRequest(
      format.toLowerCase() === "resp2"
        ? "Upstash-Response-Format resp2 is not supported by this gateway; use json"
        : "Upstash-Response-Format must be json",
    );
  }
  return request.headers.get("upstash-encoding")?.toLowerCase() === "base64" ? "base64" : "utf8";
}

/** Text of JSON responses built here, so the Node adapter can write it without reading a stream. */
const bufferedBodies = new WeakMap<Response, string>();

/** The body text of a JSON response created by the gateway (unread), if it is one. */
export function bufferedBody(response: Response): string | undefined {
  return response.bodyUsed ? undefined : bufferedBodies.get(response);
}

function jsonResponse(status: number, body: string, head = false): Response {
  const response = new Response(head ? null : body, { status, headers: JSON_HEADERS });
  if (!head) bufferedBodies.set(response, body);
  return response;
}

function outcomeJson(outcome: CommandOutcome | GatewayError, encoding: ResponseEncoding): string {
  if (outcome instanceof GatewayError) return errorJson(outcome.message);
  if ("error" in outcome) return errorJson(outcome.error.message);
  return resultJson(outcome.reply, encoding);
}

/**
 * Creates the gateway. Connections to Redis open lazily, on a service's first request.
 *
 * @example
 * const services = await loadGatewayServices(config, "./.cacheplane/secrets");
 * const gateway = createGateway({ services, tokens: { registryFile: tokenRegistryPath("./.cacheplane/secrets") } });
 * const response = await gateway.fetch(new Request("http://localhost/get/orders:1", { headers: { authorization: `Bearer ${token}` } }));
 */
export function createGateway(options: GatewayOptions): Gateway {
  const timeoutMs = options.timeoutMs ?? DEFAULT_TIMEOUT_MS;
  const maxBodyBytes = options.limits?.maxBodyBytes ?? DEFAULT_MAX_BODY_BYTES;
  const maxPipeline = options.limits?.maxPipelineCommands ?? DEFAULT_MAX_PIPELINE_COMMANDS;
  const basePath = (options.basePath ?? "").replace(/\/+$/, "");
  const logger = options.logger ?? defaultLogger;
  const redactor = new Redactor();
  const verifier = new TokenVerifier(options.tokens, options.now);
  const states = new Map<string, ServiceState>();
  const scripts = new ScriptCompat();
  let closed = false;

  const log = (entry: GatewayLogEntry) => {
    try {
      logger({
        ...entry,
        ...(entry.message !== undefined ? { message: redactor.redact(entry.message) } : {}),
      });
    } catch {
      // A failing logger must not fail requests.
    }
  };

  for (const service of options.services) {
    if (states.has(service.name)) throw new Error(`Service "${service.name}" is listed twice`);
    redactor.add(service.secret.password, service.secret.previousPassword);
    const connection = new ServiceConnection(
      service,
      {
        timeoutMs,
        ...(options.tls ? { tls: options.tls } : {}),
        ...(options.redisOptions ? { redisOptions: options.redisOptions } : {}),
      },
      (error) => log({ level: "warn", event: "redis", service: service.name, message: error.message }),
    );
    const hub = new SubscriptionHub(
      connection,
      {
        maxStreams: options.limits?.maxSubscriptionsPerService ?? DEFAULT_MAX_SUBSCRIPTIONS,
        heartbeatMs: options.heartbeatMs ?? DEFAULT_HEARTBEAT_MS,
      },
      timeoutMs,
    );
    states.set(service.name, { service, connection, hub });
  }

  async function authenticate(
    request: Request,
    url: URL,
    info: RequestLog,
  ): Promise<[TokenIdentity, ServiceState]> {
    const identity = await verifier.verify(bearerToken(request, url));
    const state = identity ? states.get(identity.service) : undefined;
    if (!identity || !state) throw unauthorized();
    const downgrade = request.headers.get(READ_ONLY_HEADER);
    const kind = downgrade !== null && /^(1|true|yes)$/i.test(downgrade.trim()) ? "read-only" : identity.kind;
    info.service = identity.service;
    info.tokenKind = kind;
    return [{ service: identity.service, kind }, state];
  }

  async function execute(
    route: Route,
    request: Request,
    url: URL,
    identity: TokenIdentity,
    state: ServiceState,
    info: RequestLog,
  ): Promise<Response> {
    const method = request.method.toUpperCase();
    const head = method === "HEAD";
    const encoding = responseEncoding(request);
    const deadline = Date.now() + timeoutMs;
    const { connection } = state;
    const redis = <T>(pending: Promise<T>): Promise<T> =>
      pending.catch((error: unknown) => {
        throw toGatewayError(error, timeoutMs);
      });

    if (route.type === "subscribe") {
      const prefixOk = route.names.every((name) => name.length > 0 && patternInKeyspace(name, state.service));
      if (!prefixOk) {
        throw forbidden(`channels must start with "${state.service.keyspace}:" (the service's keyspace)`);
      }
      info.commands = [route.kind === "channel" ? "subscribe" : "psubscribe"];
      const stream = await state.hub.open(route.kind, route.names, deadline);
      return new Response(stream, {
        status: 200,
        headers: {
          "content-type": "text/event-stream",
          "cache-control": "no-cache, no-transform",
          "x-accel-buffering": "no",
          "x-content-type-options": "nosniff",
        },
      });
    }

    // Parse and validate first: a malformed request is a 4xx even while Redis is down.
    const writes = method === "POST" || method === "PUT";
    const body = writes ? await readBody(request, maxBodyBytes) : Buffer.alloc(0);
    const policy = async () => ({
      service: state.service,
      kind: identity.kind,
      table: await redis(connection.commandTable(deadline)),
    });

    if (route.type === "command" || route.type === "path-command") {
      let args: CommandArg[];
      if (route.type === "command") {
        if (!writes)
          throw badRequest('send a command: POST a JSON array such as ["GET", "key"], or GET /get/<key>');
        args = parseJsonCommand(body);
      } else {
        args = pathCommand(route.segments, body, url.searchParams);
      }
      info.commands = [commandName(args)];
      const denied = checkCommand(args, await policy());
      if (denied) throw denied;
      const reply = await redis(connection.call(scripts.adapt(args), deadline));
      return jsonResponse(200, resultJson(reply, encoding), head);
    }

    if (!writes) throw badRequest(`POST a JSON array of commands to /${route.type}`);
    const commands = parseJsonCommands(body, maxPipeline);
    info.commands = commands.map(commandName);
    const context = await policy();
    const verdicts = commands.map((args) => checkCommand(args, context));

    if (route.type === "multi-exec") {
      const firstDenied = verdicts.findIndex((v) => v !== undefined);
      if (firstDenied >= 0) {
        const verdict = verdicts[firstDenied]!;
        throw new GatewayError(
          verdict.status,
          `${verdict.message} (command ${firstDenied + 1}; transaction not run)`,
        );
      }
      const outcomes = await redis(
        connection.transaction(
          commands.map((c) => scripts.adapt(c)),
          deadline,
        ),
      );
      return jsonResponse(200, `[${outcomes.map((o) => outcomeJson(o, encoding)).join(",")}]`, head);
    }

    // Pipeline: denied commands get their own error and never reach Redis; the others run in order.
    const allowed = commands.filter((_, i) => verdicts[i] === undefined).map((c) => scripts.adapt(c));
    const outcomes = allowed.length > 0 ? await redis(connection.pipeline(allowed, deadline)) : [];
    let next = 0;
    const items = verdicts.map((verdict) => outcomeJson(verdict ?? outcomes[next++]!, encoding));
    return jsonResponse(200, `[${items.join(",")}]`, head);
  }

  async function handle(request: Request, info: RequestLog): Promise<Response> {
    if (closed) throw new GatewayError(503, "ERR gateway is closing");
    const url = new URL(request.url);
    let pathname = url.pathname;
    if (basePath !== "") {
      if (pathname !== basePath && !pathname.startsWith(`${basePath}/`)) {
        return jsonResponse(404, errorJson(`ERR not found; the gateway is mounted at ${basePath}/`));
      }
      pathname = pathname.slice(basePath.length) || "/";
    }
    const method = request.method.toUpperCase();
    if (method === "OPTIONS") {
      info.route = "preflight";
      return options.cors
        ? preflight(options.cors, request)
        : jsonResponse(405, errorJson("ERR method not allowed"));
    }
    if (!ALLOWED_METHODS.has(method)) {
      const response = jsonResponse(405, errorJson(`ERR method ${method.slice(0, 16)} not allowed`));
      response.headers.set("allow", "GET, HEAD, POST, PUT");
      return response;
    }
    const route = routeOf(pathname);
    info.route = route.type;
    if (route.type === "console") {
      if (options.console === false || (method !== "GET" && method !== "HEAD")) {
        return jsonResponse(404, errorJson("ERR not found"));
      }
      try {
        return await consoleResponse(route.file, pathname, method === "HEAD");
      } catch {
        return jsonResponse(404, errorJson("ERR the console files are not part of this deployment"));
      }
    }
    const [identity, state] = await authenticate(request, url, info);
    return execute(route, request, url, identity, state, info);
  }

  return {
    services: [...states.keys()],

    async fetch(request: Request): Promise<Response> {
      const started = performance.now();
      const info: RequestLog = {};
      let response: Response;
      let message: string | undefined;
      const token = bearerToken(request, new URL(request.url, "http://gateway.invalid"));
      try {
        response = await handle(request, info);
      } catch (error) {
        let failure: GatewayError;
        if (error instanceof GatewayError) failure = error;
        else {
          failure = new GatewayError(500, "ERR internal gateway error");
          message = error instanceof Error ? `${error.name}: ${error.message}` : String(error);
        }
        let text = redactor.redact(failure.message);
        if (token && token.length >= 8) text = text.split(token).join("***");
        response = jsonResponse(failure.status, errorJson(text), request.method.toUpperCase() === "HEAD");
        if (failure.status === 401) response.headers.set("www-authenticate", 'Bearer realm="cacheplane"');
        message ??= failure.status >= 500 ? text : undefined;
      }
      applyCors(response.headers, options.cors, request.headers.get("origin"));
      const status = response.status;
      log({
        level: status >= 500 && status !== 503 ? "error" : status >= 500 ? "warn" : "info",
        event: "request",
        method: request.method.toUpperCase().slice(0, 16),
        status,
        durationMs: Math.round((performance.now() - started) * 1000) / 1000,
        ...(info.route ? { route: info.route } : {}),
        ...(info.service ? { service: info.service } : {}),
        ...(info.tokenKind ? { tokenKind: info.tokenKind } : {}),
        ...(info.commands ? { commands: info.commands.slice(0, 20) } : {}),
        ...(message ? { message } : {}),
      });
      return response;
    },

    async close(): Promise<void> {
      closed = true;
      for (const state of states.values()) state.hub.close();
      await Promise.allSettled([...states.values()].map((s) => s.connection.close()));
    },
  };
}
