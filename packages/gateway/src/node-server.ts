/**
 * Node adapter: serves a gateway with `node:http`. `startGatewayServer` is what the CLI calls
 * (`cacheplane gateway`, `cacheplane dev`): it loads the services from a config and a secrets
 * directory, issues missing tokens, and listens on 127.0.0.1 by default.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import type { PlatformConfig, PlatformConfigInput } from "@cacheplane/core";
import { adminTokenPath, ensureAdminToken } from "./admin-token.js";
import { tooLarge } from "./errors.js";
import { bufferedBody, createGateway, type Gateway, gatewayHandler } from "./gateway.js";
import { DEFAULT_MAX_BODY_BYTES, type GatewayOptions } from "./gateway-options.js";
import type { GatewayRequest, GatewayResponse } from "./handler-types.js";
import { rememberBody } from "./request-body.js";
import { type RequestUrl, requestUrl } from "./request-target.js";
import { loadGatewayServices, loadScannerIdentity, type RedisTarget } from "./services.js";
import { ensureServiceTokens, serviceTokenPath, tokenRegistryPath } from "./tokens.js";

/** Options of {@link toNodeListener}. */
export interface NodeListenerOptions {
  /** Largest request body read from the socket; beyond it the answer is 413. @default 1048576 */
  maxBodyBytes?: number;
}

function plainError(res: ServerResponse, status: number, message: string): void {
  if (res.headersSent) {
    res.destroy();
    return;
  }
  res.writeHead(status, {
    "content-type": "application/json",
    "cache-control": "no-store",
    connection: "close",
  });
  res.end(JSON.stringify({ error: message }));
}

/**
 * Reads the request body and calls `done` once with it, with "too-large" as soon as it passes
 * `maxBytes` (the stream is then paused), or with the stream's error. Callbacks, not a Promise:
 * this runs for every request with a body.
 */
function readNodeBody(
  req: IncomingMessage,
  maxBytes: number,
  done: (result: Buffer | "too-large" | Error) => void,
): void {
  const chunks: Buffer[] = [];
  let total = 0;
  let settled = false;
  req.on("data", (chunk: Buffer) => {
    if (settled) return;
    total += chunk.length;
    if (total > maxBytes) {
      settled = true;
      req.pause();
      done("too-large");
      return;
    }
    chunks.push(chunk);
  });
  // `on`, not `once` (no wrapper per listener): `settled` makes each call count once.
  req.on("end", () => {
    if (settled) return;
    settled = true;
    done(chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks, total));
  });
  req.on("error", (error) => {
    if (settled) return;
    settled = true;
    done(error);
  });
}

const EMPTY_BODY = Buffer.alloc(0);

/**
 * The handler core's view of a `node:http` request whose body was read into a Buffer. A class, not
 * an object of closures: nothing is allocated per request beyond the instance.
 */
class NodeGatewayRequest implements GatewayRequest {
  constructor(
    readonly method: string,
    readonly url: RequestUrl,
    private readonly req: IncomingMessage,
    private readonly bytes: Buffer,
  ) {}

  /** A request header as a Web `Headers` would give it: several values joined with ", ". */
  header(name: string): string | null {
    const value = this.req.headers[name];
    if (value === undefined) return null;
    return Array.isArray(value) ? value.join(", ") : value;
  }

  body(maxBytes: number): Buffer {
    if (this.bytes.length > maxBytes) {
      throw tooLarge(`body of ${this.bytes.length} bytes exceeds the limit of ${maxBytes} bytes`);
    }
    return this.bytes;
  }
}

/** True when the header names are in ascending order (as the gateway builds most of its answers). */
function sortedKeys(headers: Record<string, string>): boolean {
  let previous = "";
  for (const key in headers) {
    if (key < previous) return false;
    previous = key;
  }
  return true;
}

/**
 * Writes an answer of the handler core: headers in sorted order (as a Web `Headers` lists them, so
 * the bytes match the `fetch` path), then the body in one write with a Content-Length, or streamed
 * (Server-Sent Events: then the returned promise settles when the stream ends).
 */
