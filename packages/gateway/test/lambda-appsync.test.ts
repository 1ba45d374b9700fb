// The Lambda (Function URL / HTTP API payload 2.0) and AppSync Direct Lambda adapters, driven with
// realistic event shapes against a gateway backed by a real redis-server.
import assert from "node:assert/strict";
import { readFile } from "node:fs/promises";
import { after, before, describe, test } from "node:test";
import { stopAll } from "@cacheplane/testkit";
import type { APIGatewayProxyEventV2, AppSyncResolverEvent, LambdaFunctionURLEvent } from "aws-lambda";
import { type AppSyncGatewayArguments, toAppSyncResolver } from "../src/appsync-resolver.js";
import { createGateway, type Gateway } from "../src/gateway.js";
import { toLambdaHandler } from "../src/lambda-adapter.js";
import { loadGatewayServices } from "../src/services.js";
import { readTokenRegistry, tokenRegistryPath } from "../src/tokens.js";
import { type Fixture, startFixture } from "./helpers/fixture.js";

let fx: Fixture;
let gateway: Gateway;

before(async () => {
  fx = await startFixture();
  // As in a Lambda: services and token hashes handed over in code, no registry file watching.
  const services = await loadGatewayServices(fx.config, fx.secretsDir);
  const records = await readTokenRegistry(tokenRegistryPath(fx.secretsDir));
  gateway = createGateway({ services, tokens: { records }, logger: () => undefined });
});
after(async () => {
  await gateway?.close();
  await fx?.close();
  await stopAll();
});

function httpApiEvent(
  overrides: Partial<APIGatewayProxyEventV2> & { method?: string; path: string },
): APIGatewayProxyEventV2 {
  const { method = "POST", path, ...rest } = overrides;
  return {
    version: "2.0",
    routeKey: "$default",
    rawPath: path,
    rawQueryString: "",
    headers: {
      accept: "*/*",
      "content-type": "application/json",
      host: "abc123.execute-api.eu-west-1.amazonaws.com",
      "user-agent": "curl/8.5.0",
      "x-amzn-trace-id": "Root=1-65a1b2c3-0123456789abcdef01234567",
      "x-forwarded-for": "203.0.113.7",
      "x-forwarded-port": "443",
      "x-forwarded-proto": "https",
    },
    requestContext: {
      accountId: "123456789012",
      apiId: "abc123",
      domainName: "abc123.execute-api.eu-west-1.amazonaws.com",
      domainPrefix: "abc123",
      http: { method, path, protocol: "HTTP/1.1", sourceIp: "203.0.113.7", userAgent: "curl/8.5.0" },
      requestId: "Rq1Ab2Cd3Ef=",
      routeKey: "$default",
      stage: "$default",
      time: "12/Mar/2024:10:00:00 +0000",
      timeEpoch: 1710237600000,
    },
    isBase64Encoded: false,
    ...rest,
  };
}

describe("Lambda adapter (payload format 2.0)", () => {
  test("HTTP API event: JSON command, base64 body, cookies, query token", async () => {
    const handler = toLambdaHandler(gateway);
    const token = fx.tokens.a!.readWrite;
    const set = await handler(
      httpApiEvent({
        path: "/",
        headers: { ...httpApiEvent({ path: "/" }).headers, authorization: `Bearer ${token}` },
        body: JSON.stringify(["SET", "a:lambda", "v1"]),
        cookies: ["session=abc", "theme=dark"],
      }),
    );
    assert.equal(set.statusCode, 200);
    assert.equal(set.body, '{"result":"OK"}');
    assert.equal(set.isBase64Encoded, false);
    assert.equal(set.headers?.["content-type"], "application/json");

    const binary = Buffer.from([0xde, 0xad, 0xbe, 0xef]);
    const posted = await handler(
      httpApiEvent({
        path: "/set/a:bin",
        rawQueryString: `_token=${encodeURIComponent(token)}`,
        queryStringParameters: { _token: token },
        body: binary.toString("base64"),
        isBase64Encoded: true,
        headers: { ...httpApiEvent({ path: "/" }).headers, "content-type": "application/octet-stream" },
      }),
    );
    assert.equal(posted.statusCode, 200, posted.body);
    assert.deepEqual(await fx.direct("a").getBuffer("a:bin"), binary);

    const get = await handler(
      httpApiEvent({
        method: "GET",
        path: "/get/a:bin",
        headers: {
          ...httpApiEvent({ path: "/" }).headers,
          authorization: `Bearer ${token}`,
          "upstash-encoding": "base64",
        },
      }),
    );
    assert.equal(JSON.parse(get.body ?? "").result, binary.toString("base64"));
  });

  test("Function URL event with a named-stage prefix stripped; errors keep Upstash's shape", async () => {
    const handler = toLambdaHandler(gateway, { stripPrefix: "/prod" });
    const base = httpApiEvent({ path: "/prod/pipeline" });
    const event: LambdaFunctionURLEvent = {
      ...base,
      headers: {
        ...base.headers,
        host: "xyz.lambda-url.eu-west-1.on.aws",
        authorization: `Bearer ${fx.tokens.a!.readOnly}`,
      },
      requestContext: { ...base.requestContext, domainName: "xyz.lambda-url.eu-west-1.on.aws", apiId: "xyz" },
      body: JSON.stringify([
        ["GET", "a:lambda"],
        ["SET", "a:lambda", "x"],
        ["GET", "b:x"],
      ]),
    };
    const res = await handler(event);
    assert.equal(res.statusCode, 200);
    const items = JSON.parse(res.body ?? "") as { result?: unknown; error?: string }[];
    assert.deepEqual(items[0], { result: "v1" });
    assert.match(String(items[1]?.error), /read-only/);
    assert.match(String(items[2]?.error), /^NOPERM/);

    const unauthorized = await handler(httpApiEvent({ path: "/prod/get/a:lambda", method: "GET" }));
    assert.equal(unauthorized.statusCode, 401);
    assert.match(JSON.parse(unauthorized.body ?? "").error, /Unauthorized/);
    const subscribe = await handler(httpApiEvent({ path: "/prod/subscribe/a:chat", method: "GET" }));
    assert.equal(subscribe.statusCode, 501);
    const console = await handler(httpApiEvent({ path: "/prod/console/", method: "GET" }));
    assert.equal(console.statusCode, 200);
    assert.match(console.body ?? "", /<html/);
  });
});

