/**
 * CPU profile of one server of the gateway bench under load:
 *
 *   node --cpu-prof --cpu-prof-dir=/tmp/prof --import tsx bench/gateway/profile.ts [gateway|baseline] [get|set|pipeline] [seconds]
 *
 * This process runs the servers (gateway and baseline, as in the bench); autocannon runs in a child
 * process, so the profile shows the server side only. Prints the autocannon figures at the end.
 */
import { runLoad } from "./load.js";
import { startBenchServers } from "./servers.js";

const [target = "gateway", kind = "get", seconds = "10"] = process.argv.slice(2);
const servers = await startBenchServers();
try {
  await servers.redis.set("bench:k", "x".repeat(64));
  const base = target === "baseline" ? servers.baselineUrl : servers.gatewayUrl;
  const headers = { authorization: `Bearer ${servers.token}`, "content-type": "application/json" };
  const duration = Number(seconds);
  const options =
    kind === "set"
      ? { url: `${base}/`, method: "POST" as const, body: JSON.stringify(["SET", "bench:k", "x".repeat(64)]) }
      : kind === "pipeline"
        ? {
            url: `${base}/pipeline`,
            method: "POST" as const,
            body: JSON.stringify(Array.from({ length: 100 }, () => ["GET", "bench:k"])),
          }
        : { url: `${base}/get/bench:k` };
  const result = await runLoad({ ...options, headers, connections: 50, duration });
  console.log(JSON.stringify({ target, kind, rps: result.requests.average, latency: result.latency }));
} finally {
  await servers.close();
}