function writeAnswer(res: ServerResponse, answer: GatewayResponse): Promise<void> | undefined {
  let headers = answer.headers;
  if (!sortedKeys(headers)) {
    const sorted: Record<string, string> = {};
    for (const key of Object.keys(headers).sort()) sorted[key] = headers[key]!;
    headers = sorted;
  }
  const { body } = answer;
  if (body === null) {
    res.writeHead(answer.status, headers);
    res.end();
    return;
  }
  if (typeof body === "string") {
    headers["content-length"] = String(Buffer.byteLength(body, "utf8"));
    res.writeHead(answer.status, headers);
    res.end(body, "utf8");
    return;
  }
  if (!(body instanceof ReadableStream)) {
    headers["content-length"] = String(body.length);
    res.writeHead(answer.status, headers);
    res.end(body);
    return;
  }
  res.writeHead(answer.status, headers);
  res.flushHeaders();
  return streamBody(res, body);
}

/** Writes a stream to `res` as it comes (backpressure respected), then ends it. */
async function streamBody(res: ServerResponse, body: ReadableStream<Uint8Array>): Promise<void> {
  const reader = body.getReader();
  res.on("close", () => {
    reader.cancel().catch(() => undefined);
  });
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    if (!res.write(value))
      await new Promise<void>((resolve) => res.once("drain", resolve).once("close", resolve));
    if (res.destroyed) break;
  }
  res.end();
}

/** Answers through `gateway.fetch` (a gateway `createGateway` did not make): Web Request and Response. */
async function answerThroughFetch(
  gateway: Gateway,
  req: IncomingMessage,
  res: ServerResponse,
  method: string,
  url: RequestUrl,
  body: Buffer | undefined,
): Promise<void> {
  const headers = new Headers();
  for (const [name, value] of Object.entries(req.headers)) {
    if (value === undefined) continue;
    try {
      headers.set(name, Array.isArray(value) ? value.join(", ") : value);
    } catch {
      // A header value the Fetch API cannot represent: leave it out.
    }
  }
  const payload = body !== undefined && body.length > 0 ? body : undefined;
  const request = new Request(`http://gateway.local${url.pathname}${url.search}`, {
    method,
    headers,
    ...(payload ? { body: new Uint8Array(payload) } : {}),
  });
  if (payload) rememberBody(request, payload);
  const response = await gateway.fetch(request);
  const out: Record<string, string | string[]> = {};
  response.headers.forEach((value, name) => {
    out[name] = value;
  });
  const cookies = response.headers.getSetCookie();
  if (cookies.length > 0) out["set-cookie"] = cookies;
  if (!response.body) {
    res.writeHead(response.status, out);
    res.end();
    return;
  }
  if (!(response.headers.get("content-type") ?? "").startsWith("text/event-stream")) {
    // Buffered answers go out in one write with a Content-Length (no chunked encoding).
    const text = bufferedBody(response);
    const bytes = text !== undefined ? Buffer.from(text, "utf8") : Buffer.from(await response.arrayBuffer());
    if (text !== undefined) response.body.cancel().catch(() => undefined);
    out["content-length"] = String(bytes.length);
    res.writeHead(response.status, out);
    res.end(bytes);
    return;
  }
  res.writeHead(response.status, out);
  res.flushHeaders();
  const reader = response.body.getReader();
  res.on("close", () => {
    reader.cancel().catch(() => undefined);
  });
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    if (!res.write(value))
      await new Promise<void>((resolve) => res.once("drain", resolve).once("close", resolve));
    if (res.destroyed) break;
  }
  res.end();
}

/**
 * A `node:http` request listener for `gateway`: reads the body (up to `maxBodyBytes`) into a
 * Buffer and answers with `res.writeHead`/`res.end` (streaming Server-Sent Events). A gateway made
 * by `createGateway` is called through its handler core directly; any other `Gateway` through
 * `fetch` with Web `Request`/`Response` objects. Both give the same bytes.
 *
 * @example
 * http.createServer(toNodeListener(gateway)).listen(8080, "127.0.0.1");
 */
