import assert from "node:assert/strict";
import { describe, it } from "node:test";
import {
  CreateSecretCommand,
  DeleteSecretCommand,
  GetSecretValueCommand,
  InvalidRequestException,
  ListSecretsCommand,
  PutSecretValueCommand,
  ResourceExistsException,
  ResourceNotFoundException,
  RestoreSecretCommand,
  SecretsManagerClient,
  SecretsManagerServiceException,
} from "@aws-sdk/client-secrets-manager";
import { buildSecretPayload, parseConfig, parseSecretPayload } from "@cacheplane/core";
import { mockClient } from "aws-sdk-client-mock";
import { SecretsManagerStore, SecretsManagerStoreError } from "../src/secrets-manager-store.js";

const config = parseConfig({
  stage: "dev",
  region: "eu-west-1",
  services: [{ name: "Orders-API", keyspace: "orders", access: "read-write" }],
});
const service = config.services[0]!;
const endpoint = {
  host: "shared-abc.serverless.euw1.cache.amazonaws.com",
  port: 6379,
  tls: true,
  cluster: true,
};
const NEW = "NewPassword0123456789abcdefghijk";
const OLD = "OldPassword0123456789abcdefghijk";
const ARN = "arn:aws:secretsmanager:eu-west-1:123456789012:secret:/services/orders-api/redis/orders-AbCdEf";
const meta = { $metadata: { httpStatusCode: 400 } };
const notFound = () =>
  new ResourceNotFoundException({ message: "Secrets Manager can't find the specified secret.", ...meta });

function setup() {
  const client = new SecretsManagerClient({
    region: "eu-west-1",
    credentials: { accessKeyId: "AKIDTEST", secretAccessKey: "test" },
  });
  const mock = mockClient(client);
  const sleeps: number[] = [];
  let now = Date.parse("2030-01-02T03:04:05.000Z");
  const store = new SecretsManagerStore({
    client,
    clock: {
      now: () => now,
      sleep: async (ms) => {
        sleeps.push(ms);
        now += ms;
      },
      random: () => 0.5,
    },
  });
  return { client, mock, store, sleeps };
}

