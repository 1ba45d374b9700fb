/**
 * Node adapter: serves a gateway with `node:http`. `startGatewayServer` is what the CLI calls
 * (`cacheplane gateway`, `cacheplane dev`): it loads the services from a config and a secrets
 * directory, issues missing tokens, and listens on 127.0.0.1 by default.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import type { PlatformConfig, PlatformConfigInput } from "@cacheplane/core";
import { bufferedBody, createGateway, type Gateway } from "./gateway.js";
import { DEFAULT_MAX_BODY_BYTES, type GatewayOptions } from "./gateway-options.js";
import { rememberBody } from "./request-body.js";
import { loadGatewayServices, type RedisTarget } from "./services.js";
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

/** The request body, or "too-large" as soon as it passes `maxBytes` (the stream is then paused). */
function readNodeBody(req: IncomingMessage, maxBytes: number): Promise<Buffer | "too-large"> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let total = 0;
    let settled = false;
    req.on("data", (chunk: Buffer) => {
      if (settled) return;
      total += chunk.length;
      if (total > maxBytes) {
        settled = true;
        req.pause();
        resolve("too-large");
        return;
      }
      chunks.push(chunk);
    });
    req.once("end", () => {
      if (settled) return;
      settled = true;
      resolve(Buffer.concat(chunks, total));
    });
    req.once("error", (error) => {
      if (settled) return;
      settled = true;
      reject(error);
    });
  });
}

/**
 * A `node:http` request listener for `gateway`: converts the request to a Web `Request` (body read
 * up to `maxBodyBytes`) and streams the `Response` back (Server-Sent Events included).
 *
 * @example
 * http.createServer(toNodeListener(gateway)).listen(8080, "127.0.0.1");
 */
export function toNodeListener(
  gateway: Gateway,
  options: NodeListenerOptions = {},
): (req: IncomingMessage, res: ServerResponse) => void {
  const maxBodyBytes = options.maxBodyBytes ?? DEFAULT_MAX_BODY_BYTES;
  return (req, res) => {
    void (async () => {
      let url: URL;
      try {
        const target = req.url ?? "/";
        // Origin-form ("/get/k", also "//x") keeps its whole path; absolute-form keeps path and query only.
        const parsed = target.startsWith("/") ? new URL(`http://gateway.local${target}`) : new URL(target);
        url = new URL(`http://gateway.local${parsed.pathname}${parsed.search}`);
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
      let body: Buffer | undefined;
      if (method !== "GET" && method !== "HEAD") {
        const read = await readNodeBody(req, maxBodyBytes);
        if (read === "too-large") {
          plainError(res, 413, `ERR body exceeds the limit of ${maxBodyBytes} bytes`);
          res.once("finish", () => req.destroy());
          return;
        }
        body = read;
      }
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
      const request = new Request(url, {
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
        const bytes =
          text !== undefined ? Buffer.from(text, "utf8") : Buffer.from(await response.arrayBuffer());
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
    })().catch(() => plainError(res, 500, "ERR internal gateway error"));
  };
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
  /** Issue tokens for services that have none yet (`<service>.token.json`). @default true */
  issueTokens?: boolean;
  /** How often the token registry is checked for changes, ms. @default 1000 */
  tokenRefreshIntervalMs?: number;
}

/** A listening gateway server. */
export interface GatewayServer {
  /** `http://127.0.0.1:<port>`: the Upstash REST URL clients use. */
  url: string;
  /** Service name -> path of its `<service>.token.json`. */
  tokenFiles: Record<string, string>;
  gateway: Gateway;
  server: Server;
  /** Stops listening, ends open streams and closes the Redis connections. */
  close(): Promise<void>;
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
    ...gatewayOptions
  } = options;
  const services = await loadGatewayServices(config, secretsDir, {
    ...(target !== undefined ? { target } : {}),
    ...(only !== undefined ? { only } : {}),
  });
  const tokenFiles: Record<string, string> = {};
  for (const service of services) {
    if (issueTokens) await ensureServiceTokens(secretsDir, service.name);
    tokenFiles[service.name] = serviceTokenPath(secretsDir, service.name);
  }
  const gateway = createGateway({
    ...gatewayOptions,
    services,
    tokens: {
      registryFile: tokenRegistryPath(secretsDir),
      ...(tokenRefreshIntervalMs !== undefined ? { refreshIntervalMs: tokenRefreshIntervalMs } : {}),
    },
  });
  const server = createServer(
    toNodeListener(gateway, {
      ...(gatewayOptions.limits?.maxBodyBytes !== undefined
        ? { maxBodyBytes: gatewayOptions.limits.maxBodyBytes }
        : {}),
    }),
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
