// Property-based fuzzing of bodies, paths, headers and encodings (bounded number of runs) against a
// real Redis: the gateway never crashes, never answers 5xx to a client's mistake, and never shows
// another service's data, a token or a password.
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { after, before, describe, test } from "node:test";
import { stopAll } from "@cacheplane/testkit";
import fc from "fast-check";
import { type Fixture, startFixture } from "./helpers/fixture.js";

let fx: Fixture;
let secretData: string;

before(async () => {
  fx = await startFixture({ gateway: { limits: { maxBodyBytes: 16 * 1024, maxPipelineCommands: 20 } } });
  secretData = `B-PRIVATE-${randomBytes(12).toString("hex")}`;
  // Held by a service whose tokens the fuzzer never uses: no response may ever show it.
  await fx.direct("noscript").set("noscript:secret", secretData);
  await fx.direct("noscript").hset("noscript:hash", "f", secretData);
});
after(async () => {
  await fx?.close();
  await stopAll();
});

const COMMANDS = [
  "GET",
  "SET",
  "DEL",
  "MGET",
  "HGETALL",
  "HSET",
  "LPUSH",
  "LRANGE",
  "ZADD",
  "ZRANGE",
  "INCR",
  "EXPIRE",
  "SCAN",
  "KEYS",
  "FLUSHALL",
  "CONFIG",
  "EVAL",
  "EVALSHA",
  "SCRIPT",
  "SUBSCRIBE",
  "PUBLISH",
  "CLIENT",
  "SELECT",
  "MULTI",
  "EXEC",
  "WATCH",
  "BLPOP",
  "OBJECT",
  "DUMP",
  "RESTORE",
  "SORT",
  "COPY",
  "RENAME",
  "PING",
  "ECHO",
  "TIME",
  "INFO",
  "DEBUG",
  "MONITOR",
  "HELLO",
  "AUTH",
  "xyz",
  "",
  "get",
];
const KEYS = [
  "a:x",
  "a:h",
  "b:x",
  "noscript:secret",
  "noscript:hash",
  "x",
  "*",
  "a:*",
  "noscript:*",
  "common:z",
];

const arg = fc.oneof(
  fc.constantFrom(...KEYS),
  fc.string({ maxLength: 12 }),
  fc.integer(),
  fc.double({ noNaN: false }),
  fc.boolean(),
  fc.constant(null),
  fc.dictionary(fc.string({ maxLength: 3 }), fc.string({ maxLength: 3 }), { maxKeys: 2 }),
  fc.string({ unit: "binary", maxLength: 6 }),
);
const command = fc
  .tuple(fc.constantFrom<unknown>(...COMMANDS), fc.array(arg, { maxLength: 5 }))
  .map(([name, rest]) => [name, ...rest]);
