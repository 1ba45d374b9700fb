/** `cacheplane migrate`: the adoption checklist for one service, filled in with its names. */
import { findService, formatMigrationChecklist, migrationChecklist } from "@cacheplane/core";
import type { Command } from "commander";
import { loadConfig } from "../config-loader.js";
import { EXIT } from "../errors.js";
import type { CommandContext } from "../io.js";
import { type ActionFactory, type ConfigFlags, DEFAULT_CONFIG_FILE } from "./action.js";

/** Flags of `cacheplane migrate`. */
export interface MigrateFlags extends ConfigFlags {
  service: string;
}

/** Prints the six-step checklist (or its steps as JSON). Needs no connection. */
export async function runMigrate(flags: MigrateFlags, ctx: CommandContext): Promise<number> {
  const config = await loadConfig(flags.config, ctx.io.cwd);
  const service = findService(config, flags.service);
  if (flags.json) ctx.out(JSON.stringify(migrationChecklist(config, service), null, 2));
  else ctx.out(formatMigrationChecklist(config, service));
  return EXIT.ok;
}

/** Registers `migrate` on the program. */
export function registerMigrate(program: Command, action: ActionFactory): void {
  program
    .command("migrate")
    .description("print the migration checklist for one service")
    .requiredOption("--service <name>", "service to print the checklist for")
    .option("--config <file>", "platform config file", DEFAULT_CONFIG_FILE)
    .option("--json", "print the steps as a JSON array on stdout", false)
    .action(action(runMigrate));
}
