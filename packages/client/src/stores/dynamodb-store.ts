/**
 * DynamoDB store (`@aws-sdk/lib-dynamodb`): one item per key, partition key `pk` = `<keyspace>:<key>`,
 * the bytes in `value` (a string when they are UTF-8 text, binary otherwise), and `expiresAt` in
 * epoch seconds for DynamoDB's TTL deletion plus `expiresAtMs` for exact expiry. Expired items are
 * misses even before DynamoDB deletes them. BatchGet in chunks of 100 and BatchWrite in chunks of 25,
 * retrying UnprocessedKeys/UnprocessedItems with backoff. A lock is one item holding its holder's
 * token, its expiry (`lockUntilMs`) and its fence counter, which outlives the lock (7 days).
 * Nothing scans the table: CacheService clears a keyspace with generations.
 */
import type { DynamoDBClient } from "@aws-sdk/client-dynamodb";
import type { DynamoDBDocumentClient } from "@aws-sdk/lib-dynamodb";
import { CacheConfigError, CacheError } from "../errors.js";
import { builtin, sleep } from "../node-builtins.js";
import { type CacheStore, chunk, FENCE_TTL_MS, type StoreEntry } from "./cache-store.js";

export interface DynamoDbStoreOptions {
  tableName: string;
  keyspace?: string;
  /** A DynamoDBClient (wrapped in a document client), a document client, or a factory (lazy). */
  client: DynamoDBClient | DynamoDBDocumentClient | (() => Promise<DynamoDBClient | DynamoDBDocumentClient>);
  /** Strongly consistent reads. Default false. */
  consistentRead?: boolean;
  /** Attempts for unprocessed batch items before failing. Default 8. */
  maxBatchAttempts?: number;
  /** Clock for tests. */
  now?: () => number;
}

type Item = Record<string, unknown>;

const PK = "pk";
const VALUE = "value";

type Lib = typeof import("@aws-sdk/lib-dynamodb");
let libPromise: Promise<Lib> | undefined;
function lib(): Promise<Lib> {
  libPromise ??= import("@aws-sdk/lib-dynamodb");
  return libPromise;
}

function isConditionalFailure(err: unknown): boolean {
  return err instanceof Error && err.name === "ConditionalCheckFailedException";
}

function toBuffer(value: unknown): Buffer | undefined {
  if (typeof value === "string") return Buffer.from(value, "utf8");
  if (value instanceof Uint8Array) return Buffer.from(value.buffer, value.byteOffset, value.byteLength);
  return undefined;
}

/** Text stays readable in the console; other bytes are stored as binary. */
function toAttribute(value: Buffer): string | Uint8Array {
  return value.length > 0 && builtin<typeof import("node:buffer")>("node:buffer").isUtf8(value)
    ? value.toString("utf8")
    : new Uint8Array(value);
}

export class DynamoDbStore implements CacheStore {
  readonly kind = "dynamodb";
  readonly keyspace: string;
  readonly tableName: string;
  private readonly rawClient: DynamoDbStoreOptions["client"];
  private doc: DynamoDBDocumentClient | undefined;
  private readonly consistentRead: boolean;
  private readonly maxBatchAttempts: number;
  private readonly now: () => number;

  constructor(options: DynamoDbStoreOptions) {
    if (!options.tableName)
      throw new CacheConfigError("DynamoDbStore needs a table name", ["CACHE_TABLE_NAME"]);
    this.tableName = options.tableName;
    this.keyspace = options.keyspace ?? "cache";
    this.rawClient = options.client;
    this.consistentRead = options.consistentRead ?? false;
    this.maxBatchAttempts = options.maxBatchAttempts ?? 8;
    this.now = options.now ?? Date.now;
  }

  private k(key: string): string {
    return `${this.keyspace}:${key}`;
  }

  private async client(): Promise<DynamoDBDocumentClient> {
    if (!this.doc) {
      const { DynamoDBDocumentClient } = await lib();
      const raw = typeof this.rawClient === "function" ? await this.rawClient() : this.rawClient;
      this.doc =
        raw instanceof DynamoDBDocumentClient
          ? raw
          : DynamoDBDocumentClient.from(raw as DynamoDBClient, {
              marshallOptions: { removeUndefinedValues: true },
            });
    }
    return this.doc;
  }

