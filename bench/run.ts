/**
 * `npm run bench [suite ...]`: runs every suite under bench/<suite>/index.ts that exports
 * `run(): Promise<BenchRow[] | SuiteResult>`, prints a table, and writes bench/results/<suite>.json
 * and bench/results/<suite>.md (plus bench/results/README.md listing all of them).
 *
 * Every result file carries an `environment` note: how busy the machine was just before the suite
 * started (measured from /proc/stat while the bench itself was idle) and `BENCH_ENVIRONMENT` when
 * set (e.g. "measured on a loaded machine: other jobs running"). Figures from a busy machine are
 * marked, never passed off as final.
 */
import { existsSync, mkdirSync, readdirSync, writeFileSync } from "node:fs";
import { cpus, totalmem } from "node:os";
import { join } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { machineLoad } from "./lib/system.js";
import type { BenchRow, SuiteResult } from "./types.js";

const here = fileURLToPath(new URL(".", import.meta.url));
const resultsDir = join(here, "results");
/** Above this share of CPU in use by other processes, a run is marked as measured on a loaded machine. */
const BUSY_PERCENT = 10;

function fmt(n: number): string {
  if (!Number.isFinite(n)) return String(n);
  if (Math.abs(n) >= 100) return n.toFixed(0);
  if (Math.abs(n) >= 10) return n.toFixed(1);
  return n.toFixed(3);
}

/** The "met" cell: yes / no for goals, "not measured" for a skipped goal, empty without a goal. */
export function metCell(row: BenchRow): string {
  if (row.goal === undefined) return "";
  if (row.skipped !== undefined || row.met === undefined) return "not measured";
  return row.met ? "yes" : "no";
}

const cell = (text: string) => text.replace(/\|/g, "\\|").replace(/\n/g, " ");

export function toMarkdown(suite: string, rows: BenchRow[], meta: Record<string, string>): string {
  const goals = rows.filter((r) => r.goal !== undefined);
  const met = goals.filter((r) => metCell(r) === "yes").length;
  const notMet = goals.filter((r) => metCell(r) === "no").length;
  const lines = [
    `# Benchmark: ${suite}`,
    "",
    Object.entries(meta)
      .map(([k, v]) => `- ${k}: ${v}`)
      .join("\n"),
    "",
    `Goals: ${met} met, ${notMet} not met, ${goals.length - met - notMet} not measured (of ${goals.length}). Ratio = value / baseline.`,
    "",
    "| measurement | value | baseline (same run) | ratio | goal | met | notes |",
    "| --- | ---: | --- | ---: | --- | --- | --- |",
  ];
  for (const r of rows) {
    const value = r.skipped !== undefined ? `skipped: ${r.skipped}` : `${fmt(r.value)} ${r.unit}`;
    const baseline = r.baseline
      ? r.skipped !== undefined
        ? r.baseline.name
        : `${r.baseline.name}: ${fmt(r.baseline.value)} ${r.unit}`
      : "";
    const ratio = r.ratio !== undefined && r.skipped === undefined ? fmt(r.ratio) : "";
    lines.push(
      `| ${cell(r.name)} | ${cell(value)} | ${cell(baseline)} | ${ratio} | ${cell(r.goal ?? "")} | ${metCell(r)} | ${cell(
        r.notes ?? "",
      )} |`,
    );
  }
  return `${lines.join("\n")}\n`;
}

/** The environment note of a result file (see the module comment). */
export function environmentNote(load: { busyPercent: number; loadavg: number[] }, note?: string): string {
  const measured = `CPU ${load.busyPercent}% busy with other processes over 2 s before the suite; load average ${load.loadavg.join(
    " ",
  )}`;
  const loaded = !(load.busyPercent <= BUSY_PERCENT);
  const parts = [
    ...(note ? [note] : []),
    loaded ? `measured on a loaded machine (${measured}): not final figures` : measured,
  ];
  return parts.join("; ");
}

async function main(): Promise<void> {
  const wanted = process.argv.slice(2);
  const suites = readdirSync(here, { withFileTypes: true })
    .filter((d) => d.isDirectory() && d.name !== "results" && existsSync(join(here, d.name, "index.ts")))
    .map((d) => d.name)
    .filter((s) => wanted.length === 0 || wanted.includes(s))
    .sort();
  if (suites.length === 0) {
    console.error(`bench: no suites found${wanted.length ? ` matching ${wanted.join(", ")}` : ""}`);
    process.exit(1);
  }
  mkdirSync(resultsDir, { recursive: true });
  let failed = false;
  for (const suite of suites) {
    const meta: Record<string, string> = {
      date: new Date().toISOString(),
      node: process.version,
      cpu: `${cpus().length} x ${cpus()[0]?.model ?? "unknown"}`,
      memory: `${Math.round(totalmem() / 2 ** 30)} GiB`,
      environment: environmentNote(await machineLoad(), process.env.BENCH_ENVIRONMENT),
    };
    console.error(`bench: running ${suite} (${meta.environment}) ...`);
    try {
      const mod = (await import(pathToFileURL(join(here, suite, "index.ts")).href)) as {
        run(): Promise<BenchRow[] | SuiteResult>;
      };
      const result = await mod.run();
      const { rows, meta: suiteMeta } = Array.isArray(result) ? { rows: result, meta: {} } : result;
      const allMeta = { ...meta, ...suiteMeta };
      writeFileSync(
        join(resultsDir, `${suite}.json`),
        `${JSON.stringify({ suite, ...allMeta, rows }, null, 2)}\n`,
      );
      const md = toMarkdown(suite, rows, allMeta);
      writeFileSync(join(resultsDir, `${suite}.md`), md);
      console.log(md);
    } catch (err) {
      failed = true;
      console.error(
        `bench: ${suite} failed (its previous results are left as they were): ${
          err instanceof Error ? (err.stack ?? err.message) : String(err)
        }`,
      );
    }
  }
  const index = readdirSync(resultsDir)
    .filter((f) => f.endsWith(".md") && f !== "README.md")
    .map((f) => `- [${f.replace(/\.md$/, "")}](./${f})`);
  writeFileSync(
    join(resultsDir, "README.md"),
    `# Benchmark results\n\nWritten by \`npm run bench\`; how to read them: [../README.md](../README.md).\n\n${index.join("\n")}\n`,
  );
  process.exit(failed ? 1 : 0);
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? "").href) await main();
