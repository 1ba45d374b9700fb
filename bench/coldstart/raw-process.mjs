// One cold start of raw ioredis, run in a fresh process by the coldstart suite, doing what the
// client does: import the bundle, read and parse the same secret file, TLS connect with the
// client's connection settings, first GET + JSON.parse. Prints one JSON line (ms per step).
import { readFile } from "node:fs/promises";

const t0 = performance.now();
const { Redis } = await import(process.env.BENCH_BUNDLE);
const t1 = performance.now();
const secret = JSON.parse(await readFile(process.env.REDIS_SECRET_FILE, "utf8"));
const t2 = performance.now();
const redis = new Redis({
  host: secret.host,
  port: secret.port,
  username: secret.username,
  password: secret.password,
  tls: secret.tls ? {} : undefined,
  // The client's settings that shape the connection (redis-connection.ts): no INFO ready check
  // (service users may not run INFO), no CLIENT SETINFO, the same socket options and timeouts.
  lazyConnect: true,
  enableReadyCheck: false,
  enableOfflineQueue: false,
  maxRetriesPerRequest: 1,
  commandTimeout: 1000,
  connectTimeout: 2000,
  disableClientInfo: true,
  keepAlive: 30_000,
  noDelay: true,
});
await redis.connect();
const t3 = performance.now();
const value = JSON.parse((await redis.get(`${secret.keyspace}:${process.env.BENCH_KEY}`)) ?? "null");
const t4 = performance.now();
if (value?.cold !== true) throw new Error(`unexpected value ${JSON.stringify(value)}`);
process.stdout.write(
  `${JSON.stringify({ import: t1 - t0, secret: t2 - t1, connect: t3 - t2, firstGet: t4 - t3, total: t4 - t0, bootstrap: t0 })}\n`,
);
process.exit(0);
