/**
 * The gateway: one handler core speaking Upstash's REST protocol (`GatewayRequest` ->
 * `GatewayResponse`), offered as a Web-standard `fetch(request) -> Response`, with adapters for
 * Node's HTTP server (which calls the core directly, without Web `Request`/`Response` objects),
 * Lambda and AppSync around it.
 *
 * Per request: route -> token (constant-time hash check) -> the token's service and kind -> policy
 * (before Redis) -> the service's own Redis connection (its ACL is the final guard) -> Upstash JSON.
 * With plain tokens keys are passed through unchanged: Upstash clients send full keys
 * (`<keyspace>:...`), and the service's ACL rejects keys outside its keyspace. Namespaced tokens see
 * the keyspace as a database of its own (namespaced-execution.ts); that branch is taken once per
 * request, after the token is known, and costs plain tokens nothing.
 */
import { type CommandArg, checkCommand, type PolicyContext, patternInKeyspace } from "./command-policy.js";
import { consoleResponse } from "./console-assets.js";
import { applyCors, preflight } from "./cors.js";
import { badRequest, forbidden, GatewayError, RETRY_AFTER_SECONDS, unauthorized } from "./errors.js";
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
import { globMatch } from "./glob-match.js";
import type { GatewayRequest, GatewayResponse } from "./handler-types.js";
import { KeyspaceEnumerator } from "./keyspace-enumeration.js";
import { Namespace } from "./namespace.js";
import {
  type NamespacedContext,
  pipelineNamespaced,
  prepareTransaction,
  runNamespaced,
} from "./namespaced-execution.js";
import { OperatorView } from "./operator-view/view.js";
import { Redactor } from "./redaction.js";
import { type CommandOutcome, ServiceConnection } from "./redis-connection.js";
import { toGatewayError } from "./redis-errors.js";
import { errorJson, type ResponseEncoding, resultJson } from "./reply-encoding.js";
import { readBody } from "./request-body.js";
import { parseJsonCommand, parseJsonCommands, pathCommand, type Route, routeOf } from "./request-parsing.js";
import { resp2Error, resp2Reply } from "./resp2-encoding.js";
import { ScriptCompat } from "./script-compat.js";
import type { GatewayService } from "./services.js";
import { SubscriptionHub } from "./subscriptions.js";
import { SYNC_TOKEN_HEADER, SyncTokenClock } from "./sync-token.js";
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
/** Response header of namespaced tokens' answers: the keyspace their names are relative to. */
export const NAMESPACE_HEADER = "cacheplane-namespace";

const ALLOWED_METHODS = new Set(["GET", "HEAD", "POST", "PUT"]);
const BEARER = /^\s*bearer\s+(\S+)\s*$/i;
const COMMAND_NAME = /^[A-Za-z][A-Za-z0-9_.-]{0,63}$/;
const EMPTY_BODY = Buffer.alloc(0);

interface ServiceState {
  service: GatewayService;
  /** The service's keyspace as a database (namespaced tokens). */
  namespace: Namespace;
  connection: ServiceConnection;
  hub: SubscriptionHub;
  /** This service's script SHAs (one map per service: one service's EVALs never evict another's). */
  scripts: ScriptCompat;
  /** Rejection handler of `connection.call`: notes the failure, throws the HTTP error. */
  callFailed: (error: unknown) => never;
}

interface RequestLog {
  route?: string;
  service?: string;
  tokenKind?: string;
  commands?: string[];
  /** The answer is RESP2 bytes (`Upstash-Response-Format: resp2`), errors included. */
  resp2?: boolean;
}

/** The handler core of a gateway: one request in, one answer out (errors included). */
export type GatewayHandler = (request: GatewayRequest) => Promise<GatewayResponse>;

/** Handler cores of the gateways `createGateway` made, for adapters that skip `fetch`. */
const handlers = new WeakMap<Gateway, GatewayHandler>();

/** The handler core behind `gateway` when `createGateway` made it (else undefined: use `fetch`). */
export function gatewayHandler(gateway: Gateway): GatewayHandler | undefined {
  return handlers.get(gateway);
}

