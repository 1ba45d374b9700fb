/** `cacheplane apply`: makes the target match the config, writing each service's secret first. */

import { resolve } from "node:path";
import { type PlanAction, summarizePlan } from "@cacheplane/core";
import {
  checkAdminToken,
  checkServiceTokens,
  ensureAdminToken,
  ensureServiceTokens,
  pruneServiceTokens,
  serviceTokenPath,
} from "@cacheplane/gateway";
import { type ApplyProgress, applyPlatform } from "@cacheplane/provisioner";
import type { Command } from "commander";
import { loadConfig } from "../config-loader.js";
import { CliError, EXIT } from "../errors.js";
import type { CommandContext } from "../io.js";
import { addTargetOptions, openSecretStore, type TargetFlags, withTarget } from "../target-options.js";
import { type ActionFactory, type ConfigFlags, DEFAULT_CONFIG_FILE } from "./action.js";
import { formatDangerousGrants } from "./dangerous.js";

/** Flags of `cacheplane apply`. */
export interface ApplyFlags extends ConfigFlags, TargetFlags {
  prune?: boolean;
  pruneScriptLibraries?: boolean;
}

/** A short label for a plan action: `create-user ordersapi (orders-api)`. */
export function describeAction(action: PlanAction): string {
  switch (action.type) {
    case "create-user":
      return `create-user ${action.userId} (${action.service})`;
    case "modify-user":
      return `modify-user ${action.userId} (${action.service}: ${action.changes.join(", ")})`;
    case "add-to-group":
      return `add-to-group ${action.userId} -> ${action.groupId}`;
    case "remove-from-group":
      return `remove-from-group ${action.userId} <- ${action.groupId}`;
    case "delete-user":
      return `delete-user ${action.userId}`;
    case "load-script-library":
      return `load-script-library ${action.library} on ${action.node}`;
    case "delete-script-library":
      return `delete-script-library ${action.library} on ${action.node}`;
  }
}

/**
 * A progress printer: `[2/5] create-user ordersapi (orders-api) ... done`, one line per action on
 * `log`. A line that was started but never finished (the action failed) is ended with `failed`.
 */
export function progressPrinter(write: (text: string) => void): {
  onProgress(event: ApplyProgress): void;
  /** Ends a started line with "failed"; call when apply throws. */
  fail(): void;
} {
  let open = false;
  const prefix = (e: ApplyProgress) => `[${e.index + 1}/${e.total}] ${describeAction(e.action)} ... `;
  return {
    onProgress(event) {
      if (event.status === "start") {
        if (open) write("\n");
        write(prefix(event));
        open = true;
        return;
      }
      if (!open) write(prefix(event));
      write(`${event.status}\n`);
      open = false;
    },
    fail() {
      if (open) write("failed\n");
      open = false;
    },
  };
}

/**
 * Checks everything about the gateway tokens that could fail once the server has changed: token
 * file names, a writable secrets directory, a readable registry and well-formed token files.
 * @throws CliError (exit 1, nothing changed) naming the problem and the fix.
 */
export async function preflightTokens(secretsDir: string, services: readonly string[]): Promise<void> {
  try {
    await checkServiceTokens(secretsDir, services);
    await checkAdminToken(secretsDir);
  } catch (error) {
    const message = error instanceof Error ? error.message : String(error);
    throw new CliError(`${message}. Nothing was changed.`);
  }
}

