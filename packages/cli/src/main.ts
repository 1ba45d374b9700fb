/**
 * The `cacheplane` command line. `runCli(argv, io)` runs one command in-process and resolves to its
 * exit code, so tests capture stdout/stderr without spawning; `bin/cacheplane.js` calls it with the real
 * process. Every failure is reported as one clear message (no stack trace) with exit code 1 (the command
 * failed) or 2 (bad usage or config; nothing was changed). Passwords never reach the output.
 */
import { createRequire } from "node:module";
import { ConfigError } from "@cacheplane/core";
import { ProvisionerError } from "@cacheplane/provisioner";
import { Command, CommanderError } from "commander";
import type { ActionFactory } from "./commands/action.js";
import { registerApply } from "./commands/apply.js";
import { registerAudit } from "./commands/audit.js";
import { registerDev } from "./commands/dev.js";
import { registerDoctor } from "./commands/doctor.js";
import { registerGateway } from "./commands/gateway.js";
import { registerMigrate } from "./commands/migrate.js";
import { registerPlan } from "./commands/plan.js";
import { registerRotate } from "./commands/rotate.js";
import { registerUsage } from "./commands/usage.js";
import { CliError, EXIT } from "./errors.js";
import { type CliIo, type CommandContext, createContext, processIo } from "./io.js";

/** The CLI's version (its package.json's, set by changesets), printed by `cacheplane --version`. */
export const VERSION: string = (createRequire(import.meta.url)("../package.json") as { version: string })
  .version;

/** Builds the commander program for one run; handlers record their exit code through `action`. */
function buildProgram(ctx: CommandContext, action: ActionFactory): Command {
  const program = new Command("cacheplane")
    .description("Per-service Redis users, keyspaces and secrets on one shared Redis/Valkey cache.")
    .version(VERSION)
    .exitOverride()
    .configureOutput({
      writeOut: (text) => ctx.io.stdout(text),
      writeErr: (text) => ctx.io.stderr(text),
      // One line per error: commander's "(Did you mean plan?)" joins the message line.
      outputError: (text, write) =>
        write(text.replace(/\n\(Did you mean (.*)\?\)\n$/, " (did you mean $1?)\n")),
    })
    .showSuggestionAfterError(true);
  registerPlan(program, action);
  registerApply(program, action);
  registerRotate(program, action);
  registerDoctor(program, action);
  registerMigrate(program, action);
  registerDev(program, action);
  registerGateway(program, action);
  registerUsage(program, action);
  registerAudit(program, action);
  return program;
}

/** The one-line (or one-line-per-problem) message for an error a command threw. */
function describeError(error: unknown): { message: string; exitCode: number } {
  if (error instanceof CliError) return { message: error.message, exitCode: error.exitCode };
  if (error instanceof ConfigError) {
    const only = error.issues.length === 1 ? error.issues[0] : undefined;
    return { message: only ? only.message : error.message, exitCode: EXIT.usage };
  }
  // The provisioner's errors are written for operators (what failed, where, what to do) and redacted.
  if (error instanceof ProvisionerError) return { message: error.message, exitCode: EXIT.failure };
  if (error instanceof Error) {
    const name = error.name && error.name !== "Error" ? `${error.name}: ` : "";
    return { message: `${name}${error.message}`, exitCode: EXIT.failure };
  }
  return { message: String(error), exitCode: EXIT.failure };
}

/**
 * Runs `cacheplane <argv...>` (arguments after the program name, e.g. `["plan", "--config", "x.ts"]`)
 * and resolves to the exit code. `io` overrides the process streams, environment, working directory
 * and stop signal; `CACHEPLANE_DEBUG=1` in its env adds stack traces (still with secrets masked).
 */
export async function runCli(argv: readonly string[], io: Partial<CliIo> = {}): Promise<number> {
  const ctx = createContext({ ...processIo(), ...io });
  let exitCode: number = EXIT.ok;
  const action: ActionFactory = (handler) => async (options) => {
    exitCode = await handler(options, ctx);
  };
  const program = buildProgram(ctx, action);
  try {
    await program.parseAsync([...argv], { from: "user" });
    return exitCode;
  } catch (error) {
    if (error instanceof CommanderError) {
      if (error.code === "commander.helpDisplayed" || error.code === "commander.version") return EXIT.ok;
      // Commander already printed its one-line message ("error: unknown option '--x'").
      return EXIT.usage;
    }
    const { message, exitCode: code } = describeError(error);
    ctx.log(`error: ${message}`);
    if (ctx.io.env.CACHEPLANE_DEBUG && error instanceof Error && error.stack) ctx.log(error.stack);
    return code;
  }
}
