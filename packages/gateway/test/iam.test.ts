// ElastiCache IAM auth through the gateway: a service whose secret says `auth: "iam"` is connected
// with a signed token as password (the shared connection code of @cacheplane/client/connection), not
// with the secret's (empty) password. A real redis-server stands in for ElastiCache's IAM check: the
// IAM user's passwords are the tokens the gateway's provider signs in the next seconds (tokens are
// deterministic for fixed credentials and signing time).
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { IamAuthTokenProvider } from "@cacheplane/client/connection";
import type { SecretPayload } from "@cacheplane/core/secret";
import { type RedisServer, startRedis, stopAll } from "@cacheplane/testkit";
import type { Redis } from "ioredis";
import { createGateway } from "../src/gateway.js";
import type { GatewayLogEntry } from "../src/gateway-options.js";
import { generateToken, hashToken } from "../src/tokens.js";

const USER = "iam-orders";
const ENV = {
  REDIS_IAM_CACHE_NAME: "dev-shared",
  AWS_REGION: "eu-west-1",
  AWS_ACCESS_KEY_ID: "AKIDEXAMPLE",
  AWS_SECRET_ACCESS_KEY: "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY",
};

let server: RedisServer;
let admin: Redis;
before(async () => {
  server = await startRedis({ acl: true });
  admin = server.client();
});
after(async () => {
  admin?.disconnect();
  await stopAll();
});

/** The token a provider with the environment's credentials signs at `at` (signing time in seconds). */
function tokenAt(at: number): Promise<string> {
  return new IamAuthTokenProvider({
    cacheName: ENV.REDIS_IAM_CACHE_NAME,
    userId: USER,
    region: ENV.AWS_REGION,
    credentials: { accessKeyId: ENV.AWS_ACCESS_KEY_ID, secretAccessKey: ENV.AWS_SECRET_ACCESS_KEY },
    now: () => Math.floor(at / 1000) * 1000,
  }).getToken();
}

function gatewayFor(secret: SecretPayload, logs: GatewayLogEntry[]) {
  const token = generateToken();
  const gateway = createGateway({
    services: [{ name: "orders", keyspace: "orders", sharedKeyspaces: [], secret }],
    tokens: {
      records: [
        {
          service: "orders",
          kind: "read-write",
          hash: hashToken(token),
          createdAt: new Date().toISOString(),
        },
      ],
    },
    timeoutMs: 5000,
    logger: (entry) => logs.push(entry),
  });
  const call = async (path: string) => {
    const response = await gateway.fetch(
      new Request(`http://gateway${path}`, { headers: { authorization: `Bearer ${token}` } }),
    );
    return { status: response.status, json: (await response.json()) as Record<string, unknown> };
  };
  return { gateway, call };
}

const secret: SecretPayload = {
  host: "127.0.0.1",
  port: 0,
  username: USER,
  password: "",
  keyspace: "orders",
  tls: false,
  auth: "iam",
};

describe("a service with auth: iam", () => {
  test("is connected as its IAM user with a signed token", async (t) => {
    const saved = { ...process.env };
    t.after(() => {
      for (const key of Object.keys(ENV)) delete process.env[key];
      Object.assign(process.env, saved);
    });
    Object.assign(process.env, ENV);
    const now = Date.now();
    const tokens = await Promise.all([0, 1000, 2000, 3000, 4000].map((d) => tokenAt(now + d)));
    await admin.call(
      "ACL",
      "SETUSER",
      USER,
      "reset",
      "on",
      ...tokens.map((token) => `>${token}`),
      "~orders:*",
      "&orders:*",
      "+@all",
      "-@dangerous",
    );
    const logs: GatewayLogEntry[] = [];
    const { gateway, call } = gatewayFor({ ...secret, port: server.port }, logs);
    try {
      assert.deepEqual(await call("/set/orders:iam/yes"), { status: 200, json: { result: "OK" } });
      assert.deepEqual(await call("/get/orders:iam"), { status: 200, json: { result: "yes" } });
      const list = (await admin.call("CLIENT", "LIST")) as string;
      assert.equal(list.split("\n").filter((line) => line.includes(` user=${USER} `)).length, 1);
      for (const token of tokens) assert.ok(!JSON.stringify(logs).includes(token), "a token was logged");
    } finally {
      await gateway.close();
    }
  });

  test("without a cache name: 503 to the client, the fix in the log", async () => {
    delete process.env.REDIS_IAM_CACHE_NAME;
    const logs: GatewayLogEntry[] = [];
    const { gateway, call } = gatewayFor({ ...secret, port: server.port }, logs);
    try {
      const answer = await call("/get/orders:iam");
      assert.equal(answer.status, 503);
      assert.match(String(answer.json.error), /^ERR Redis unavailable/);
      assert.ok(
        logs.some((entry) => entry.event === "redis" && /REDIS_IAM_CACHE_NAME/.test(entry.message ?? "")),
        JSON.stringify(logs),
      );
    } finally {
      await gateway.close();
    }
  });
});