function bearerToken(request: GatewayRequest): string | undefined {
  const header = request.header("authorization");
  if (header !== null) return BEARER.exec(header)?.[1];
  return request.url.searchParams.get("_token") ?? undefined;
}

function commandName(args: readonly CommandArg[]): string {
  const first = args[0];
  const name = typeof first === "string" ? first : (first?.toString("utf8") ?? "");
  return COMMAND_NAME.test(name) ? name.toLowerCase() : "(invalid)";
}

/**
 * How strings are encoded in JSON answers, and whether the answer is RESP2 bytes instead
 * (`Upstash-Response-Format: resp2`, not with base64, as on Upstash). Notes RESP2 in `info`, so that
 * errors are answered in RESP2 too.
 */
function responseEncoding(request: GatewayRequest, info: RequestLog): ResponseEncoding {
  const base64 = request.header("upstash-encoding")?.toLowerCase() === "base64";
  const format = request.header("upstash-response-format");
  if (format !== null) {
    const lowered = format.trim().toLowerCase();
    info.resp2 = false; // until the format is known to be valid, errors are JSON
    if (lowered === "resp2") {
      if (base64)
        throw badRequest("Upstash-Encoding base64 cannot be combined with Upstash-Response-Format resp2");
      info.resp2 = true;
    } else if (lowered !== "json") {
      throw badRequest("Upstash-Response-Format must be json or resp2");
    }
  }
  return base64 ? "base64" : "utf8";
}

function respResponse(status: number, body: Buffer, head = false): GatewayResponse {
  return {
    status,
    headers: {
      "cache-control": "no-store",
      "content-type": "application/octet-stream",
      "x-content-type-options": "nosniff",
    },
    body: head ? null : body,
  };
}

/** Text of JSON responses built here, so the Node adapter can write it without reading a stream. */
const bufferedBodies = new WeakMap<Response, string>();

/** The body text of a JSON response created by the gateway (unread), if it is one. */
export function bufferedBody(response: Response): string | undefined {
  return response.bodyUsed ? undefined : bufferedBodies.get(response);
}

function jsonResponse(status: number, body: string, head = false): GatewayResponse {
  return {
    status,
    headers: {
      "cache-control": "no-store",
      "content-type": "application/json",
      "x-content-type-options": "nosniff",
    },
    body: head ? null : body,
  };
}

/** The Web `Response` for an answer of the core. */
function toWebResponse(answer: GatewayResponse): Response {
  const { body } = answer;
  const response = new Response(
    body === null || typeof body === "string" || body instanceof ReadableStream ? body : new Uint8Array(body),
    { status: answer.status, headers: answer.headers },
  );
  if (typeof body === "string") bufferedBodies.set(response, body);
  return response;
}

