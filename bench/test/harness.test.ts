/**
 * The bench harness's own checks (no benchmark runs here, no timed assertions): the parsers whose
 * mistakes would turn into wrong figures, the goal verdicts, and, when wrk is installed, that a
 * server answering errors fails a measurement instead of passing for a fast server.
 */
import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, it } from "node:test";
import { parseWrkOutput, runWrk, wrkScript } from "../gateway/wrk.js";
import { comparison, meetsGoal, skipped } from "../lib/rows.js";
import { median, quantile, rotation } from "../lib/stats.js";
import { cpuLayout, expandCpuList, parseProcStat, which } from "../lib/system.js";
import { environmentNote, metCell, toMarkdown } from "../run.js";

describe("goal verdicts", () => {
  it("says no when a ratio goal is missed, yes when met, in both directions", () => {
    const slow = comparison({
      id: "t.slow",
      name: "slow",
      unit: "req/s",
      value: 90,
      baseline: { name: "base", value: 100 },
      direction: "higher",
      goal: { min: 1, source: "test" },
    });
    assert.equal(slow.ratio, 0.9);
    assert.equal(metCell(slow), "no");
    const fast = comparison({ ...slowInput(), value: 100 });
    assert.equal(metCell(fast), "yes");
    const cold = comparison({
      id: "t.cold",
      name: "cold",
      unit: "ms",
      value: 120,
      baseline: { name: "raw", value: 100 },
      direction: "lower",
      goal: { max: 1.1, source: "test" },
    });
    assert.equal(metCell(cold), "no");
  });

  it("never says yes for a figure that is not a number", () => {
    assert.equal(meetsGoal(Number.NaN, { min: 1, source: "t" }), false);
    assert.equal(meetsGoal(Number.POSITIVE_INFINITY, { max: 1.1, source: "t" }), false);
    const zeroBaseline = comparison({ ...slowInput(), baseline: { name: "base", value: 0 } });
    assert.equal(metCell(zeroBaseline), "no");
  });

  it("reports a skipped row's goal as not measured, with the reason in the table", () => {
    const row = skipped({
      id: "t.skip",
      name: "gateway vs Webdis",
      unit: "req/s",
      baselineName: "Webdis",
      reason: "webdis could not be installed",
      goal: { min: 1, source: "test" },
    });
    assert.equal(metCell(row), "not measured");
    const md = toMarkdown("t", [row], { environment: "test" });
    assert.match(md, /skipped: webdis could not be installed/);
    assert.match(md, /Goals: 0 met, 0 not met, 1 not measured/);
    assert.doesNotMatch(md, /\| yes \|/);
  });

  it("marks a busy machine's results as measured on a loaded machine", () => {
    assert.match(environmentNote({ busyPercent: 60, loadavg: [3, 2, 1] }), /measured on a loaded machine/);
    assert.doesNotMatch(environmentNote({ busyPercent: 2, loadavg: [0.1, 0.1, 0.1] }), /loaded machine/);
    assert.match(environmentNote({ busyPercent: Number.NaN, loadavg: [0, 0, 0] }), /loaded machine/);
  });
});

function slowInput() {
  return {
    id: "t.slow",
    name: "slow",
    unit: "req/s",
    value: 90,
    baseline: { name: "base", value: 100 },
    direction: "higher" as const,
    goal: { min: 1, source: "test" },
  };
}

