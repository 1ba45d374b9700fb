/**
 * CPU profile of one server of the gateway bench under wrk load (not a suite: `bench/run.ts` only
 * runs `index.ts`):
 *
 *   node --import tsx bench/gateway/profile.ts [gateway|bare] [get|set] [seconds] [profile-dir]
 *
 * Starts redis-server and the chosen server as the bench does (same CPU layout), the server with
 * `--cpu-prof --cpu-prof-dir=<profile-dir>` (default /tmp/cacheplane-prof; a gateway's workers
 * inherit it), runs wrk for the given seconds, stops the server (which writes the .cpuprofile)
 * and prints wrk's figures with the CPU time per request of the server's process tree and of
 * redis-server (robust to a loaded machine, where req/s is not). `PROFILE_CPU_PROF=0` runs without
 * `--cpu-prof` (its sampling costs CPU too).
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { cpuLayout, ensureDebianTool, processTreeCpuMs } from "../lib/system.js";
import { KEY, startBareServer, startGateway, startPlatform, VALUE } from "./servers.js";
import { runWrk } from "./wrk.js";

const [target = "gateway", kind = "get", seconds = "10", profileDir = "/tmp/cacheplane-prof"] =
  process.argv.slice(2);
if (target !== "gateway" && target !== "bare")
  throw new Error(`target must be gateway or bare, not ${target}`);
if (kind !== "get" && kind !== "set") throw new Error(`kind must be get or set, not ${kind}`);
const wrk = ensureDebianTool("wrk", "wrk");
if ("missing" in wrk) throw new Error(wrk.missing);
const layout = cpuLayout("wrk");
const dir = mkdtempSync(join(tmpdir(), "cacheplane-bench-profile-"));
const platform = await startPlatform(layout, dir);
const nodeArgs = process.env.PROFILE_CPU_PROF === "0" ? [] : ["--cpu-prof", `--cpu-prof-dir=${profileDir}`];
try {
  await platform.redis.client().set(KEY, VALUE);
  const gateway = await startGateway(platform, layout, target === "gateway" ? { nodeArgs } : {});
  const token = gateway.get.headers.authorization!.replace(/^Bearer /, "");
  const server = target === "bare" ? await startBareServer(platform, layout, token, { nodeArgs }) : gateway;
  try {
    const cpu0 = processTreeCpuMs(server.pid);
    const redis0 = processTreeCpuMs(platform.redis.pid!);
    const result = await runWrk(
      server[kind],
      { wrk: wrk.path, connections: 50, threads: 1, durationS: Number(seconds), cpus: layout.load, dir },
      `profile ${target} ${kind}`,
    );
    const cpuMs = processTreeCpuMs(server.pid) - cpu0;
    const redisCpuMs = processTreeCpuMs(platform.redis.pid!) - redis0;
    console.log(
      JSON.stringify({
        target,
        kind,
        layout: layout.description,
        rps: result.rps,
        latencyUs: result.latencyUs,
        cpuUsPerRequest: (cpuMs * 1000) / result.requests,
        redisCpuUsPerRequest: (redisCpuMs * 1000) / result.requests,
      }),
    );
  } finally {
    await server.stop();
    if (server !== gateway) await gateway.stop();
  }
  console.log(`profile written to ${profileDir}`);
} finally {
  await platform.redis.stop();
  rmSync(dir, { recursive: true, force: true });
}