export function toNodeListener(
  gateway: Gateway,
  options: NodeListenerOptions = {},
): (req: IncomingMessage, res: ServerResponse) => void {
  const maxBodyBytes = options.maxBodyBytes ?? DEFAULT_MAX_BODY_BYTES;
  const handler = gatewayHandler(gateway);
  const failed = (res: ServerResponse) => plainError(res, 500, "ERR internal gateway error");

  /** Answers once the body (if any) is read. */
  function answer(
    req: IncomingMessage,
    res: ServerResponse,
    method: string,
    url: RequestUrl,
    body: Buffer | undefined,
  ) {
    if (!handler) {
      answerThroughFetch(gateway, req, res, method, url, body).catch(() => failed(res));
      return;
    }
    // The handler core directly: no Web `Request`, `Headers` or `Response` objects on the way.
    handler(new NodeGatewayRequest(method, url, req, body ?? EMPTY_BODY)).then(
      (result) => {
        try {
          writeAnswer(res, result)?.catch(() => failed(res));
        } catch {
          failed(res);
        }
      },
      () => failed(res),
    );
  }

  function serve(req: IncomingMessage, res: ServerResponse): void {
    let url: RequestUrl;
    try {
      url = requestUrl(req.url ?? "/");
    } catch {
      plainError(res, 400, "ERR invalid request target");
      return;
    }
    const method = (req.method ?? "GET").toUpperCase();
    const declared = req.headers["content-length"];
    if (declared !== undefined && /^\d+$/.test(declared) && Number(declared) > maxBodyBytes) {
      plainError(res, 413, `ERR body of ${declared} bytes exceeds the limit of ${maxBodyBytes} bytes`);
      res.once("finish", () => req.destroy()); // stop reading the body once the answer is out
      return;
    }
    if (method === "GET" || method === "HEAD") {
      answer(req, res, method, url, undefined);
      return;
    }
    readNodeBody(req, maxBodyBytes, (read) => {
      try {
        if (read === "too-large") {
          plainError(res, 413, `ERR body exceeds the limit of ${maxBodyBytes} bytes`);
          res.once("finish", () => req.destroy());
        } else if (read instanceof Error) {
          failed(res);
        } else {
          answer(req, res, method, url, read);
        }
      } catch {
        failed(res);
      }
    });
  }

  return (req, res) => {
    try {
      serve(req, res);
    } catch {
      failed(res);
    }
  };
}

/**
 * Limits of the Node HTTP server against slow and idle clients (slowloris): a client that trickles
 * its headers or body, or holds an idle connection, is cut off, and the number of open connections is
 * capped so that file descriptors never run out. Normal requests are unaffected.
 */
export interface NodeServerLimits {
  /** Time a client has to send the request line and headers; then `408` and the connection closes. @default 10000 */
  headersTimeoutMs?: number;
  /** Time a client has to send the whole request, body included; then `408`. Streams (`/subscribe`) are not cut: their request is complete. @default 30000 */
  requestTimeoutMs?: number;
  /** How long an idle keep-alive connection stays open between two requests. @default 5000 */
  keepAliveTimeoutMs?: number;
  /** Most connections open at once; a connection beyond it is closed as soon as it is accepted. @default 10000 */
  maxConnections?: number;
}

/** The defaults of {@link NodeServerLimits}. */
export const DEFAULT_NODE_SERVER_LIMITS: Readonly<Required<NodeServerLimits>> = Object.freeze({
  headersTimeoutMs: 10_000,
  requestTimeoutMs: 30_000,
  keepAliveTimeoutMs: 5_000,
  maxConnections: 10_000,
});