describe("parsers", () => {
  it("reads utime/stime/ppid from /proc/<pid>/stat even when the command name has spaces and parens", () => {
    const line = "4242 (node (worker) 1) S 4200 4242 4242 0 -1 4194560 100 0 0 0 1234 567 0 0 20 0 11 0 99";
    assert.deepEqual(parseProcStat(line), { pid: 4242, ppid: 4200, utime: 1234, stime: 567 });
    assert.throws(() => parseProcStat("garbage"));
  });

  it("takes wrk's figures from the done hook's JSON line only", () => {
    const out = [
      "Running 5s test @ http://127.0.0.1:1/",
      "  Non-2xx or 3xx responses: 3",
      'WRK_JSON {"requests":5000,"duration_us":2000000,"errors":{"connect":0,"read":0,"write":0,"status":3,"timeout":0},"latency_us":{"mean":10.5,"p50":9,"p90":12,"p99":40,"max":90}}',
    ].join("\n");
    const result = parseWrkOutput(out);
    assert.equal(result.rps, 2500);
    assert.equal(result.errors.status, 3);
    assert.equal(result.latencyUs.p99, 40);
    assert.throws(() => parseWrkOutput("Requests/sec: 99999"), /WRK_JSON/);
  });

  it("quotes headers and bodies so Lua reads them verbatim", () => {
    const body = 'a]=]b]==]c [["GET","k"]]';
    const script = wrkScript({
      url: "http://x/",
      method: "POST",
      headers: { authorization: "Bearer t" },
      body,
    });
    // `wrk.headers[[=[` would open a long string at `[[`: the index has spaces.
    assert.match(script, /^wrk\.headers\[ \[=\[\nauthorization\]=\] \] = \[=\[\nBearer t\]=\]$/m);
    // The body holds "]=]" and "]==]": its long string needs level 3.
    assert.ok(script.includes(`wrk.body = [===[\n${body}]===]`));
  });

  it("expands CPU lists and lays out 1, 2, 3 and 8 CPUs", () => {
    assert.deepEqual(expandCpuList("0-2,5"), [0, 1, 2, 5]);
    if (which("taskset") === undefined) return;
    assert.equal(cpuLayout("wrk", "server", [0]).pinned, false);
    const two = cpuLayout("wrk", "server", [2, 3]);
    assert.deepEqual([two.load, two.redis, two.server, two.serverCpuCount], ["2", "3", "3", 1]);
    const three = cpuLayout("wrk", "server", [0, 1, 2]);
    assert.deepEqual([three.load, three.redis, three.server], ["0", "1", "2"]);
    const eight = cpuLayout("wrk", "server", [0, 1, 2, 3, 4, 5, 6, 7]);
    assert.deepEqual(
      [eight.load, eight.redis, eight.server, eight.serverCpuCount],
      ["0,1", "2", "3,4,5,6,7", 5],
    );
  });

  it("takes medians and nearest-rank quantiles", () => {
    assert.equal(median([3, 1, 2]), 2);
    assert.equal(median([4, 1, 3, 2]), 3);
    assert.equal(quantile([1, 2, 3, 4, 5, 6, 7, 8, 9, 10], 0.9), 9);
    assert.ok(Number.isNaN(median([])));
    assert.deepEqual(rotation(["a", "b", "c"], 1), ["b", "c", "a"]);
  });
});

describe("wrk runs (needs wrk; skipped without it)", {
  skip: which("wrk") === undefined && "wrk not installed",
}, () => {
  async function serve(status: number): Promise<{ server: Server; url: string }> {
    const server = createServer((req, res) => {
      const ok = req.method === "POST" && req.headers.authorization === "Bearer tkn";
      res.writeHead(ok ? status : 418).end("{}");
    });
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    return { server, url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/` };
  }

  for (const [status, fails] of [
    [200, false],
    [401, true],
  ] as const) {
    it(`${fails ? "fails" : "passes"} a measurement whose answers are ${status}`, async (t) => {
      const { server, url } = await serve(status);
      const dir = mkdtempSync(join(tmpdir(), "cacheplane-bench-test-"));
      t.after(() => {
        server.closeAllConnections();
        server.close();
        rmSync(dir, { recursive: true, force: true });
      });
      const run = runWrk(
        { url, method: "POST", headers: { authorization: "Bearer tkn" }, body: "[1]" },
        { wrk: which("wrk")!, connections: 2, threads: 1, durationS: 1, cpus: "", dir },
        `test ${status}`,
      );
      if (fails) await assert.rejects(run, /non-2xx/);
      else assert.ok((await run).requests > 0);
    });
  }
});