describe("SecretsManagerStore.put", () => {
  it("creates the secret under core's name with managed tags, payload and bookkeeping", async () => {
    const { mock, store } = setup();
    mock.on(PutSecretValueCommand).rejects(notFound());
    mock.on(CreateSecretCommand).resolves({ ARN, Name: service.secretName });
    const payload = buildSecretPayload(config, service, endpoint, { current: NEW });

    await store.put(service, payload);

    const [create] = mock.commandCalls(CreateSecretCommand);
    const input = create!.args[0].input;
    assert.equal(input.Name, "/services/orders-api/redis/orders");
    assert.deepEqual(input.Tags, [
      { Key: "cacheplane:managed", Value: "true" },
      { Key: "cacheplane:userId", Value: "ordersapi" },
      { Key: "cacheplane:service", Value: "Orders-API" },
    ]);
    const doc = JSON.parse(input.SecretString!);
    assert.deepEqual(parseSecretPayload(doc), payload, "clients read exactly the payload");
    assert.deepEqual(doc.cacheplane, {
      service: "Orders-API",
      userId: "ordersapi",
      updatedAt: "2030-01-02T03:04:05.000Z",
    });
    assert.ok(!String(input.Description).includes(NEW));
    assert.equal(store.locate(service), ARN, "locate returns the ARN once known");
  });

  it("updates an existing secret with a new version (PutSecretValue), keeping tags as they are", async () => {
    const { mock, store } = setup();
    mock.on(PutSecretValueCommand).resolves({ ARN });
    await store.put(service, buildSecretPayload(config, service, endpoint, { current: NEW }));
    assert.equal(mock.commandCalls(PutSecretValueCommand).length, 1);
    assert.equal(mock.commandCalls(CreateSecretCommand).length, 0);
    assert.equal(mock.commandCalls(PutSecretValueCommand)[0]!.args[0].input.SecretId, service.secretName);
  });

  it("retries throttling, then succeeds", async () => {
    const { mock, store, sleeps } = setup();
    const throttle = new SecretsManagerServiceException({
      name: "ThrottlingException",
      $fault: "client",
      message: "Rate exceeded",
      ...meta,
    });
    mock.on(PutSecretValueCommand).rejectsOnce(throttle).rejectsOnce(throttle).resolves({ ARN });
    await store.put(service, buildSecretPayload(config, service, endpoint, { current: NEW }));
    assert.equal(mock.commandCalls(PutSecretValueCommand).length, 3);
    assert.equal(sleeps.length, 2);
  });

  it("handles a concurrent create (ResourceExistsException) by writing a new version", async () => {
    const { mock, store } = setup();
    mock.on(PutSecretValueCommand).rejectsOnce(notFound()).resolves({ ARN });
    mock.on(CreateSecretCommand).rejects(new ResourceExistsException({ message: "exists", ...meta }));
    await store.put(service, buildSecretPayload(config, service, endpoint, { current: NEW }));
    assert.equal(mock.commandCalls(PutSecretValueCommand).length, 2);
  });

  it("restores a secret scheduled for deletion (a retired service comes back)", async () => {
    const { mock, store } = setup();
    mock
      .on(PutSecretValueCommand)
      .rejectsOnce(
        new InvalidRequestException({
          message: "You can't perform this operation on the secret because it was marked for deletion.",
          ...meta,
        }),
      )
      .resolves({ ARN });
    mock.on(RestoreSecretCommand).resolves({ ARN });
    await store.put(service, buildSecretPayload(config, service, endpoint, { current: NEW }));
    assert.equal(mock.commandCalls(RestoreSecretCommand).length, 1);
    assert.equal(mock.commandCalls(PutSecretValueCommand).length, 2);
  });

  it("never puts a password into an error message", async () => {
    const { mock, store } = setup();
    mock.on(PutSecretValueCommand).rejects(new InvalidRequestException({ message: "bad request", ...meta }));
    await assert.rejects(
      store.put(service, buildSecretPayload(config, service, endpoint, { current: NEW })),
      (err: Error) => {
        assert.ok(err instanceof SecretsManagerStoreError);
        assert.match(err.message, /PutSecretValue \(\/services\/orders-api\/redis\/orders\)/);
        assert.ok(!err.message.includes(NEW));
        return true;
      },
    );
  });
});

describe("SecretsManagerStore two-password rotation", () => {
  it("holds password + previousPassword and the rotation start while rotating; finish clears both", async () => {
    const { mock, store } = setup();
    let stored = "";
    mock.on(PutSecretValueCommand).callsFake((input) => {
      stored = input.SecretString;
      return { ARN };
    });
    mock.on(GetSecretValueCommand).callsFake(() => ({
      ARN,
      Name: service.secretName,
      SecretString: stored,
      CreatedDate: new Date("2030-01-01T00:00:00Z"),
    }));

    const rotating = buildSecretPayload(config, service, endpoint, { current: NEW, previous: OLD });
    await store.put(service, rotating, { rotation: { startedAt: "2030-01-02T00:00:00.000Z" } });
    const during = await store.get(service);
    assert.equal(during?.payload.password, NEW);
    assert.equal(during?.payload.previousPassword, OLD);
    assert.deepEqual(during?.rotation, { startedAt: "2030-01-02T00:00:00.000Z" });
    assert.equal(during?.userId, "ordersapi");

    await store.put(service, buildSecretPayload(config, service, endpoint, { current: NEW }));
    const after = await store.get(service);
    assert.equal(after?.payload.previousPassword, undefined);
    assert.equal(after?.rotation, undefined);
    assert.equal(after?.updatedAt, "2030-01-02T03:04:05.000Z");
  });
});

