// Raw HTTP/1.1 exchanges over a TCP socket, to compare what two servers put on the wire byte for
// byte (only the Date and upstash-sync-token headers are masked). Each request is sent with `Connection: close` and read to
// the end; Server-Sent Events are read up to their first event, then the socket is closed.
import { connect } from "node:net";
import type { Redis } from "ioredis";

/** One raw request: method, request target as sent (origin- or absolute-form), headers, body. */
export interface RawRequest {
  name: string;
  method: string;
  target: string;
  headers?: [string, string][];
  body?: string | Buffer;
  /** Send the body with `Transfer-Encoding: chunked` instead of a Content-Length. */
  chunked?: boolean;
}

function encode(request: RawRequest): Buffer {
  const lines = [`${request.method} ${request.target} HTTP/1.1`, "Host: gateway.test", "Connection: close"];
  for (const [name, value] of request.headers ?? []) lines.push(`${name}: ${value}`);
  const body = request.body === undefined ? undefined : Buffer.from(request.body);
  if (body !== undefined && request.chunked) {
    lines.push("Transfer-Encoding: chunked");
    const head = Buffer.from(`${lines.join("\r\n")}\r\n\r\n`, "latin1");
    const half = Math.ceil(body.length / 2);
    const parts = [body.subarray(0, half), body.subarray(half)].filter((p) => p.length > 0);
    const chunks = parts.flatMap((p) => [
      Buffer.from(`${p.length.toString(16)}\r\n`),
      p,
      Buffer.from("\r\n"),
    ]);
    return Buffer.concat([head, ...chunks, Buffer.from("0\r\n\r\n")]);
  }
  if (body !== undefined) lines.push(`Content-Length: ${body.length}`);
  return Buffer.concat([Buffer.from(`${lines.join("\r\n")}\r\n\r\n`, "latin1"), body ?? Buffer.alloc(0)]);
}

/** Sends `request` to 127.0.0.1:`port`; resolves with the response bytes, `Date:` masked. */
export function rawExchange(port: number, request: RawRequest, timeoutMs = 5000): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, "127.0.0.1");
    const chunks: Buffer[] = [];
    let done = false;
    const finish = () => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      socket.destroy();
      resolve(
        Buffer.concat(chunks)
          .toString("latin1")
          .replace(/\r\nDate: [^\r]*/i, "\r\nDate: <masked>")
          // The read-your-writes token grows with every answer (sync-token.ts).
          .replace(/\r\nupstash-sync-token: \d+/i, "\r\nupstash-sync-token: <masked>"),
      );
    };
    const timer = setTimeout(() => {
      done = true;
      socket.destroy();
      reject(new Error(`no complete answer to ${request.name} within ${timeoutMs} ms`));
    }, timeoutMs);
    socket.on("data", (chunk: Buffer) => {
      chunks.push(chunk);
      const text = Buffer.concat(chunks).toString("latin1");
      const headEnd = text.indexOf("\r\n\r\n");
      // An event stream never ends by itself: stop after its first event.
      if (headEnd >= 0 && /\r\ncontent-type: text\/event-stream/i.test(text.slice(0, headEnd))) {
        if (text.indexOf("\n\n", headEnd + 4) >= 0) finish();
      }
    });
    socket.on("end", finish);
    socket.on("close", finish);
    socket.on("error", (error) => {
      if (!done) {
        done = true;
        clearTimeout(timer);
        reject(error);
      }
    });
    socket.write(encode(request));
  });
}

/**
 * Requests covering every route, status and header the gateway produces. `tokens` are the fixture's
 * (service `a` read-write and read-only, service `b` read-write); `origin` is an allowed CORS origin.
 * Requests that change data are written so that sending the list twice gives the same answers, once
 * {@link prepareRawCorpus} has run.
 */