/** The limits with defaults filled in; throws naming the option when one is not a positive integer. */
function resolveServerLimits(limits: NodeServerLimits = {}): Required<NodeServerLimits> {
  const resolved = { ...DEFAULT_NODE_SERVER_LIMITS, ...limits };
  for (const [name, value] of Object.entries(resolved)) {
    if (!Number.isInteger(value) || value < 1) {
      throw new Error(`server.${name} must be a whole number of at least 1, got ${String(value)}`);
    }
  }
  if (resolved.headersTimeoutMs > resolved.requestTimeoutMs) {
    throw new Error(
      `server.headersTimeoutMs (${resolved.headersTimeoutMs}) must not exceed server.requestTimeoutMs (${resolved.requestTimeoutMs})`,
    );
  }
  return resolved;
}

/**
 * A `node:http` server for `listener` with {@link NodeServerLimits} applied (defaults for those not
 * given). Timeouts are checked at least once a second (Node's own default checks every 30 s).
 *
 * @example
 * createGatewayNodeServer(toNodeListener(gateway), { headersTimeoutMs: 5000 }).listen(8080, "127.0.0.1");
 */
export function createGatewayNodeServer(
  listener: (req: IncomingMessage, res: ServerResponse) => void,
  limits: NodeServerLimits = {},
): Server {
  const resolved = resolveServerLimits(limits);
  const server = createServer(
    {
      headersTimeout: resolved.headersTimeoutMs,
      requestTimeout: resolved.requestTimeoutMs,
      connectionsCheckingInterval: Math.max(50, Math.min(1000, Math.floor(resolved.headersTimeoutMs / 2))),
    },
    listener,
  );
  server.keepAliveTimeout = resolved.keepAliveTimeoutMs;
  server.maxConnections = resolved.maxConnections;
  return server;
}

/** Options of {@link startGatewayServer}. */
export interface GatewayServerOptions extends Omit<GatewayOptions, "services" | "tokens"> {
  /** The platform config (as written, or already parsed with `parseConfig`). */
  config: PlatformConfig | PlatformConfigInput;
  /** Holds `<service>.json` secrets, `<service>.token.json` tokens and `gateway-tokens.json`. */
  secretsDir: string;
  /** Interface to listen on. Keep the default unless a proxy in front needs otherwise. @default "127.0.0.1" */
  host?: string;
  /** Port; `0` picks a free one (see `url`). @default 8080 */
  port?: number;
  /** Redis to connect to instead of the secrets' host/port/tls (e.g. `redis://127.0.0.1:6380`). */
  target?: RedisTarget;
  /** Serve only these services. @default every enabled service with a secret */
  only?: readonly string[];
  /**
   * Issue tokens for services that have none yet (`<service>.token.json`), and the admin token
   * (`.gateway-admin-token.json`) when the operator view is on. @default true
   */
  issueTokens?: boolean;
  /** How often the token registry is checked for changes, ms. @default 1000 */
  tokenRefreshIntervalMs?: number;
  /** Timeouts and the connection cap of the HTTP server. @default {@link DEFAULT_NODE_SERVER_LIMITS} */
  server?: NodeServerLimits;
}

/** A listening gateway server. */
export interface GatewayServer {
  /** `http://127.0.0.1:<port>`: the Upstash REST URL clients use. */
  url: string;
  /** Service name -> path of its `<service>.token.json`. */
  tokenFiles: Record<string, string>;
  /** Path of the admin token file when the operator view is on (`<url>/operator/`). */
  adminTokenFile?: string;
  gateway: Gateway;
  server: Server;
  /** Stops listening, ends open streams and closes the Redis connections. */
  close(): Promise<void>;
}

/** What {@link issueGatewayTokens} issued: the files clients read their tokens from. */
export interface IssuedGatewayTokens {
  /** Service name -> path of its `<service>.token.json`. */
  tokenFiles: Record<string, string>;
  /** Path of the admin token file (with `operator: true`). */
  adminTokenFile?: string;
}

/**
 * Issues the tokens {@link startGatewayServer} would issue (missing `<service>.token.json` files and,
 * with `operator`, the admin token) without serving: the primary process of `cacheplane gateway
 * --workers N` does it once, then its workers start with `issueTokens: false`.
 */