describe("SecretsManagerStore.get", () => {
  it("reads a secret CloudFormation generated (no bookkeeping) and returns undefined when missing", async () => {
    const { mock, store } = setup();
    const generated = JSON.stringify({
      host: endpoint.host,
      port: "6379",
      username: "ordersapi",
      keyspace: "orders",
      tls: true,
      password: NEW,
    });
    mock
      .on(GetSecretValueCommand)
      .resolvesOnce({
        ARN,
        Name: service.secretName,
        SecretString: generated,
        CreatedDate: new Date("2030-01-01T00:00:00Z"),
      })
      .rejects(notFound());
    const found = await store.get(service);
    assert.equal(found?.payload.port, 6379);
    assert.equal(found?.updatedAt, "2030-01-01T00:00:00.000Z");
    assert.equal(found?.rotation, undefined);
    assert.equal(await store.get(service), undefined);
  });
});

describe("SecretsManagerStore.listManagedUserIds and remove", () => {
  const entry = (name: string, tags: Record<string, string>, extra: Record<string, unknown> = {}) => ({
    ARN: `arn:aws:secretsmanager:eu-west-1:123456789012:secret:${name}-AbCdEf`,
    Name: name,
    Tags: Object.entries(tags).map(([Key, Value]) => ({ Key, Value })),
    ...extra,
  });

  it("lists user ids of provisioner-managed secrets across pages, filtering by tag", async () => {
    const { mock, store } = setup();
    mock
      .on(ListSecretsCommand)
      .resolvesOnce({
        SecretList: [
          entry("/services/orders/redis/orders", {
            "cacheplane:managed": "true",
            "cacheplane:userId": "orders",
          }),
          entry("/services/cfn/redis/cfn", {
            "cacheplane:managed": "cloudformation",
            "cacheplane:userId": "cfn",
          }),
        ],
        NextToken: "page2",
      })
      .resolvesOnce({
        SecretList: [
          entry("/services/catalog/redis/catalog", {
            "cacheplane:managed": "true",
            "cacheplane:userId": "catalog",
          }),
          // tag-key and tag-value filters match independently: value "true" on another key is not enough
          entry("/x", { "cacheplane:managed": "no", other: "true", "cacheplane:userId": "x" }),
        ],
      });
    assert.deepEqual(await store.listManagedUserIds(), ["catalog", "orders"]);
    const calls = mock.commandCalls(ListSecretsCommand);
    assert.deepEqual(calls[0]!.args[0].input.Filters, [
      { Key: "tag-key", Values: ["cacheplane:managed"] },
      { Key: "tag-value", Values: ["true"] },
    ]);
    assert.equal(calls[1]!.args[0].input.NextToken, "page2");
  });

  it("removes only the managed secret of that user, with a recovery window (or at once when forced)", async () => {
    const { mock, store } = setup();
    mock.on(ListSecretsCommand).resolves({
      SecretList: [
        entry("/services/orders/redis/orders", {
          "cacheplane:managed": "true",
          "cacheplane:userId": "orders",
        }),
        entry("/services/orders/redis/cfn", {
          "cacheplane:managed": "cloudformation",
          "cacheplane:userId": "orders",
        }),
      ],
    });
    mock.on(DeleteSecretCommand).resolves({});
    await store.remove("orders");
    assert.deepEqual(
      mock.commandCalls(DeleteSecretCommand).map((c) => c.args[0].input),
      [{ SecretId: entry("/services/orders/redis/orders", {}).ARN, RecoveryWindowInDays: 7 }],
    );

    const forced = new SecretsManagerStore({
      client: (store as unknown as { client: SecretsManagerClient }).client,
      forceDelete: true,
    });
    await forced.remove("orders");
    assert.equal(mock.commandCalls(DeleteSecretCommand)[1]!.args[0].input.ForceDeleteWithoutRecovery, true);
  });

  it("locate falls back to the name before the store has seen the secret", () => {
    const { store } = setup();
    assert.equal(store.locate(service), "/services/orders-api/redis/orders");
  });
});