/** The core's view of a Web `Request`. */
function fromWebRequest(request: Request): GatewayRequest {
  return {
    method: request.method,
    url: new URL(request.url),
    header: (name) => request.headers.get(name),
    body: (maxBytes) => readBody(request, maxBytes),
  };
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
  const syncTokens = new SyncTokenClock();
  let closed = false;

  const log = (entry: GatewayLogEntry) => {
    try {
      if (entry.message !== undefined) entry.message = redactor.redact(entry.message);
      logger(entry);
    } catch {
      // A failing logger must not fail requests.
    }
  };

  // The operator view (`/operator/`, admin token only) and the traffic counters it shows.
  const operator = options.operator
    ? new OperatorView(
        options.services,
        options.tokens,
        options.operator,
        async (token) => (await verifier.verify(token)) !== undefined,
        (error) => log({ level: "warn", event: "operator", message: error.message }),
        options.now,
      )
    : undefined;
  const traffic = operator?.traffic;
  for (const url of options.operator?.admin.urls ?? []) {
    try {
      redactor.add(decodeURIComponent(new URL(url).password));
    } catch {
      // not a URL: the sampler reports it (without repeating it)
    }
  }

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
    const callFailed = (error: unknown): never => {
      connection.noteFailure(error);
      throw toGatewayError(error, timeoutMs);
    };
    states.set(service.name, {
      service,
      namespace: new Namespace(service.keyspace),
      connection,
      hub,
      scripts: new ScriptCompat(),
      callFailed,
    });
  }

  // The platform's scanner identity: SCAN only, always with MATCH <keyspace>:* (namespaced tokens).
  let scannerConnection: ServiceConnection | undefined;
  let enumerator: KeyspaceEnumerator | undefined;
  if (options.scanner) {
    const scanner = options.scanner;
    redactor.add(scanner.secret.password, scanner.secret.previousPassword);
    scannerConnection = new ServiceConnection(
      {
        name: "(scanner)",
        keyspace: "",
        sharedKeyspaces: [],
        secret: scanner.secret,
        ...(scanner.reloadSecret ? { reloadSecret: scanner.reloadSecret } : {}),
      },
      {
        timeoutMs,
        ...(options.tls ? { tls: options.tls } : {}),
        ...(options.redisOptions ? { redisOptions: options.redisOptions } : {}),
      },
      (error) => log({ level: "warn", event: "redis", service: "(scanner)", message: error.message }),
    );
    enumerator = new KeyspaceEnumerator(scannerConnection, timeoutMs);
  }

  const redisFailure = (error: unknown): never => {
    throw toGatewayError(error, timeoutMs);
  };
  /** `pending` with ioredis and connection errors turned into the HTTP error to answer with. */
  const redis = <T>(pending: Promise<T>): Promise<T> => pending.catch(redisFailure);

  /** The service of a verified token; throws 401 when there is none. */
  function admit(
    request: GatewayRequest,
    identity: Readonly<TokenIdentity> | undefined,
    info: RequestLog,
  ): [TokenIdentity, ServiceState] {
    const state = identity ? states.get(identity.service) : undefined;
    if (!identity || !state) throw unauthorized();
    const downgrade = request.header(READ_ONLY_HEADER);
    const kind = downgrade !== null && /^(1|true|yes)$/i.test(downgrade.trim()) ? "read-only" : identity.kind;
    info.service = identity.service;
    info.tokenKind = identity.namespaced ? `${kind} namespaced` : kind;
    if (kind === identity.kind) return [identity, state];
    return [
      identity.namespaced
        ? { service: identity.service, kind, namespaced: true }
        : { service: identity.service, kind },
      state,
    ];
  }

  /** The policy context; waits for the connection and its command table only when not ready yet. */
  async function policyContext(
    state: ServiceState,
    kind: TokenIdentity["kind"],
    deadline: number,
  ): Promise<PolicyContext> {
    const table = state.connection.readyTable() ?? (await redis(state.connection.commandTable(deadline)));
    return { service: state.service, kind, table };
  }

  /** The body of a command route, parsed (a 4xx for a malformed one, before Redis is asked). */
  async function commandsOf(
    route: Exclude<Route, { type: "subscribe" | "console" }>,
    request: GatewayRequest,
    method: string,
  ): Promise<CommandArg[][]> {
    const writes = method === "POST" || method === "PUT";
    let body = writes ? request.body(maxBodyBytes) : EMPTY_BODY;
    if (!Buffer.isBuffer(body)) body = await body;
    if (route.type === "command") {
      if (!writes)
        throw badRequest('send a command: POST a JSON array such as ["GET", "key"], or GET /get/<key>');
      return [parseJsonCommand(body)];
    }
    if (route.type === "path-command") {
      const { url } = request;
      return [pathCommand(route.segments, body, url.search === "" ? undefined : url.searchParams)];
    }
    if (!writes) throw badRequest(`POST a JSON array of commands to /${route.type}`);
    return parseJsonCommands(body, maxPipeline);
  }

  /** A request of a namespaced token: the keyspace seen as a database (namespaced-execution.ts). */
  async function executeNamespaced(
    route: Route,
    request: GatewayRequest,
    method: string,
    identity: TokenIdentity,
    state: ServiceState,
    info: RequestLog,
    encoding: ResponseEncoding,
    deadline: number,
  ): Promise<GatewayResponse> {
    const ns = state.namespace;
    if (route.type === "subscribe") {
      if (route.names.some((name) => name.length === 0)) throw badRequest("empty channel or pattern name");
      info.commands = [route.kind === "channel" ? "subscribe" : "psubscribe"];
      const display = (name: string) => ns.strip(name);
      const stream =
        route.kind === "channel"
          ? await state.hub.open(
              "channel",
              route.names.map((name) => ns.prefix + name),
              deadline,
              {
                shown: route.names,
                display,
              },
            )
          : await state.hub.open("pattern", [ns.prefix + "*"], deadline, {
              shown: route.names,
              display,
              patterns: route.names.map((pattern) => {
                // Byte strings: `?` is one byte, as in Redis.
                const bytes = Buffer.from(pattern, "utf8").toString("latin1");
                return {
                  pattern,
                  matches: (channel: string) =>
                    globMatch(bytes, Buffer.from(channel, "utf8").toString("latin1")),
                };
              }),
            });
      return {
        status: 200,
        headers: {
          "cache-control": "no-cache, no-transform",
          "content-type": "text/event-stream",
          "x-accel-buffering": "no",
          "x-content-type-options": "nosniff",
        },
        body: stream,
      };
    }
    if (route.type === "console") throw badRequest("not a command route");
    const answer = await executeNamespacedCommands(
      route,
      request,
      method,
      identity,
      state,
      info,
      encoding,
      deadline,
    );
    // Tells the console (and curious clients) that names are relative to this keyspace.
    answer.headers[NAMESPACE_HEADER] = ns.keyspace;
    return answer;
  }

  async function executeNamespacedCommands(
    route: Exclude<Route, { type: "subscribe" | "console" }>,
    request: GatewayRequest,
    method: string,
    identity: TokenIdentity,
    state: ServiceState,
    info: RequestLog,
    encoding: ResponseEncoding,
    deadline: number,
  ): Promise<GatewayResponse> {
    const head = method === "HEAD";
    const ns = state.namespace;
    const commands = await commandsOf(route, request, method);
    info.commands = commands.map(commandName);
    const ctx: NamespacedContext = {
      policy: await policyContext(state, identity.kind, deadline),
      namespace: ns,
      connection: state.connection,
      scripts: state.scripts,
      enumerator,
      deadline,
      timeoutMs,
    };
    if (route.type === "command" || route.type === "path-command") {
      const args = commands[0]!;
      const reply = await runNamespaced(args, ctx, state.callFailed);
      if (info.resp2) return respResponse(200, resp2Reply(reply, args), head);
      return jsonResponse(200, resultJson(reply, encoding), head);
    }
    if (route.type === "multi-exec") {
      info.resp2 = false; // transactions answer in JSON, as on Upstash
      const prepared = prepareTransaction(commands, ctx);
      if (prepared instanceof GatewayError) throw prepared;
      const outcomes = await redis(state.connection.transaction(prepared, deadline));
      const items = outcomes.map((o, i) =>
        "error" in o ? errorJson(o.error.message) : resultJson(ns.reply(commands[i]!, o.reply), encoding),
      );
      return jsonResponse(200, `[${items.join(",")}]`, head);
    }
    const results = await redis(pipelineNamespaced(commands, ctx));
    if (info.resp2) {
      const parts = results.map((r, i) => {
        if (r instanceof GatewayError) return resp2Error(r.message);
        return "error" in r ? resp2Error(r.error.message) : resp2Reply(r.reply, commands[i]!);
      });
      return respResponse(200, Buffer.concat(parts), head);
    }
    return jsonResponse(200, `[${results.map((r) => outcomeJson(r, encoding)).join(",")}]`, head);
  }

  /**
   * Runs a request of a verified token. A single command of a plain token (the common request) takes
   * {@link executeCommand}: no async function, one promise from Redis's reply to the answer.
   */
  function execute(
    route: Route,
    request: GatewayRequest,
    method: string,
    identity: TokenIdentity,
    state: ServiceState,
    info: RequestLog,
  ): Promise<GatewayResponse> {
    const encoding = responseEncoding(request, info);
    const deadline = Date.now() + timeoutMs;
    if (identity.namespaced) {
      return executeNamespaced(route, request, method, identity, state, info, encoding, deadline);
    }
    if (route.type === "command" || route.type === "path-command") {
      const writes = method === "POST" || method === "PUT";
      const body = writes ? request.body(maxBodyBytes) : EMPTY_BODY;
      if (Buffer.isBuffer(body)) {
        return executeCommand(route, request, method, identity, state, info, encoding, deadline, body);
      }
      return body.then((read) =>
        executeCommand(route, request, method, identity, state, info, encoding, deadline, read),
      );
    }
    return executeBatch(route, request, method, identity, state, info, encoding, deadline);
  }

  /** One command of a plain token (`POST /` with a JSON array, or a path command). */
  function executeCommand(
    route: Extract<Route, { type: "command" | "path-command" }>,
    request: GatewayRequest,
    method: string,
    identity: TokenIdentity,
    state: ServiceState,
    info: RequestLog,
    encoding: ResponseEncoding,
    deadline: number,
    body: Buffer,
  ): Promise<GatewayResponse> {
    // Parse and validate first: a malformed request is a 4xx even while Redis is down.
    let args: CommandArg[];
    if (route.type === "command") {
      if (method !== "POST" && method !== "PUT")
        throw badRequest('send a command: POST a JSON array such as ["GET", "key"], or GET /get/<key>');
      args = parseJsonCommand(body);
    } else {
      const { url } = request;
      args = pathCommand(route.segments, body, url.search === "" ? undefined : url.searchParams);
    }
    info.commands = [commandName(args)];
    const { connection } = state;
    // The command table without waiting once the connection is up; else wait for it (or 503).
    const table = connection.readyTable();
    if (table === undefined) {
      return policyContext(state, identity.kind, deadline).then((context) =>
        runCommand(args, context, state, info, encoding, method === "HEAD", deadline),
      );
    }
    return runCommand(
      args,
      { service: state.service, kind: identity.kind, table },
      state,
      info,
      encoding,
      method === "HEAD",
      deadline,
    );
  }

  /** The policy verdict, then the command and its answer. */
  function runCommand(
    args: CommandArg[],
    context: PolicyContext,
    state: ServiceState,
    info: RequestLog,
    encoding: ResponseEncoding,
    head: boolean,
    deadline: number,
  ): Promise<GatewayResponse> {
    const denied = checkCommand(args, context);
    if (denied) throw denied;
    return state.connection.call(state.scripts.adapt(args), deadline).then((reply) => {
      traffic?.reply(state.service.name, info.commands![0]!, reply);
      if (info.resp2) return respResponse(200, resp2Reply(reply, args), head);
      return jsonResponse(200, resultJson(reply, encoding), head);
    }, state.callFailed);
  }

  /** Subscriptions, pipelines and transactions of a plain token. */
  async function executeBatch(
    route: Exclude<Route, { type: "command" | "path-command" }>,
    request: GatewayRequest,
    method: string,
    identity: TokenIdentity,
    state: ServiceState,
    info: RequestLog,
    encoding: ResponseEncoding,
    deadline: number,
  ): Promise<GatewayResponse> {
    const head = method === "HEAD";
    const { connection, scripts } = state;

    if (route.type === "subscribe") {
      const prefixOk = route.names.every((name) => name.length > 0 && patternInKeyspace(name, state.service));
      if (!prefixOk) {
        throw forbidden(`channels must start with "${state.service.keyspace}:" (the service's keyspace)`);
      }
      info.commands = [route.kind === "channel" ? "subscribe" : "psubscribe"];
      const stream = await state.hub.open(route.kind, route.names, deadline);
      return {
        status: 200,
        headers: {
          "cache-control": "no-cache, no-transform",
          "content-type": "text/event-stream",
          "x-accel-buffering": "no",
          "x-content-type-options": "nosniff",
        },
        body: stream,
      };
    }

    // Parse and validate first: a malformed request is a 4xx even while Redis is down.
    const writes = method === "POST" || method === "PUT";
    let body = writes ? request.body(maxBodyBytes) : EMPTY_BODY;
    if (!Buffer.isBuffer(body)) body = await body;

    if (!writes) throw badRequest(`POST a JSON array of commands to /${route.type}`);
    const commands = parseJsonCommands(body, maxPipeline);
    info.commands = commands.map(commandName);
    const context = await policyContext(state, identity.kind, deadline);
    const verdicts = commands.map((args) => checkCommand(args, context));

    if (route.type === "multi-exec") {
      info.resp2 = false; // transactions answer in JSON, as on Upstash
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
      if (traffic) {
        outcomes.forEach((o, i) => {
          if ("reply" in o) traffic.reply(state.service.name, info.commands![i]!, o.reply);
        });
      }
      return jsonResponse(200, `[${outcomes.map((o) => outcomeJson(o, encoding)).join(",")}]`, head);
    }

    // Pipeline: denied commands get their own error and never reach Redis; the others run in order.
    const allowed = commands.filter((_, i) => verdicts[i] === undefined).map((c) => scripts.adapt(c));
    const outcomes = allowed.length > 0 ? await redis(connection.pipeline(allowed, deadline)) : [];
    let next = 0;
    if (info.resp2) {
      const parts = verdicts.map((verdict, i) => {
        if (verdict) return resp2Error(verdict.message);
        const outcome = outcomes[next++]!;
        if ("error" in outcome) return resp2Error(outcome.error.message);
        traffic?.reply(state.service.name, info.commands![i]!, outcome.reply);
        return resp2Reply(outcome.reply, commands[i]!);
      });
      return respResponse(200, Buffer.concat(parts), head);
    }
    const items = verdicts.map((verdict, i) => {
      if (verdict) return outcomeJson(verdict, encoding);
      const outcome = outcomes[next++]!;
      if (traffic && "reply" in outcome) traffic.reply(state.service.name, info.commands![i]!, outcome.reply);
      return outcomeJson(outcome, encoding);
    });
    return jsonResponse(200, `[${items.join(",")}]`, head);
  }

  /** Routes and authenticates; returns synchronously when nothing needs waiting for. */
  function handle(
    request: GatewayRequest,
    method: string,
    token: string | undefined,
    info: RequestLog,
  ): GatewayResponse | Promise<GatewayResponse> {
    if (closed) throw new GatewayError(503, "ERR gateway is closing");
    let pathname = request.url.pathname;
    if (basePath !== "") {
      if (pathname !== basePath && !pathname.startsWith(`${basePath}/`)) {
        return jsonResponse(404, errorJson(`ERR not found; the gateway is mounted at ${basePath}/`));
      }
      pathname = pathname.slice(basePath.length) || "/";
    }
    if (method === "OPTIONS") {
      info.route = "preflight";
      return options.cors
        ? preflight(options.cors, (name) => request.header(name))
        : jsonResponse(405, errorJson("ERR method not allowed"));
    }
    if (!ALLOWED_METHODS.has(method)) {
      const response = jsonResponse(405, errorJson(`ERR method ${method.slice(0, 16)} not allowed`));
      response.headers.allow = "GET, HEAD, POST, PUT";
      return response;
    }
    const route = routeOf(pathname);
    info.route = route.type;
    if (route.type === "console") {
      if (options.console === false || (method !== "GET" && method !== "HEAD")) {
        return jsonResponse(404, errorJson("ERR not found"));
      }
      return consoleResponse(route.file, pathname, method === "HEAD").catch(() =>
        jsonResponse(404, errorJson("ERR the console files are not part of this deployment")),
      );
    }
    if (route.type === "operator") {
      if (!operator) {
        return jsonResponse(
          404,
          errorJson("ERR not found; the operator view is off (start the gateway with an admin connection)"),
        );
      }
      return operator.respond(request, method, route.file, pathname);
    }
    // No await when the registry needs no re-read: the common case costs one hash and a map lookup.
    if (verifier.isCurrent()) {
      const [identity, state] = admit(request, verifier.check(token), info);
      return execute(route, request, method, identity, state, info);
    }
    return verifier.verify(token).then((verified) => {
      const [identity, state] = admit(request, verified, info);
      return execute(route, request, method, identity, state, info);
    });
  }

  /** The answer to a request that failed with `error`, and the message to log (500s). */
  function failureAnswer(
    error: unknown,
    request: GatewayRequest,
    method: string,
    token: string | undefined,
    info: RequestLog,
  ): [GatewayResponse, string | undefined] {
    let message: string | undefined;
    let failure: GatewayError;
    if (error instanceof GatewayError) failure = error;
    else {
      failure = new GatewayError(500, "ERR internal gateway error");
      message = error instanceof Error ? `${error.name}: ${error.message}` : String(error);
    }
    let text = redactor.redact(failure.message);
    if (token && token.length >= 8) text = text.split(token).join("***");
    // A request refused before its format was read (401, 405, ...) still gets the format it asked for.
    const resp2 =
      info.resp2 ??
      (request.header("upstash-response-format")?.trim().toLowerCase() === "resp2" &&
        request.header("upstash-encoding")?.toLowerCase() !== "base64");
    const response = resp2
      ? respResponse(failure.status, resp2Error(text), method === "HEAD")
      : jsonResponse(failure.status, errorJson(text), method === "HEAD");
    if (failure.status === 401) response.headers["www-authenticate"] = 'Bearer realm="cacheplane"';
    if (failure.status === 503) response.headers["retry-after"] = String(RETRY_AFTER_SECONDS);
    message ??= failure.status >= 500 ? text : undefined;
    return [response, message];
  }

  /** What every answer gets once it is known: sync token, CORS, traffic counters, the log line. */
  function finish(
    request: GatewayRequest,
    method: string,
    info: RequestLog,
    started: number,
    response: GatewayResponse,
    message: string | undefined,
  ): GatewayResponse {
    // Read-your-writes (see sync-token.ts): only for clients that send the header.
    const sync = request.header(SYNC_TOKEN_HEADER);
    if (sync !== null) response.headers[SYNC_TOKEN_HEADER] = syncTokens.next(sync);
    applyCors(response.headers, options.cors, request.header("origin"));
    const status = response.status;
    if (traffic !== undefined && info.service !== undefined) traffic.request(info.service, status);
    const level = status >= 500 && status !== 503 ? "error" : status >= 500 ? "warn" : "info";
    // The default logger keeps errors only: no entry to build for the others.
    if (logger === defaultLogger && level !== "error") return response;
    const entry: GatewayLogEntry = {
      level,
      event: "request",
      method: method.slice(0, 16),
      status,
      durationMs: Math.round((performance.now() - started) * 1000) / 1000,
    };
    if (info.route) entry.route = info.route;
    if (info.service) entry.service = info.service;
    if (info.tokenKind) entry.tokenKind = info.tokenKind;
    if (info.commands)
      entry.commands = info.commands.length > 20 ? info.commands.slice(0, 20) : info.commands;
    if (message) entry.message = message;
    log(entry);
    return response;
  }

  /**
   * The handler core: every adapter ends here. Never rejects (errors become answers). Not an async
   * function: the answer is one `then` away from Redis's reply.
   */
  function respond(request: GatewayRequest): Promise<GatewayResponse> {
    const started = performance.now();
    const info: RequestLog = {};
    const method = request.method.toUpperCase();
    let token: string | undefined;
    let pending: GatewayResponse | Promise<GatewayResponse>;
    try {
      token = bearerToken(request);
      pending = handle(request, method, token, info);
    } catch (error) {
      const [response, message] = failureAnswer(error, request, method, token, info);
      return Promise.resolve(finish(request, method, info, started, response, message));
    }
    if (!(pending instanceof Promise)) {
      return Promise.resolve(finish(request, method, info, started, pending, undefined));
    }
    return pending.then(
      (response) => finish(request, method, info, started, response, undefined),
      (error: unknown) => {
        const [response, message] = failureAnswer(error, request, method, token, info);
        return finish(request, method, info, started, response, message);
      },
    );
  }

  const gateway: Gateway = {
    services: [...states.keys()],

    async fetch(request: Request): Promise<Response> {
      return toWebResponse(await respond(fromWebRequest(request)));
    },

    async close(): Promise<void> {
      closed = true;
      for (const state of states.values()) state.hub.close();
      await Promise.allSettled([
        ...[...states.values()].map((s) => s.connection.close()),
        ...(scannerConnection ? [scannerConnection.close()] : []),
        ...(operator ? [operator.close()] : []),
      ]);
    },
  };
  handlers.set(gateway, respond);
  return gateway;
}
