// Load generator of the gateway bench, run as its own process (`node bench/gateway/load.mjs '<json>'`)
// so that autocannon's CPU use is not charged to the event loop of the server under test. Takes the
// autocannon options as one JSON argument, prints one JSON line with the figures the bench uses.
import { createRequire } from "node:module";

const autocannon = createRequire(import.meta.url)("autocannon");
const options = JSON.parse(process.argv[2] ?? "{}");
const result = await autocannon(options);
const summary = {
  requests: { average: result.requests.average, total: result.requests.total },
  latency: {
    average: result.latency.average,
    p50: result.latency.p50,
    p90: result.latency.p90,
    p99: result.latency.p99,
    max: result.latency.max,
  },
  duration: result.duration,
  non2xx: result.non2xx,
  errors: result.errors,
  timeouts: result.timeouts,
};
process.stdout.write(`${JSON.stringify(summary)}\n`);
