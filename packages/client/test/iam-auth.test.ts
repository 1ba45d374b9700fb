import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { IamAuthTokenProvider } from "../src/index.js";

const credentials = {
  accessKeyId: "AKIDEXAMPLE",
  secretAccessKey: "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY",
};
const T0 = Date.UTC(2024, 0, 15, 10, 30, 0);

function parse(token: string) {
  const [host, query] = token.split("/?");
  return { host, params: new URLSearchParams(query) };
}

describe("ElastiCache IAM auth token", () => {
  it("is a SigV4 presigned connect request for the cache and user", async () => {
    const provider = new IamAuthTokenProvider({
      cacheName: "orders-cache",
      userId: "orders-svc",
      region: "eu-west-1",
      serverless: false,
      credentials,
      now: () => T0,
    });
    const token = await provider.getToken();
    assert.ok(!token.startsWith("https://"));
    const { host, params } = parse(token);
    assert.equal(host, "orders-cache");
    assert.equal(params.get("Action"), "connect");
    assert.equal(params.get("User"), "orders-svc");
    assert.equal(params.get("ResourceType"), null);
    assert.equal(params.get("X-Amz-Algorithm"), "AWS4-HMAC-SHA256");
    assert.equal(params.get("X-Amz-Credential"), "AKIDEXAMPLE/20240115/eu-west-1/elasticache/aws4_request");
    assert.equal(params.get("X-Amz-Date"), "20240115T103000Z");
    assert.equal(params.get("X-Amz-Expires"), "900");
    assert.equal(params.get("X-Amz-SignedHeaders"), "host");
    assert.match(params.get("X-Amz-Signature") ?? "", /^[0-9a-f]{64}$/);
    // deterministic for fixed credentials and clock
    const again = await new IamAuthTokenProvider({
      cacheName: "orders-cache",
      userId: "orders-svc",
      region: "eu-west-1",
      serverless: false,
      credentials,
      now: () => T0,
    }).getToken();
    assert.equal(again, token);
  });

  it("caps the validity at 900 seconds, ElastiCache's maximum", async () => {
    const provider = new IamAuthTokenProvider({
      cacheName: "c",
      userId: "u",
      region: "us-east-1",
      credentials,
      expiresIn: 3600,
      now: () => T0,
    });
    assert.equal(parse(await provider.getToken()).params.get("X-Amz-Expires"), "900");
  });

  it("adds ResourceType=ServerlessCache by default (serverless caches require it) and the session token", async () => {
    const provider = new IamAuthTokenProvider({
      cacheName: "orders-serverless",
      userId: "orders-svc",
      region: "us-east-1",
      credentials: async () => ({ ...credentials, sessionToken: "SESSION/TOKEN+1" }),
      now: () => T0,
    });
    const { params } = parse(await provider.getToken());
    assert.equal(params.get("ResourceType"), "ServerlessCache");
    assert.equal(params.get("X-Amz-Security-Token"), "SESSION/TOKEN+1");
  });

  it("is cached, then rebuilt before it expires", async () => {
    let now = T0;
    const provider = new IamAuthTokenProvider({
      cacheName: "c",
      userId: "u",
      region: "us-east-1",
      credentials,
      refreshBefore: 120,
      now: () => now,
    });
    const first = await provider.getToken();
    now = T0 + 5 * 60_000;
    assert.equal(await provider.getToken(), first);
    assert.equal(provider.needsRefresh(), false);
    now = T0 + 13 * 60_000 + 1; // within 2 minutes of the 15 minute expiry
    assert.equal(provider.needsRefresh(), true);
    const second = await provider.getToken();
    assert.notEqual(second, first);
    assert.equal(parse(second).params.get("X-Amz-Date"), "20240115T104300Z");
    assert.notEqual(parse(second).params.get("X-Amz-Signature"), parse(first).params.get("X-Amz-Signature"));
    assert.equal(provider.peek(), second);
  });

  it("concurrent callers share one signing", async () => {
    let calls = 0;
    const provider = new IamAuthTokenProvider({
      cacheName: "c",
      userId: "u",
      region: "us-east-1",
      credentials: async () => {
        calls++;
        return credentials;
      },
      now: () => T0,
    });
    const tokens = await Promise.all([provider.getToken(), provider.getToken(), provider.getToken()]);
    assert.equal(new Set(tokens).size, 1);
    assert.equal(calls, 1);
  });
});
