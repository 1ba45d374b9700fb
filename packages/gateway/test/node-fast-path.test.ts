// The Node server answers through the handler core directly (no Web Request/Response objects); a
// Gateway that createGateway did not make goes through `fetch`. Both must put the same bytes on the
// wire: every route, status, header (order included) and body, compared raw (Date masked).
import assert from "node:assert/strict";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { after, before, describe, test } from "node:test";
import { stopAll } from "@cacheplane/testkit";
import { type Gateway, gatewayHandler } from "../src/gateway.js";
import { toNodeListener } from "../src/node-server.js";
import { type Fixture, startFixture } from "./helpers/fixture.js";
import { prepareRawCorpus, type RawRequest, rawCorpus, rawExchange } from "./helpers/raw-http.js";

const ORIGIN = "https://app.example.com";
const LIMITS = { maxBodyBytes: 64 * 1024, maxPipelineCommands: 50 };
let fx: Fixture;
let viaFetch: Server;
let fastPort: number;
let fetchPort: number;

function listen(server: Server): Promise<number> {
  return new Promise((resolve) =>
    server.listen(0, "127.0.0.1", () => resolve((server.address() as AddressInfo).port)),
  );
}

before(async () => {
  fx = await startFixture({ gateway: { limits: LIMITS, cors: { origins: [ORIGIN] } } });
  await prepareRawCorpus(fx.direct("a"));
  const gateway = fx.server.gateway;
  // The same gateway behind an object createGateway did not make: the listener must use `fetch`.
  const wrapped: Gateway = {
    services: gateway.services,
    fetch: (request) => gateway.fetch(request),
    close: () => gateway.close(),
  };
  assert.ok(gatewayHandler(gateway), "startGatewayServer's gateway has a handler core");
  assert.equal(gatewayHandler(wrapped), undefined);
  viaFetch = createServer(toNodeListener(wrapped, { maxBodyBytes: LIMITS.maxBodyBytes }));
  fetchPort = await listen(viaFetch);
  fastPort = Number(new URL(fx.url).port);
});
after(async () => {
  viaFetch?.closeAllConnections();
  await new Promise<void>((resolve) => (viaFetch ? viaFetch.close(() => resolve()) : resolve()));
  await fx?.close();
  await stopAll();
});

describe("Node fast path", () => {
  test("answers every request of the corpus byte for byte like the fetch path", async () => {
    const corpus = rawCorpus(
      { a: fx.tokens.a!.readWrite, aRo: fx.tokens.a!.readOnly, b: fx.tokens.b!.readWrite },
      ORIGIN,
    );
    assert.ok(corpus.length > 70);
    const statuses = new Set<string>();
    for (const request of corpus) {
      // The corpus is idempotent (see prepareRawCorpus): both sides see the same data.
      const fast = await rawExchange(fastPort, request);
      const slow = await rawExchange(fetchPort, request);
      assert.equal(fast, slow, `${request.name}: the two paths differ`);
      assert.equal(await rawExchange(fastPort, request), fast, `${request.name}: not repeatable`);
      statuses.add(fast.slice(9, 12));
    }
    // The corpus reaches every status the gateway answers with outside of outages.
    for (const status of ["200", "204", "308", "400", "401", "403", "404", "405", "413"]) {
      assert.ok(statuses.has(status), `no ${status} in the corpus`);
    }
  });

  test("pipelined requests on one keep-alive connection are answered in order", async () => {
    const { connect } = await import("node:net");
    const token = fx.tokens.a!.readWrite;
    const one = (path: string) => `GET ${path} HTTP/1.1\r\nHost: t\r\nAuthorization: Bearer ${token}\r\n\r\n`;
    const socket = connect(fastPort, "127.0.0.1");
    let text = "";
    socket.setEncoding("latin1");
    socket.on("data", (chunk: string) => {
      text += chunk;
    });
    socket.write(`${one("/set/a:ka/1")}${one("/get/a:ka")}${one("/echo/x")}${one("/get/a:none")}`);
    for (let i = 0; i < 100 && (text.match(/HTTP\/1\.1 /g) ?? []).length < 4; i++) {
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    socket.destroy();
    const bodies = text
      .split("HTTP/1.1 ")
      .slice(1)
      .map((r) => r.slice(r.indexOf("\r\n\r\n") + 4));
    assert.deepEqual(bodies, ['{"result":"OK"}', '{"result":"1"}', '{"result":"x"}', '{"result":null}']);
  });

  test("methods the Fetch API refuses get a 405 (not a 500) on the fast path", async () => {
    const request: RawRequest = { name: "TRACE", method: "TRACE", target: "/get/a:k" };
    const answer = await rawExchange(fastPort, request);
    assert.match(answer, /^HTTP\/1\.1 405 /);
    assert.match(answer, /\{"error":"ERR method TRACE not allowed"\}$/);
  });
});
