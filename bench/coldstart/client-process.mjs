// One cold start of @cacheplane/client, run in a fresh process by the coldstart suite: import the
// bundle, read the secret file (REDIS_SECRET_FILE), createCache() + TLS connect, first get. Prints
// one JSON line with the time of each step (ms, performance.now()). BENCH_MODE=lazy skips the
// explicit steps: createCache(); await cache.get() (what a handler does), total only.
const t0 = performance.now();
const { createCache, SecretSource } = await import(process.env.BENCH_BUNDLE);
const t1 = performance.now();
let t2 = t1;
let t3 = t1;
let cache;
if (process.env.BENCH_MODE === "lazy") {
  cache = createCache();
} else {
  // The same read createCache's own SecretSource does; it fills the module-wide secret cache,
  // which the connection below reuses (same source id: the file path).
  await new SecretSource({ kind: "file", path: process.env.REDIS_SECRET_FILE }).get();
  t2 = performance.now();
  cache = createCache();
  await cache.connect();
  t3 = performance.now();
}
const value = await cache.get(process.env.BENCH_KEY);
const t4 = performance.now();
if (value?.cold !== true) throw new Error(`unexpected value ${JSON.stringify(value)}`);
const steps =
  process.env.BENCH_MODE === "lazy"
    ? {}
    : { import: t1 - t0, secret: t2 - t1, connect: t3 - t2, firstGet: t4 - t3 };
process.stdout.write(`${JSON.stringify({ ...steps, total: t4 - t0, bootstrap: t0 })}\n`);
process.exit(0);