const jsonBody = fc.oneof(
  command.map((c) => JSON.stringify(c)),
  fc.array(command, { maxLength: 25 }).map((c) => JSON.stringify(c)),
  fc.jsonValue({ maxDepth: 3 }).map((v) => JSON.stringify(v)),
  fc.string({ maxLength: 40 }),
  fc.constant("[".repeat(5000)),
  fc.constant(`["SET","a:big","${"x".repeat(20 * 1024)}"]`),
);
const body = fc.option(
  fc.oneof(
    jsonBody.map((s) => new TextEncoder().encode(s)),
    fc.uint8Array({ maxLength: 64 }),
  ),
  { nil: undefined },
);
const segment = fc.oneof(
  fc.constantFrom(...COMMANDS, ...KEYS).map((s) => encodeURIComponent(s)),
  fc.string({ maxLength: 8 }).map((s) => encodeURIComponent(s)),
  fc.constantFrom("%", "%zz", "%ff%fe", "..", ".", "%2e%2e", "%00", "a%2Fb"),
);
const path = fc.oneof(
  fc.constantFrom(
    "/",
    "/pipeline",
    "/multi-exec",
    "/console",
    "/console/",
    "/console/app.js",
    "/console/nope",
  ),
  fc.array(segment, { minLength: 1, maxLength: 5 }).map((s) => `/${s.join("/")}`),
  fc.array(segment, { minLength: 1, maxLength: 3 }).map((s) => `/subscribe/${s.join("/")}`),
  fc.array(segment, { minLength: 1, maxLength: 3 }).map((s) => `/psubscribe/${s.join("/")}`),
);
const query = fc.option(
  fc.array(fc.tuple(fc.constantFrom("EX", "NX", "_token", "x", ""), fc.string({ maxLength: 6 })), {
    maxLength: 3,
  }),
  { nil: undefined },
);
type TokenChoice = "a-rw" | "a-ro" | "b-rw" | "ro" | "random" | "none" | "garbage-header";
const tokenChoice = fc.oneof(
  { arbitrary: fc.constantFrom<TokenChoice>("a-rw", "a-ro"), weight: 6 },
  { arbitrary: fc.constantFrom<TokenChoice>("b-rw", "ro", "random", "none", "garbage-header"), weight: 2 },
);
const method = fc.constantFrom("GET", "POST", "PUT", "HEAD", "DELETE", "PATCH", "OPTIONS");
const encoding = fc.option(fc.constantFrom("base64", "BASE64", "utf8", "gzip", ""), { nil: undefined });
const format = fc.option(fc.constantFrom("json", "resp2", "resp3", "xml"), { nil: undefined });

interface Case {
  method: string;
  path: string;
  query: [string, string][] | undefined;
  body: Uint8Array | undefined;
  token: TokenChoice;
  encoding: string | undefined;
  format: string | undefined;
}
const anyCase = fc.record<Case>({ method, path, query, body, token: tokenChoice, encoding, format });
// Plausible requests, so that many runs get past the front door and reach Redis.
const VALID = [
  "GET",
  "SET",
  "DEL",
  "MGET",
  "HSET",
  "HGETALL",
  "INCR",
  "LPUSH",
  "LRANGE",
  "EXISTS",
  "TTL",
  "APPEND",
  "PING",
];
const plausibleCommand = fc
  .tuple(
    fc.constantFrom(...VALID),
    fc.constantFrom(...KEYS),
    fc.array(fc.oneof(fc.string({ maxLength: 8 }), fc.integer()), { maxLength: 3 }),
  )
  .map(([name, key, rest]) => [name, key, ...rest]);
const plausibleCase = fc.oneof(
  fc.record<Case>({
    method: fc.constant("POST"),
    path: fc.constant("/"),
    query: fc.constant(undefined),
    body: plausibleCommand.map((c) => new TextEncoder().encode(JSON.stringify(c))),
    token: tokenChoice,
    encoding,
    format: fc.constant(undefined),
  }),
  fc.record<Case>({
    method: fc.constantFrom("POST", "PUT"),
    path: fc.constantFrom("/pipeline", "/multi-exec"),
    query: fc.constant(undefined),
    body: fc
      .array(plausibleCommand, { minLength: 1, maxLength: 6 })
      .map((c) => new TextEncoder().encode(JSON.stringify(c))),
    token: tokenChoice,
    encoding,
    format: fc.constant(undefined),
  }),
  fc.record<Case>({
    method: fc.constant("GET"),
    path: plausibleCommand.map((c) => `/${c.map((x) => encodeURIComponent(String(x))).join("/")}`),
    query: fc.constant(undefined),
    body: fc.constant(undefined),
    token: tokenChoice,
    encoding,
    format: fc.constant(undefined),
  }),
);
const requestCase = fc.oneof({ arbitrary: anyCase, weight: 1 }, { arbitrary: plausibleCase, weight: 1 });