function appSyncEvent(
  parentTypeName: "Query" | "Mutation",
  fieldName: string,
  args: AppSyncGatewayArguments,
  headers: Record<string, string> = {},
  identity: AppSyncResolverEvent<AppSyncGatewayArguments>["identity"] = null,
): AppSyncResolverEvent<AppSyncGatewayArguments> {
  return {
    arguments: args,
    identity,
    source: null,
    request: {
      headers: {
        accept: "application/json, text/plain, */*",
        "content-type": "application/json",
        host: "abcdefghij.appsync-api.eu-west-1.amazonaws.com",
        "x-api-key": "da2-exampleexampleexample",
        "x-amzn-requestid": "9b1f6d4e-1111-2222-3333-444455556666",
        ...headers,
      },
      domainName: null,
    },
    info: {
      selectionSetList: fieldName === "run" || fieldName === "read" ? ["result", "error"] : [],
      selectionSetGraphQL: fieldName === "run" || fieldName === "read" ? "{\n  result\n  error\n}" : "",
      parentTypeName,
      fieldName,
      variables: {},
    },
    prev: null,
    stash: {},
  };
}

describe("AppSync Direct Lambda resolver", () => {
  test("schema.graphql declares the fields the resolver serves", async () => {
    const schema = await readFile(new URL("../schema.graphql", import.meta.url), "utf8");
    for (const field of [
      "get(key: String!",
      "mget(keys: [String!]!",
      "read(commands: [[String!]!]!",
      "run(commands: [[String!]!]!",
    ]) {
      assert.ok(schema.includes(field), field);
    }
  });

  test("Mutation.run executes command arrays in one pipeline; Query.get/mget read", async () => {
    const resolve = toAppSyncResolver(gateway);
    const token = fx.tokens.a!.readWrite;
    const run = await resolve(
      appSyncEvent(
        "Mutation",
        "run",
        {
          commands: [
            ["SET", "a:gql", "hello world"],
            ["INCR", "a:gql:n"],
            ["LPUSH", "a:gql", "x"],
            ["FLUSHALL"],
          ],
        },
        { "x-cacheplane-token": token },
      ),
    );
    assert.deepEqual(run, [
      { result: '"OK"', error: null },
      { result: "1", error: null },
      { result: null, error: "WRONGTYPE Operation against a key holding the wrong kind of value" },
      { result: null, error: "NOPERM 'flushall' is an admin command" },
    ]);
    assert.equal(await resolve(appSyncEvent("Query", "get", { key: "a:gql", token })), "hello world");
    assert.equal(await resolve(appSyncEvent("Query", "get", { key: "a:none", token })), null);
    assert.deepEqual(await resolve(appSyncEvent("Query", "mget", { keys: ["a:gql", "a:none"], token })), [
      "hello world",
      null,
    ]);
  });

  test("Query.read runs with read-only rights even with a read-write token", async () => {
    const resolve = toAppSyncResolver(gateway);
    const read = await resolve(
      appSyncEvent(
        "Query",
        "read",
        {
          commands: [
            ["GET", "a:gql"],
            ["SET", "a:gql", "changed"],
          ],
        },
        { authorization: `Bearer ${fx.tokens.a!.readWrite}` },
      ),
    );
    assert.deepEqual((read as { result: string | null }[])[0]?.result, '"hello world"');
    assert.match(String((read as { error: string | null }[])[1]?.error), /read-only/);
    assert.equal(await fx.direct("a").get("a:gql"), "hello world");
  });

  test("token from a Lambda authorizer's resolverContext; errors become GraphQL errors", async () => {
    const resolve = toAppSyncResolver(gateway);
    const viaAuthorizer = await resolve(
      appSyncEvent(
        "Query",
        "get",
        { key: "a:gql" },
        {},
        { resolverContext: { token: fx.tokens.a!.readOnly } },
      ),
    );
    assert.equal(viaAuthorizer, "hello world");
    await assert.rejects(() => resolve(appSyncEvent("Query", "get", { key: "a:gql" })), /Unauthorized/);
    await assert.rejects(
      () => resolve(appSyncEvent("Query", "get", { key: "b:x", token: fx.tokens.a!.readOnly })),
      /^Error: NOPERM/,
    );
    await assert.rejects(
      () => resolve(appSyncEvent("Mutation", "other", { token: fx.tokens.a!.readOnly })),
      /not served/,
    );
  });
});