export async function issueGatewayTokens(
  options: Pick<GatewayServerOptions, "config" | "secretsDir" | "target" | "only"> & { operator?: boolean },
): Promise<IssuedGatewayTokens> {
  const { secretsDir, target, only } = options;
  const services = await loadGatewayServices(options.config, secretsDir, {
    ...(target !== undefined ? { target } : {}),
    ...(only !== undefined ? { only } : {}),
  });
  const tokenFiles: Record<string, string> = {};
  for (const service of services) {
    await ensureServiceTokens(secretsDir, service.name);
    tokenFiles[service.name] = serviceTokenPath(secretsDir, service.name);
  }
  if (!options.operator) return { tokenFiles };
  return { tokenFiles, adminTokenFile: await ensureAdminToken(secretsDir) };
}

/**
 * Loads the services of `config` from `secretsDir`, issues missing tokens, and serves the gateway.
 *
 * @example
 * const server = await startGatewayServer({ config, secretsDir: ".cacheplane/secrets", port: 8080 });
 * console.log(`Upstash REST URL: ${server.url}`);
 */
export async function startGatewayServer(options: GatewayServerOptions): Promise<GatewayServer> {
  const {
    config,
    secretsDir,
    host = "127.0.0.1",
    port = 8080,
    target,
    only,
    issueTokens = true,
    tokenRefreshIntervalMs,
    server: serverLimits,
    ...gatewayOptions
  } = options;
  const limits = resolveServerLimits(serverLimits); // bad limits fail before anything starts
  const services = await loadGatewayServices(config, secretsDir, {
    ...(target !== undefined ? { target } : {}),
    ...(only !== undefined ? { only } : {}),
  });
  // The scanner identity (namespaced tokens' KEYS/SCAN/DBSIZE/FLUSHDB), when the platform has one.
  const scanner =
    gatewayOptions.scanner ??
    (await loadScannerIdentity(config, secretsDir, target !== undefined ? { target } : {}));
  const tokenFiles: Record<string, string> = {};
  for (const service of services) {
    if (issueTokens) await ensureServiceTokens(secretsDir, service.name);
    tokenFiles[service.name] = serviceTokenPath(secretsDir, service.name);
  }
  let adminTokenFile: string | undefined;
  if (gatewayOptions.operator) {
    adminTokenFile = issueTokens ? await ensureAdminToken(secretsDir) : adminTokenPath(secretsDir);
  }
  const gateway = createGateway({
    ...gatewayOptions,
    ...(scanner ? { scanner } : {}),
    services,
    tokens: {
      registryFile: tokenRegistryPath(secretsDir),
      ...(tokenRefreshIntervalMs !== undefined ? { refreshIntervalMs: tokenRefreshIntervalMs } : {}),
    },
  });
  const server = createGatewayNodeServer(
    toNodeListener(gateway, {
      ...(gatewayOptions.limits?.maxBodyBytes !== undefined
        ? { maxBodyBytes: gatewayOptions.limits.maxBodyBytes }
        : {}),
    }),
    limits,
  );
  try {
    await new Promise<void>((resolve, reject) => {
      server.once("error", reject);
      server.listen(port, host, () => {
        server.off("error", reject);
        resolve();
      });
    });
  } catch (error) {
    await gateway.close();
    throw error;
  }
  const address = server.address() as AddressInfo;
  const shownHost = address.family === "IPv6" ? `[${address.address}]` : address.address;
  let closing: Promise<void> | undefined;
  return {
    url: `http://${shownHost}:${address.port}`,
    tokenFiles,
    ...(adminTokenFile !== undefined ? { adminTokenFile } : {}),
    gateway,
    server,
    close() {
      closing ??= (async () => {
        await gateway.close();
        await new Promise<void>((resolve) => {
          server.close(() => resolve());
          server.closeAllConnections();
        });
      })();
      return closing;
    },
  };
}