function buildRequest(c: Case, base: string): Request {
  const url = new URL(`${base}${c.path}`);
  for (const [k, v] of c.query ?? []) url.searchParams.append(k, v);
  const headers = new Headers();
  const tokens: Record<string, string | undefined> = {
    "a-rw": fx.tokens.a!.readWrite,
    "a-ro": fx.tokens.a!.readOnly,
    "b-rw": fx.tokens.b!.readWrite,
    ro: fx.tokens.ro!.readOnly,
    random: randomBytes(32).toString("base64url"),
  };
  if (c.token === "garbage-header") headers.set("authorization", "Bearer");
  else if (tokens[c.token]) headers.set("authorization", `Bearer ${tokens[c.token]}`);
  if (c.encoding !== undefined) headers.set("upstash-encoding", c.encoding);
  if (c.format !== undefined) headers.set("upstash-response-format", c.format);
  const body =
    c.body !== undefined && c.method !== "GET" && c.method !== "HEAD" ? new Uint8Array(c.body) : undefined;
  return new Request(url, { method: c.method, headers, ...(body ? { body } : {}) });
}

const statuses = new Map<number, number>();

async function check(c: Case, response: Response): Promise<void> {
  statuses.set(response.status, (statuses.get(response.status) ?? 0) + 1);
  const isStream = (response.headers.get("content-type") ?? "").includes("text/event-stream");
  let text = "";
  if (isStream) {
    const reader = response.body!.getReader();
    const first = await reader.read();
    text = new TextDecoder().decode(first.value ?? new Uint8Array());
    await reader.cancel();
  } else {
    text = await response.text();
  }
  const where = `${c.method} ${c.path} (${c.token}) -> ${response.status} ${text.slice(0, 200)}`;
  assert.ok(response.status < 500, `5xx for a client request: ${where}`);
  assert.ok(!text.includes(secretData), `another service's data leaked: ${where}`);
  for (const secret of fx.secretStrings()) assert.ok(!text.includes(secret), `secret leaked: ${where}`);
  if (response.status >= 400 && c.method !== "HEAD") {
    if ((response.headers.get("content-type") ?? "").startsWith("application/octet-stream")) {
      // Upstash-Response-Format: resp2: errors are RESP2 error lines.
      assert.match(text, /^-[^\r\n]*\r\n$/, where);
    } else {
      const parsed = JSON.parse(text) as { error?: unknown };
      assert.equal(typeof parsed.error, "string", where);
    }
  }
}

describe("fuzzing the gateway", () => {
  test("through gateway.fetch: no crash, no 5xx, no leaks", async () => {
    await fc.assert(
      fc.asyncProperty(requestCase, async (c) => {
        await check(c, await fx.server.gateway.fetch(buildRequest(c, "http://gateway.test")));
      }),
      { numRuns: 400 },
    );
  });

  test("over HTTP: no crash, no 5xx, no leaks", async () => {
    await fc.assert(
      fc.asyncProperty(requestCase, async (c) => {
        const request = buildRequest(c, fx.url);
        await check(c, await fetch(request, { redirect: "manual" }));
      }),
      { numRuns: 120 },
    );
    // Still healthy, and the private data untouched.
    const ping = await fetch(`${fx.url}/ping`, {
      headers: { authorization: `Bearer ${fx.tokens.a!.readWrite}` },
    });
    assert.deepEqual(await ping.json(), { result: "PONG" });
    assert.equal(await fx.direct("noscript").get("noscript:secret"), secretData);
    assert.ok(!JSON.stringify(fx.logs).includes(secretData));
    assert.equal(
      fx.logs.filter((e) => e.level === "error").length,
      0,
      JSON.stringify(fx.logs.filter((e) => e.level === "error")),
    );
    // The runs reached Redis, not only the front door.
    assert.ok((statuses.get(200) ?? 0) > 20, JSON.stringify([...statuses]));
    if (process.env.FUZZ_STATS) console.log(JSON.stringify([...statuses].sort()));
  });
});