  private live(item: Item | undefined, now = this.now()): item is Item {
    if (!item) return false;
    const expiresAtMs = item.expiresAtMs;
    return typeof expiresAtMs !== "number" || expiresAtMs > now;
  }

  private expiry(ttlMs: number | undefined): Item {
    if (ttlMs === undefined) return {};
    const at = this.now() + ttlMs;
    return { expiresAtMs: at, expiresAt: Math.ceil(at / 1000) };
  }

  /** Sends a conditional write: true when it applied, false when its condition did not hold. */
  private async sendConditional(
    send: (client: DynamoDBDocumentClient) => Promise<unknown>,
  ): Promise<boolean> {
    try {
      await send(await this.client());
      return true;
    } catch (err) {
      if (isConditionalFailure(err)) return false;
      throw err;
    }
  }

  private async getItem(key: string, projection?: string[]): Promise<Item | undefined> {
    const { GetCommand } = await lib();
    const out = await (await this.client()).send(
      new GetCommand({
        TableName: this.tableName,
        Key: { [PK]: this.k(key) },
        ConsistentRead: this.consistentRead,
        ...(projection
          ? {
              ProjectionExpression: projection.map((_, i) => `#p${i}`).join(", "),
              ExpressionAttributeNames: Object.fromEntries(projection.map((name, i) => [`#p${i}`, name])),
            }
          : {}),
      }),
    );
    return out.Item;
  }

  async connect(): Promise<void> {
    await this.client();
  }

  async get(key: string): Promise<Buffer | undefined> {
    const item = await this.getItem(key);
    return this.live(item) ? toBuffer(item[VALUE]) : undefined;
  }

  async getMany(keys: readonly string[]): Promise<(Buffer | undefined)[]> {
    const items = await this.batchGet([...new Set(keys)], [PK, VALUE, "expiresAtMs"]);
    const now = this.now();
    return keys.map((key) => {
      const item = items.get(this.k(key));
      return this.live(item, now) ? toBuffer(item[VALUE]) : undefined;
    });
  }

  /** BatchGetItem in chunks of 100, retrying UnprocessedKeys with backoff. Keys must be unique. */
  private async batchGet(keys: readonly string[], projection: string[]): Promise<Map<string, Item>> {
    const { BatchGetCommand } = await lib();
    const client = await this.client();
    const found = new Map<string, Item>();
    const names = Object.fromEntries(projection.map((name, i) => [`#p${i}`, name]));
    const projectionExpression = projection.map((_, i) => `#p${i}`).join(", ");
    for (const part of chunk(keys, 100)) {
      let request: Item[] | undefined = part.map((key) => ({ [PK]: this.k(key) }));
      for (let attempt = 1; request && request.length > 0; attempt++) {
        if (attempt > this.maxBatchAttempts) {
          throw new CacheError(`DynamoDB BatchGet left ${request.length} keys unprocessed`, {
            operation: "getMany",
          });
        }
        if (attempt > 1) await this.backoff(attempt);
        const out = await client.send(
          new BatchGetCommand({
            RequestItems: {
              [this.tableName]: {
                Keys: request,
                ConsistentRead: this.consistentRead,
                ProjectionExpression: projectionExpression,
                ExpressionAttributeNames: names,
              },
            },
          }),
        );
        for (const item of out.Responses?.[this.tableName] ?? []) found.set(String(item[PK]), item);
        request = out.UnprocessedKeys?.[this.tableName]?.Keys as Item[] | undefined;
      }
    }
    return found;
  }

  /** BatchWriteItem in chunks of 25, retrying UnprocessedItems with backoff. */
  private async batchWrite(requests: Item[]): Promise<void> {
    const { BatchWriteCommand } = await lib();
    const client = await this.client();
    for (const part of chunk(requests, 25)) {
      let pending: Item[] | undefined = part;
      for (let attempt = 1; pending && pending.length > 0; attempt++) {
        if (attempt > this.maxBatchAttempts) {
          throw new CacheError(`DynamoDB BatchWrite left ${pending.length} items unprocessed`, {
            operation: "batchWrite",
          });
        }
        if (attempt > 1) await this.backoff(attempt);
        const out = await client.send(new BatchWriteCommand({ RequestItems: { [this.tableName]: pending } }));
        pending = out.UnprocessedItems?.[this.tableName] as Item[] | undefined;
      }
    }
  }

