/**
 * The client's own per-call cost, without network or Redis: CacheService over a RedisStore whose
 * client is an in-memory stand-in that answers at once, against the same stand-in called "raw"
 * (what the bench's baselines do). CPU time per call (less sensitive to other processes than
 * throughput) and, with `--alloc`, bytes allocated per call (V8 sampling heap profiler).
 *
 * Like the bench (and an application), it runs every scenario in one process with 32 calls in
 * flight on 1000 keys: measuring one API alone, sequentially, on one key hid a real cost (the
 * in-flight Map of getOrSet, see cache-service.ts).
 *
 *   node --import tsx bench/client/overhead.ts [--alloc] [scenario,scenario,...]
 */
import { Session } from "node:inspector/promises";
import { CacheService, type RedisClient, RedisStore } from "@cacheplane/client";
import { createRateLimiter } from "@cacheplane/client/rate-limits";

const args = process.argv.slice(2);
const alloc = args.includes("--alloc");
const wanted = args.find((a) => !a.startsWith("--"))?.split(",");
const N = 200_000;
const ROUNDS = 9;

// Values are kept as Redis keeps them (bytes): getBuffer returns them, get decodes them, set keeps
// what it is given (a server copies the bytes either way; converting here would bill one side).
const data = new Map<string, Buffer | string>();
const fake = {
  status: "ready",
  getBuffer: (key: string) => {
    const v = data.get(key);
    return Promise.resolve(v === undefined ? null : typeof v === "string" ? Buffer.from(v) : v);
  },
  get: (key: string) => {
    const v = data.get(key);
    return Promise.resolve(v === undefined ? null : v.toString());
  },
  set: (key: string, value: Buffer | string, ..._rest: unknown[]) => {
    data.set(key, value);
    return Promise.resolve("OK");
  },
  evalsha: (..._args: unknown[]) => Promise.resolve([1, 99, 1000, 0]),
  fcall: (..._args: unknown[]) => Promise.resolve([1, 99, 1000, 0]),
  on: () => fake,
  off: () => fake,
} as unknown as RedisClient;

const cache = new CacheService({ store: new RedisStore({ client: fake, keyspace: "o" }) });
const value = { id: 42, name: "bench value", tags: ["a", "b", "c"], price: 1999, active: true };
const json = Buffer.from(JSON.stringify(value));
// As in production: the keyspace has a generation and entries are stamped with it (codec.ts).
data.set("o:__cp:gen", Buffer.from("AAAAAAAAAAAAAAAA"));
const stamped = Buffer.concat([Buffer.from("\x01AAAAAAAAAAAAAAAA\x01"), json]);
for (let i = 0; i < 1000; i++) {
  data.set(`o:hit:${i}`, stamped);
  data.set(`o:rawhit:${i}`, json);
}
const loader = async () => value;
const limiter = createRateLimiter(cache, { algorithm: "fixed-window", limit: 1e9, window: 3600, name: "f" });

const scenarios: [string, (i: number) => Promise<unknown>][] = [
  ["raw get + JSON.parse", async (i) => JSON.parse((await fake.get(`o:rawhit:${i % 1000}`)) ?? "null")],
  ["CacheService.get", (i) => cache.get(`hit:${i % 1000}`)],
  ["CacheService.getOrSet (hit)", (i) => cache.getOrSet(`hit:${i % 1000}`, loader, { ttl: 3600 })],
  ["raw set + JSON.stringify", (i) => fake.set(`o:raws:${i % 1000}`, JSON.stringify(value), "PX", 60_000)],
  ["CacheService.set", (i) => cache.set(`s:${i % 1000}`, value, { ttl: 60 })],
  ["rateLimiter fixed-window", () => limiter.limit("u")],
];
const chosen = scenarios.filter(([name]) => !wanted || wanted.some((w) => name.includes(w)));

async function run(op: (i: number) => Promise<unknown>): Promise<void> {
  let next = 0;
  await Promise.all(
    Array.from({ length: 32 }, async () => {
      while (next < N) await op(next++);
    }),
  );
}

async function cpuPerCall(op: (i: number) => Promise<unknown>): Promise<number> {
  const started = process.cpuUsage();
  await run(op);
  const used = process.cpuUsage(started);
  return ((used.user + used.system) * 1000) / N;
}

interface HeapNode {
  selfSize: number;
  children: HeapNode[];
}

async function bytesPerCall(session: Session, op: (i: number) => Promise<unknown>): Promise<number> {
  await session.post("HeapProfiler.startSampling", {
    samplingInterval: 256,
    includeObjectsCollectedByMinorGC: true,
    includeObjectsCollectedByMajorGC: true,
  } as never);
  await run(op);
  const { profile } = (await session.post("HeapProfiler.stopSampling")) as { profile: { head: HeapNode } };
  let total = 0;
  const walk = (node: HeapNode) => {
    total += node.selfSize;
    node.children.forEach(walk);
  };
  walk(profile.head);
  return total / N;
}

const median = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)] ?? 0;
const cpu = new Map<string, number[]>(chosen.map(([name]) => [name, []]));
for (let round = 0; round < ROUNDS; round++) {
  for (const [name, op] of chosen) cpu.get(name)?.push(await cpuPerCall(op));
}
const bytes = new Map<string, number>();
if (alloc) {
  const session = new Session();
  session.connect();
  for (const [name, op] of chosen) bytes.set(name, await bytesPerCall(session, op));
  session.disconnect();
}
for (const [name] of chosen) {
  const b = bytes.get(name);
  console.log(
    `${name.padEnd(30)} ${median(cpu.get(name) ?? [])
      .toFixed(0)
      .padStart(6)} ns CPU/call` + (b === undefined ? "" : `  ${b.toFixed(0).padStart(6)} B allocated/call`),
  );
}
