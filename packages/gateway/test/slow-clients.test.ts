// Slow and idle clients (slowloris): connections that send their headers one byte at a time, or their
// body too slowly, are answered 408 and closed by the server, while normal requests are served as
// usual; beyond the connection cap, new connections are closed at once. Real sockets, real Redis.
import assert from "node:assert/strict";
import type { AddressInfo } from "node:net";
import { connect, type Socket } from "node:net";
import { after, before, describe, test } from "node:test";
import { stopAll } from "@cacheplane/testkit";
import { createGatewayNodeServer, DEFAULT_NODE_SERVER_LIMITS } from "../src/node-server.js";
import { type Fixture, startFixture } from "./helpers/fixture.js";

const SLOW_CLIENTS = 400;
/** Long enough that the normal requests below run while every slow client is still held. */
const HEADERS_TIMEOUT_MS = 4000;
/** Only so that a regression fails with a message: Node's own default would close them after 60-90 s. */
const GUARD_MS = 40_000;

let fx: Fixture;

before(async () => {
  fx = await startFixture({
    services: [{ name: "a", access: "read-write" }],
    gateway: {
      server: {
        headersTimeoutMs: HEADERS_TIMEOUT_MS,
        requestTimeoutMs: HEADERS_TIMEOUT_MS,
        maxConnections: 2000,
      },
    },
  });
});
after(async () => {
  await fx?.close();
  await stopAll();
});

interface SlowClient {
  socket: Socket;
  /** Everything the server sent. */
  received(): string;
  /** Resolves when the server closed the connection (we never end it ourselves). */
  closed: Promise<void>;
  stop(): void;
}

/** Opens a connection that sends `head`, then one more byte every 200 ms, forever. */
function slowClient(port: number, head: string, drip: string): Promise<SlowClient> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, "127.0.0.1");
    let data = "";
    let timer: NodeJS.Timeout | undefined;
    socket.on("data", (chunk: Buffer) => {
      data += chunk.toString("latin1");
    });
    socket.on("error", () => undefined);
    const closed = new Promise<void>((done) => socket.once("close", () => done()));
    void closed.then(() => clearInterval(timer));
    socket.once("connect", () => {
      socket.write(head);
      timer = setInterval(() => {
        if (socket.writable) socket.write(drip);
      }, 200);
      resolve({
        socket,
        received: () => data,
        closed,
        stop: () => {
          clearInterval(timer);
          socket.destroy();
        },
      });
    });
    socket.once("error", reject);
  });
}

function port(url: string): number {
  return Number(new URL(url).port);
}

/** Waits for `promise`, failing with `message` (instead of hanging) if it takes longer than the guard. */
async function guarded<T>(promise: Promise<T>, message: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const guard = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(message)), GUARD_MS);
  });
  try {
    return await Promise.race([promise, guard]);
  } finally {
    clearTimeout(timer);
  }
}

describe("slow clients", () => {
  test("the defaults are documented values and applied to the server", () => {
    assert.deepEqual(
      { ...DEFAULT_NODE_SERVER_LIMITS },
      {
        headersTimeoutMs: 10_000,
        requestTimeoutMs: 30_000,
        keepAliveTimeoutMs: 5_000,
        maxConnections: 10_000,
      },
    );
    const server = createGatewayNodeServer(() => undefined);
    assert.equal(server.headersTimeout, 10_000);
    assert.equal(server.requestTimeout, 30_000);
    assert.equal(server.keepAliveTimeout, 5_000);
    assert.equal(server.maxConnections, 10_000);
    assert.throws(
      () => createGatewayNodeServer(() => undefined, { maxConnections: 0 }),
      /server\.maxConnections must be/,
    );
    assert.throws(
      () => createGatewayNodeServer(() => undefined, { headersTimeoutMs: 5000, requestTimeoutMs: 1000 }),
      /server\.headersTimeoutMs \(5000\) must not exceed server\.requestTimeoutMs \(1000\)/,
    );
  });

  test(`${SLOW_CLIENTS} connections trickling their headers are answered 408 and closed; normal requests are served meanwhile`, async (t) => {
    const p = port(fx.url);
    const token = fx.tokens.a!.readWrite;
    const slow = await Promise.all([
      ...Array.from({ length: SLOW_CLIENTS - 50 }, () =>
        slowClient(p, "GET /get/a:k HTTP/1.1\r\nHost: gateway.test\r\nX-Slow: ", "x"),
      ),
      // Complete headers, then a body far slower than its Content-Length promises.
      ...Array.from({ length: 50 }, () =>
        slowClient(
          p,
          `POST / HTTP/1.1\r\nHost: gateway.test\r\nAuthorization: Bearer ${token}\r\nContent-Type: application/json\r\nContent-Length: 1000\r\n\r\n[`,
          " ",
        ),
      ),
    ]);
    t.after(() => {
      for (const client of slow) client.stop();
    });
    let closedSoFar = 0;
    for (const client of slow) void client.closed.then(() => closedSoFar++);

    // Normal requests while every slow client is held.
    assert.deepEqual(
      await (await fetch(`${fx.url}/set/a:k/v`, { headers: { authorization: `Bearer ${token}` } })).json(),
      {
        result: "OK",
      },
    );
    const answers = await Promise.all(
      Array.from({ length: 50 }, () =>
        fetch(`${fx.url}/get/a:k`, { headers: { authorization: `Bearer ${token}` } }).then((r) => r.json()),
      ),
    );
    for (const answer of answers) assert.deepEqual(answer, { result: "v" });
    assert.equal(closedSoFar, 0, "the normal requests ran while the slow clients were held");

    // The server cuts every slow client off with a 408.
    await guarded(
      Promise.all(slow.map((client) => client.closed)),
      `slow clients still open after ${GUARD_MS} ms: ${slow.length - closedSoFar} of ${slow.length}`,
    );
    for (const client of slow) assert.match(client.received(), /^HTTP\/1\.1 408 Request Timeout\r\n/);
    // And keeps serving.
    const after = await fetch(`${fx.url}/get/a:k`, { headers: { authorization: `Bearer ${token}` } });
    assert.deepEqual(await after.json(), { result: "v" });
  });

  test("beyond maxConnections a new connection is closed at once; served again once the slow ones are cut", async (t) => {
    const server = createGatewayNodeServer((_req, res) => res.end("ok"), {
      maxConnections: 20,
      headersTimeoutMs: 2000,
      requestTimeoutMs: 2000,
    });
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    t.after(() => {
      server.closeAllConnections();
      server.close();
    });
    const p = (server.address() as AddressInfo).port;
    const held = await Promise.all(
      Array.from({ length: 20 }, () => slowClient(p, "GET / HTTP/1.1\r\nX: ", "x")),
    );
    t.after(() => {
      for (const client of held) client.stop();
    });
    const extra = await slowClient(p, "GET / HTTP/1.1\r\nHost: x\r\n\r\n", "");
    await guarded(extra.closed, "a connection beyond the cap was kept open");
    assert.equal(extra.received(), "", "closed without an answer");
    await guarded(Promise.all(held.map((c) => c.closed)), "held connections were not cut");
    assert.equal(await (await fetch(`http://127.0.0.1:${p}/`)).text(), "ok");
  });
});