  private backoff(attempt: number): Promise<void> {
    const base = Math.min(1000, 25 * 2 ** (attempt - 2));
    return sleep(base / 2 + Math.random() * base);
  }

  async set(key: string, value: Buffer, ttlMs?: number): Promise<void> {
    const { PutCommand } = await lib();
    await (await this.client()).send(
      new PutCommand({
        TableName: this.tableName,
        Item: { [PK]: this.k(key), [VALUE]: toAttribute(value), ...this.expiry(ttlMs) },
      }),
    );
  }

  async setMany(entries: readonly StoreEntry[]): Promise<void> {
    // BatchWrite rejects two requests for one key: the last entry wins, as with sequential sets.
    const byKey = new Map<string, StoreEntry>();
    for (const entry of entries) byKey.set(entry.key, entry);
    await this.batchWrite(
      [...byKey.values()].map((e) => ({
        PutRequest: { Item: { [PK]: this.k(e.key), [VALUE]: toAttribute(e.value), ...this.expiry(e.ttlMs) } },
      })),
    );
  }

  async delete(key: string): Promise<boolean> {
    const { DeleteCommand } = await lib();
    const out = await (await this.client()).send(
      new DeleteCommand({ TableName: this.tableName, Key: { [PK]: this.k(key) }, ReturnValues: "ALL_OLD" }),
    );
    return this.live(out.Attributes);
  }

  async deleteMany(keys: readonly string[]): Promise<number> {
    const unique = [...new Set(keys)];
    if (unique.length === 0) return 0;
    // BatchWrite does not report what existed: count live items first.
    const existing = await this.batchGet(unique, [PK, "expiresAtMs"]);
    const now = this.now();
    let count = 0;
    for (const item of existing.values()) if (this.live(item, now)) count++;
    await this.batchWrite(unique.map((key) => ({ DeleteRequest: { Key: { [PK]: this.k(key) } } })));
    return count;
  }

  async has(key: string): Promise<boolean> {
    return this.live(await this.getItem(key, [PK, "expiresAtMs"]));
  }

  async expire(key: string, ttlMs: number): Promise<boolean> {
    const { UpdateCommand } = await lib();
    const now = this.now();
    const at = now + ttlMs;
    return this.sendConditional((client) =>
      client.send(
        new UpdateCommand({
          TableName: this.tableName,
          Key: { [PK]: this.k(key) },
          UpdateExpression: "SET expiresAtMs = :ms, expiresAt = :s",
          ConditionExpression:
            "attribute_exists(pk) AND (attribute_not_exists(expiresAtMs) OR expiresAtMs > :now)",
          ExpressionAttributeValues: { ":ms": at, ":s": Math.ceil(at / 1000), ":now": now },
        }),
      ),
    );
  }

  async getTtl(key: string): Promise<number | undefined> {
    const item = await this.getItem(key, [PK, "expiresAtMs"]);
    const now = this.now();
    if (!this.live(item, now)) return undefined;
    return typeof item.expiresAtMs === "number" ? item.expiresAtMs - now : Number.POSITIVE_INFINITY;
  }

  async setIfAbsent(key: string, value: Buffer, ttlMs?: number): Promise<boolean> {
    const { PutCommand } = await lib();
    const now = this.now();
    return this.sendConditional((client) =>
      client.send(
        new PutCommand({
          TableName: this.tableName,
          Item: { [PK]: this.k(key), [VALUE]: toAttribute(value), ...this.expiry(ttlMs) },
          ConditionExpression: "attribute_not_exists(pk) OR expiresAtMs <= :now",
          ExpressionAttributeValues: { ":now": now },
        }),
      ),
    );
  }

  async compareAndDelete(key: string, expected: Buffer): Promise<boolean> {
    const { DeleteCommand } = await lib();
    return this.sendConditional((client) =>
      client.send(
        new DeleteCommand({
          TableName: this.tableName,
          Key: { [PK]: this.k(key) },
          ConditionExpression: "#v = :expected AND (attribute_not_exists(expiresAtMs) OR expiresAtMs > :now)",
          ExpressionAttributeNames: { "#v": VALUE },
          ExpressionAttributeValues: { ":expected": toAttribute(expected), ":now": this.now() },
        }),
      ),
    );
  }