export function rawCorpus(tokens: { a: string; aRo: string; b: string }, origin: string): RawRequest[] {
  const auth = (token = tokens.a): [string, string] => ["Authorization", `Bearer ${token}`];
  const json: [string, string] = ["Content-Type", "application/json"];
  const b64: [string, string] = ["Upstash-Encoding", "base64"];
  const script = "#!lua flags=allow-key-locking\nreturn redis.call('GET', KEYS[1])";
  return [
    { name: "set (JSON)", method: "POST", target: "/", headers: [auth(), json], body: '["SET","a:k","v"]' },
    { name: "get (path)", method: "GET", target: "/get/a:k", headers: [auth()] },
    { name: "get base64", method: "GET", target: "/get/a:k", headers: [auth(), b64] },
    { name: "get missing", method: "GET", target: "/get/a:none", headers: [auth()] },
    { name: "set for XX", method: "POST", target: "/", headers: [auth(), json], body: '["SET","a:q","x"]' },
    { name: "head", method: "HEAD", target: "/get/a:k", headers: [auth()] },
    { name: "set OK base64", method: "GET", target: "/set/a:k2/x", headers: [auth(), b64] },
    {
      name: "path command with body and query",
      method: "POST",
      target: "/set/a:q?EX=100&XX&_token=ignored",
      headers: [auth()],
      body: "body value",
    },
    { name: "get path-set", method: "GET", target: "/get/a:q", headers: [auth()] },
    { name: "put hset", method: "PUT", target: "/hset/a:h/f", headers: [auth()], body: "v" },
    { name: "hgetall raw", method: "POST", target: "/", headers: [auth(), json], body: '["HGETALL","a:h"]' },
    {
      name: "binary body",
      method: "POST",
      target: "/set/a:bin",
      headers: [auth()],
      body: Buffer.from([0, 0xff, 0xfe, 0x80, 0x0a, 0x41]),
    },
    { name: "binary get utf8", method: "GET", target: "/get/a:bin", headers: [auth()] },
    { name: "binary get base64", method: "GET", target: "/get/a:bin", headers: [auth(), b64] },
    { name: "percent-decoded bytes", method: "GET", target: "/set/a:enc/%FF%00a%20b", headers: [auth()] },
    { name: "utf-8 path", method: "GET", target: "/echo/%E2%82%AC", headers: [auth()] },
    {
      name: "pipeline with denied and failing commands",
      method: "POST",
      target: "/pipeline",
      headers: [auth(), json, b64],
      body: JSON.stringify([
        ["SET", "a:p", "v"],
        ["GET", "a:p"],
        ["INCR", "a:p"],
        ["FLUSHALL"],
        ["GET", "b:x"],
      ]),
    },
    {
      name: "multi-exec",
      method: "POST",
      target: "/multi-exec",
      headers: [auth(), json],
      body: JSON.stringify([
        ["SET", "a:m", "1"],
        ["GET", "a:m"],
      ]),
    },
    {
      name: "multi-exec denied",
      method: "POST",
      target: "/multi-exec",
      headers: [auth(), json],
      body: JSON.stringify([
        ["SET", "a:m", "1"],
        ["KEYS", "*"],
      ]),
    },
    {
      name: "multi-exec discarded by Redis",
      method: "POST",
      target: "/multi-exec",
      headers: [auth(), json],
      body: JSON.stringify([["SET", "a:m", "1"], ["GET"]]),
    },
    {
      name: "eval with Upstash flags",
      method: "POST",
      target: "/",
      headers: [auth(), json],
      body: JSON.stringify(["EVAL", script, 1, "a:k"]),
    },
    {
      name: "big integer",
      method: "POST",
      target: "/",
      headers: [auth(), json],
      body: '["ECHO","12345678901234567890"]',
    },
    { name: "no token", method: "GET", target: "/get/a:k" },
    { name: "basic auth", method: "GET", target: "/get/a:k", headers: [["Authorization", "Basic abc"]] },
    { name: "unknown token", method: "GET", target: "/get/a:k", headers: [auth("x".repeat(43))] },
    { name: "query token", method: "GET", target: `/get/a:k?_token=${encodeURIComponent(tokens.a)}` },
    {
      name: "header wins over query token",
      method: "GET",
      target: `/get/a:k?_token=${encodeURIComponent(tokens.a)}`,
      headers: [["Authorization", "Basic abc"]],
    },
    {
      name: "duplicate authorization headers",
      method: "GET",
      target: "/get/a:k",
      headers: [auth(), auth(tokens.b)],
    },
    {
      name: "lower-case bearer, spaces",
      method: "GET",
      target: "/get/a:k",
      headers: [["Authorization", `  bearer   ${tokens.a}  `]],
    },
    { name: "other service's key", method: "GET", target: "/get/b:x", headers: [auth()] },
    { name: "other service's token", method: "GET", target: "/get/a:k", headers: [auth(tokens.b)] },
    { name: "read-only token writes", method: "GET", target: "/set/a:k/v", headers: [auth(tokens.aRo)] },
    { name: "read-only token reads", method: "GET", target: "/get/a:k", headers: [auth(tokens.aRo)] },
    {
      name: "read-only header",
      method: "POST",
      target: "/",
      headers: [auth(), json, ["Cacheplane-Read-Only", "1"]],
      body: '["SET","a:k","v"]',
    },
    { name: "admin command", method: "GET", target: "/flushall", headers: [auth()] },
    { name: "scan without match", method: "GET", target: "/scan/0", headers: [auth()] },
    {
      name: "unknown command",
      method: "POST",
      target: "/",
      headers: [auth(), json],
      body: '["NOSUCH","a:k"]',
    },
    { name: "redis error", method: "POST", target: "/", headers: [auth(), json], body: '["GET"]' },
    { name: "wrongtype", method: "POST", target: "/", headers: [auth(), json], body: '["LPUSH","a:k","x"]' },
    { name: "bad json", method: "POST", target: "/", headers: [auth(), json], body: "not json" },
    { name: "empty body", method: "POST", target: "/", headers: [auth(), json], body: "" },
    {
      name: "null argument",
      method: "POST",
      target: "/",
      headers: [auth(), json],
      body: '["SET","a:k",null]',
    },
    { name: "GET /", method: "GET", target: "/", headers: [auth()] },
    { name: "GET /pipeline", method: "GET", target: "/pipeline", headers: [auth()] },
    { name: "empty pipeline", method: "POST", target: "/pipeline", headers: [auth(), json], body: "[]" },
    {
      name: "too many pipeline commands",
      method: "POST",
      target: "/pipeline",
      headers: [auth(), json],
      body: JSON.stringify(Array.from({ length: 60 }, () => ["PING"])),
    },
    {
      name: "body over the limit",
      method: "POST",
      target: "/",
      headers: [auth(), json],
      body: JSON.stringify(["SET", "a:big", "x".repeat(70 * 1024)]),
    },
    {
      name: "chunked body over the limit",
      method: "POST",
      target: "/set/a:big",
      headers: [auth()],
      body: "y".repeat(70 * 1024),
      chunked: true,
    },
    {
      name: "chunked body",
      method: "POST",
      target: "/",
      headers: [auth(), json],
      body: '["SET","a:chunked","v"]',
      chunked: true,
    },
    {
      name: "resp2",
      method: "GET",
      target: "/get/a:k",
      headers: [auth(), ["Upstash-Response-Format", "resp2"]],
    },
    {
      name: "format xml",
      method: "GET",
      target: "/get/a:k",
      headers: [auth(), ["Upstash-Response-Format", "xml"]],
    },
    {
      name: "format json",
      method: "GET",
      target: "/get/a:k",
      headers: [auth(), ["Upstash-Response-Format", "JSON"]],
    },
    {
      name: "sync token ignored",
      method: "GET",
      target: "/get/a:k",
      headers: [auth(), ["Upstash-Sync-Token", "x"]],
    },
    { name: "DELETE", method: "DELETE", target: "/get/a:k", headers: [auth()] },
    { name: "PATCH with body", method: "PATCH", target: "/", headers: [auth(), json], body: "[]" },
    {
      name: "preflight allowed",
      method: "OPTIONS",
      target: "/",
      headers: [
        ["Origin", origin],
        ["Access-Control-Request-Method", "POST"],
        ["Access-Control-Request-Headers", "authorization, content-type, upstash-telemetry-sdk"],
      ],
    },
    {
      name: "preflight other origin",
      method: "OPTIONS",
      target: "/",
      headers: [["Origin", "https://evil.example"]],
    },
    { name: "CORS on a request", method: "GET", target: "/get/a:k", headers: [auth(), ["Origin", origin]] },
    { name: "CORS on a 401", method: "GET", target: "/get/a:k", headers: [["Origin", origin]] },
    { name: "console redirect", method: "GET", target: "/console" },
    { name: "console page", method: "GET", target: "/console/" },
    { name: "console script", method: "GET", target: "/console/app.js" },
    { name: "console HEAD", method: "HEAD", target: "/console/console.css" },
    { name: "console POST", method: "POST", target: "/console/", body: "x" },
    { name: "console unknown file", method: "GET", target: "/console/secret.json" },
    { name: "dot segments", method: "GET", target: "/console/../get/a:k", headers: [auth()] },
    { name: "encoded dot segments", method: "GET", target: "/x/%2e%2e/get/a:k", headers: [auth()] },
    { name: "double slash", method: "GET", target: "//get/a:k", headers: [auth()] },
    {
      name: "absolute-form target",
      method: "GET",
      target: "http://other.example:81/get/a:k?x=1",
      headers: [auth()],
    },
    { name: "asterisk target", method: "GET", target: "*", headers: [auth()] },
    { name: "fragment", method: "GET", target: "/get/a:k#frag", headers: [auth()] },
    { name: "backslash", method: "GET", target: "/get\\a:k", headers: [auth()] },
    { name: "raw non-ASCII", method: "GET", target: "/echo/\u00e9", headers: [auth()] },
    { name: "subscribe outside keyspace", method: "GET", target: "/subscribe/b:chat", headers: [auth()] },
    { name: "subscribe", method: "GET", target: "/subscribe/a:chat", headers: [auth()] },
    { name: "psubscribe", method: "POST", target: "/psubscribe/a:*", headers: [auth()] },
  ];
}

/** Data the corpus expects (as service `a`): a hash whose field already exists, so HSET answers 0. */
export async function prepareRawCorpus(direct: Redis): Promise<void> {
  await direct.hset("a:h", "f", "v");
}
