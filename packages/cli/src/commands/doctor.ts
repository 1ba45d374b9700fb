/** `cacheplane doctor`: connects as a service, from its secret, and checks what it can and cannot do. */
import { readFile } from "node:fs/promises";
import { resolve } from "node:path";
import type { Command } from "commander";
import { type DoctorOptions, type DoctorReport, runDoctorChecks } from "../doctor/checks.js";
import { readSecretInput, type SecretInputFlags } from "../doctor/secret-input.js";
import { EXIT, UsageError } from "../errors.js";
import type { CommandContext } from "../io.js";
import type { ActionFactory } from "./action.js";

/** Flags of `cacheplane doctor`. */
export interface DoctorFlags extends SecretInputFlags {
  tlsCa?: string;
  insecure?: boolean;
  json?: boolean;
}

/** The report as lines: `✓ auth: authenticated as ordersapi`, `✗ ...`, `- ...: skipped`, then a verdict. */
export function formatDoctorReport(report: DoctorReport): string {
  const lines = [`Secret: ${report.source}`];
  for (const check of report.checks) {
    const mark = check.skipped ? "-" : check.ok ? "✓" : "✗";
    lines.push(`${mark} ${check.name}: ${check.detail}`);
  }
  const failed = report.checks.filter((c) => !c.ok && !c.skipped).length;
  const skipped = report.checks.filter((c) => c.skipped).length;
  lines.push(
    "",
    report.ok
      ? `All ${report.checks.length} checks passed.`
      : `${failed} check${failed === 1 ? "" : "s"} failed${skipped > 0 ? `, ${skipped} skipped` : ""}.`,
  );
  return lines.join("\n");
}

/** Runs the checks and prints them; exit code 1 when any check failed. */
export async function runDoctor(flags: DoctorFlags, ctx: CommandContext): Promise<number> {
  const input = await readSecretInput(flags, ctx.io.env, ctx.io.cwd);
  const options: DoctorOptions = { onSecret: (secret) => ctx.redactor.add(secret) };
  if (flags.tlsCa !== undefined) {
    const file = resolve(ctx.io.cwd, flags.tlsCa);
    try {
      options.tlsCa = await readFile(file, "utf8");
    } catch {
      throw new UsageError(`--tls-ca ${flags.tlsCa}: cannot read ${file}`);
    }
  }
  if (flags.insecure) options.insecure = true;
  const report = await runDoctorChecks(input.text, input.source, options);
  ctx.out(flags.json ? JSON.stringify(report, null, 2) : formatDoctorReport(report));
  return report.ok ? EXIT.ok : EXIT.failure;
}

/** Registers `doctor` on the program. */
export function registerDoctor(program: Command, action: ActionFactory): void {
  program
    .command("doctor")
    .description("connect as a service from its secret and check auth, keyspace and refusals")
    .option("--secret <file>", "the service's secret file (default: $REDIS_SECRET_FILE)")
    .option("--secret-json <json>", "the secret as inline JSON (or set $REDIS_SECRET)")
    .option(
      "--secret-arn <arn>",
      "the secret in Secrets Manager (or set $REDIS_SECRET_ARN); needs AWS credentials",
    )
    .option("--tls-ca <file>", "PEM file of the CA that signed the server certificate")
    .option("--insecure", "TLS without verifying the server certificate", false)
    .option("--json", "print the report as a JSON object on stdout", false)
    .action(action(runDoctor));
}