  async compareAndExpire(key: string, expected: Buffer, ttlMs: number): Promise<boolean> {
    const { UpdateCommand } = await lib();
    const now = this.now();
    const at = now + ttlMs;
    return this.sendConditional((client) =>
      client.send(
        new UpdateCommand({
          TableName: this.tableName,
          Key: { [PK]: this.k(key) },
          UpdateExpression: "SET expiresAtMs = :ms, expiresAt = :s",
          ConditionExpression: "#v = :expected AND (attribute_not_exists(expiresAtMs) OR expiresAtMs > :now)",
          ExpressionAttributeNames: { "#v": VALUE },
          ExpressionAttributeValues: {
            ":expected": toAttribute(expected),
            ":ms": at,
            ":s": Math.ceil(at / 1000),
            ":now": now,
          },
        }),
      ),
    );
  }

  async compareAndSet(key: string, expected: Buffer, value: Buffer, ttlMs: number): Promise<boolean> {
    const { PutCommand } = await lib();
    return this.sendConditional((client) =>
      client.send(
        new PutCommand({
          TableName: this.tableName,
          Item: { [PK]: this.k(key), [VALUE]: toAttribute(value), ...this.expiry(ttlMs) },
          ConditionExpression: "#v = :expected AND (attribute_not_exists(expiresAtMs) OR expiresAtMs > :now)",
          ExpressionAttributeNames: { "#v": VALUE },
          ExpressionAttributeValues: { ":expected": toAttribute(expected), ":now": this.now() },
        }),
      ),
    );
  }

  async acquireLock(name: string, token: Buffer, ttlMs: number): Promise<number | undefined> {
    const { UpdateCommand } = await lib();
    const now = this.now();
    const keep = now + FENCE_TTL_MS;
    try {
      const out = await (await this.client()).send(
        new UpdateCommand({
          TableName: this.tableName,
          Key: { [PK]: this.k(name) },
          // The fence starts from the clock (ms) and then counts up, like the Redis function.
          UpdateExpression:
            "SET lockToken = :t, lockUntilMs = :until, fence = if_not_exists(fence, :now) + :one, expiresAtMs = :keep, expiresAt = :keepS",
          ConditionExpression: "attribute_not_exists(lockToken) OR lockUntilMs <= :now",
          ExpressionAttributeValues: {
            ":t": toAttribute(token),
            ":until": now + ttlMs,
            ":now": Math.floor(now),
            ":one": 1,
            ":keep": keep,
            ":keepS": Math.ceil(keep / 1000),
          },
          ReturnValues: "UPDATED_NEW",
        }),
      );
      const fence = Number(out.Attributes?.fence);
      if (!Number.isFinite(fence)) throw new CacheError("DynamoDB returned no fence", { operation: "lock" });
      return fence;
    } catch (err) {
      if (isConditionalFailure(err)) return undefined;
      throw err;
    }
  }

  async releaseLock(name: string, token: Buffer): Promise<boolean> {
    const { UpdateCommand } = await lib();
    return this.sendConditional((client) =>
      client.send(
        new UpdateCommand({
          TableName: this.tableName,
          Key: { [PK]: this.k(name) },
          UpdateExpression: "REMOVE lockToken, lockUntilMs",
          ConditionExpression: "lockToken = :t AND lockUntilMs > :now",
          ExpressionAttributeValues: { ":t": toAttribute(token), ":now": this.now() },
        }),
      ),
    );
  }

  async renewLock(name: string, token: Buffer, ttlMs: number): Promise<boolean> {
    const { UpdateCommand } = await lib();
    const now = this.now();
    return this.sendConditional((client) =>
      client.send(
        new UpdateCommand({
          TableName: this.tableName,
          Key: { [PK]: this.k(name) },
          UpdateExpression: "SET lockUntilMs = :until",
          ConditionExpression: "lockToken = :t AND lockUntilMs > :now",
          ExpressionAttributeValues: { ":t": toAttribute(token), ":now": now, ":until": now + ttlMs },
        }),
      ),
    );
  }

  async ping(): Promise<void> {
    await this.getItem("__cp:ping", [PK]);
  }

  async close(): Promise<void> {}
}
