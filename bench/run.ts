/**
 * `npm run bench [suite ...]`: runs every suite under bench/<suite>/index.ts that exports
 * `run(): Promise<BenchRow[]>`, prints a table, and writes bench/results/<suite>.json and
 * bench/results/<suite>.md (plus bench/results/README.md listing all of them).
 */
import { existsSync, mkdirSync, readdirSync, writeFileSync } from "node:fs";
import { cpus, totalmem } from "node:os";
import { join } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import type { BenchRow } from "./types.js";

const here = fileURLToPath(new URL(".", import.meta.url));
const resultsDir = join(here, "results");

function fmt(n: number): string {
  if (!Number.isFinite(n)) return String(n);
  if (Math.abs(n) >= 100) return n.toFixed(0);
  if (Math.abs(n) >= 10) return n.toFixed(1);
  return n.toFixed(3);
}

export function toMarkdown(suite: string, rows: BenchRow[], meta: Record<string, string>): string {
  const lines = [
    `# Benchmark: ${suite}`,
    "",
    Object.entries(meta)
      .map(([k, v]) => `- ${k}: ${v}`)
      .join("\n"),
    "",
    "| measurement | value | baseline (same run) | ratio | goal | met |",
    "| --- | ---: | --- | ---: | --- | --- |",
  ];
  for (const r of rows) {
    lines.push(
      `| ${r.name} | ${fmt(r.value)} ${r.unit} | ${r.baseline ? `${r.baseline.name}: ${fmt(r.baseline.value)} ${r.unit}` : ""} | ${
        r.ratio !== undefined ? fmt(r.ratio) : ""
      } | ${r.goal ?? ""} | ${r.met === undefined ? "" : r.met ? "yes" : "no"} |`,
    );
  }
  return `${lines.join("\n")}\n`;
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
  const meta = {
    date: new Date().toISOString(),
    node: process.version,
    cpu: `${cpus().length} x ${cpus()[0]?.model ?? "unknown"}`,
    memory: `${Math.round(totalmem() / 2 ** 30)} GiB`,
  };
  let failed = false;
  for (const suite of suites) {
    console.error(`bench: running ${suite} ...`);
    try {
      const mod = (await import(pathToFileURL(join(here, suite, "index.ts")).href)) as {
        run(): Promise<BenchRow[]>;
      };
      const rows = await mod.run();
      writeFileSync(
        join(resultsDir, `${suite}.json`),
        `${JSON.stringify({ suite, ...meta, rows }, null, 2)}\n`,
      );
      const md = toMarkdown(suite, rows, meta);
      writeFileSync(join(resultsDir, `${suite}.md`), md);
      console.log(md);
    } catch (err) {
      failed = true;
      console.error(
        `bench: ${suite} failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}`,
      );
    }
  }
  const index = readdirSync(resultsDir)
    .filter((f) => f.endsWith(".md") && f !== "README.md")
    .map((f) => `- [${f.replace(/\.md$/, "")}](./${f})`);
  writeFileSync(
    join(resultsDir, "README.md"),
    `# Benchmark results\n\nWritten by \`npm run bench\`.\n\n${index.join("\n")}\n`,
  );
  process.exit(failed ? 1 : 0);
}

await main();