/** Applies the plan and prints a summary plus where every service's secret is. */
export async function runApply(flags: ApplyFlags, ctx: CommandContext): Promise<number> {
  const config = await loadConfig(flags.config, ctx.io.cwd);
  const store = openSecretStore(flags, ctx);
  const secretsDir = resolve(ctx.io.cwd, flags.secretsDir!);
  const enabled = config.services.filter((s) => s.enabled);
  // Everything that can fail before the first change (the config was validated by loadConfig).
  await preflightTokens(
    secretsDir,
    enabled.map((s) => s.name),
  );
  const progress = progressPrinter((text) => ctx.io.stderr(text));
  const result = await withTarget(flags, ctx, async (target) => {
    try {
      return await applyPlatform(config, target, store, {
        prune: flags.prune ?? false,
        pruneScriptLibraries: flags.pruneScriptLibraries ?? false,
        onProgress: (event) => progress.onProgress(event),
      });
    } catch (error) {
      progress.fail();
      throw error;
    }
  });

  // Gateway tokens (`<secrets-dir>/<service>.token.json`: {"readWrite", "readOnly"}), issued once and kept.
  const tokens: Record<string, string> = {};
  for (const service of enabled) {
    await ensureServiceTokens(secretsDir, service.name);
    tokens[service.name] = serviceTokenPath(secretsDir, service.name);
  }
  // The gateway's admin token (operator view only; `<secrets-dir>/.gateway-admin-token.json`).
  const adminToken = await ensureAdminToken(secretsDir);
  // With --prune, services the config no longer declares lose their tokens with their users.
  const revokedTokens = flags.prune
    ? await pruneServiceTokens(
        secretsDir,
        config.services.map((s) => s.name),
      )
    : [];

  const warning = formatDangerousGrants(result.dangerous);
  if (warning) ctx.log(warning);
  if (flags.json) {
    ctx.out(
      JSON.stringify(
        {
          applied: result.applied,
          secrets: result.secrets,
          tokens,
          adminToken,
          revokedTokens,
          dangerous: result.dangerous,
        },
        null,
        2,
      ),
    );
    return EXIT.ok;
  }
  if (result.applied.length === 0) {
    ctx.out("No changes. The target already matches the config.");
  } else {
    const counts = Object.entries(summarizePlan(result.applied)).map(([type, n]) => `${n} ${type}`);
    ctx.out(
      `Applied ${result.applied.length} change${result.applied.length === 1 ? "" : "s"}: ${counts.join(", ")}.`,
    );
  }
  const names = Object.keys(result.secrets).sort();
  if (names.length > 0) {
    ctx.out("");
    ctx.out("Service secrets (give each service only its own):");
    const width = Math.max(...names.map((n) => n.length));
    for (const name of names) ctx.out(`  ${name.padEnd(width)}  ${result.secrets[name]}`);
  }
  const tokenNames = Object.keys(tokens).sort();
  if (tokenNames.length > 0) {
    ctx.out("");
    ctx.out(
      "Gateway tokens (readWrite, readOnly, and namespaced: namespacedReadWrite, namespacedReadOnly; for `cacheplane gateway` clients):",
    );
    const width = Math.max(...tokenNames.map((n) => n.length));
    for (const name of tokenNames) ctx.out(`  ${name.padEnd(width)}  ${tokens[name]}`);
  }
  ctx.out("");
  ctx.out(`Gateway admin token (the operator view at /operator/ only): ${adminToken}`);
  if (revokedTokens.length > 0) {
    ctx.out("");
    ctx.out(`Revoked the gateway tokens of retired services: ${revokedTokens.join(", ")}.`);
  }
  return EXIT.ok;
}

/** Registers `apply` on the program. */
export function registerApply(program: Command, action: ActionFactory): void {
  addTargetOptions(
    program
      .command("apply")
      .description("create/modify users on the target so it matches the config; writes service secrets")
      .option("--config <file>", "platform config file", DEFAULT_CONFIG_FILE),
  )
    .option(
      "--prune",
      "also delete managed users the config no longer declares, with their secrets and gateway tokens",
      false,
    )
    .option(
      "--prune-script-libraries",
      "also delete script libraries of older Cacheplane releases (only once no old client runs)",
      false,
    )
    .option("--json", "print {applied, secrets, tokens, revokedTokens, dangerous} as JSON on stdout", false)
    .action(action(runApply));
}
