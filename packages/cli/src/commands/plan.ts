/** `cacheplane plan`: what `apply` would change, as a reviewable diff or as JSON. */

import { resolve } from "node:path";
import { formatPlan, type PlanAction, summarizePlan } from "@cacheplane/core";
import { retiredTokenServices } from "@cacheplane/gateway";
import { type AccessFinding, assertWithinElastiCacheLimits, planAgainst } from "@cacheplane/provisioner";
import type { Command } from "commander";
import { loadConfig } from "../config-loader.js";
import { EXIT } from "../errors.js";
import type { CommandContext } from "../io.js";
import { addTargetOptions, openSecretStore, type TargetFlags, withTarget } from "../target-options.js";
import { type ActionFactory, type ConfigFlags, DEFAULT_CONFIG_FILE } from "./action.js";
import { formatDangerousGrants } from "./dangerous.js";

/** Flags of `cacheplane plan`. */
export interface PlanFlags extends ConfigFlags, TargetFlags {
  prune?: boolean;
  pruneScriptLibraries?: boolean;
  detailedExitcode?: boolean;
}

/** What `apply` with the same flags would do: the plan's actions and, with `--prune`, token revocations. */
export interface ComputedPlan {
  actions: PlanAction[];
  /** Services whose gateway tokens `apply --prune` would revoke (no longer declared). */
  revokeTokens: string[];
  /** What services with `allowDangerous: true` can run that the presets deny (said loudly). */
  dangerous: AccessFinding[];
}

/**
 * Computes the plan for the config against the target, without changing anything.
 * @throws AccessVerificationError when the server would let a service run a command it must deny.
 */
export async function computePlan(flags: PlanFlags, ctx: CommandContext): Promise<ComputedPlan> {
  const config = await loadConfig(flags.config, ctx.io.cwd);
  const store = openSecretStore(flags, ctx);
  const { actions, dangerous } = await withTarget(flags, ctx, async (target) => {
    const planned = await planAgainst(config, target, store, {
      prune: flags.prune ?? false,
      pruneScriptLibraries: flags.pruneScriptLibraries ?? false,
    });
    // ElastiCache quotas (100 users per user group, 1,000 users per account): fail the plan, not the apply.
    if (target.kind === "elasticache") assertWithinElastiCacheLimits(planned.actions, planned.actual);
    return planned;
  });
  const revokeTokens = flags.prune
    ? await retiredTokenServices(
        resolve(ctx.io.cwd, flags.secretsDir!),
        config.services.map((s) => s.name),
      )
    : [];
  return { actions, revokeTokens, dangerous };
}

/** Prints the plan; exit code 0, or 2 with `--detailed-exitcode` when changes are pending. */
export async function runPlan(flags: PlanFlags, ctx: CommandContext): Promise<number> {
  const { actions, revokeTokens: revoke, dangerous } = await computePlan(flags, ctx);
  const revokeLines = revoke.map((service) => `- revoke gateway tokens of ${service} (no longer declared)`);
  const warning = formatDangerousGrants(dangerous);
  if (warning) {
    // Loud: on stdout before the plan (stderr with --json, so the JSON stays parseable).
    if (flags.json) ctx.log(warning);
    else ctx.out(`${warning}\n`);
  }
  if (flags.json) {
    ctx.out(JSON.stringify(actions, null, 2));
    for (const line of revokeLines) ctx.log(line);
  } else {
    ctx.out(actions.length === 0 && revoke.length > 0 ? revokeLines.join("\n") : formatPlan(actions));
    if (actions.length > 0 && revoke.length > 0) ctx.out(revokeLines.join("\n"));
    if (actions.length > 0 || revoke.length > 0)
      ctx.log("Run `cacheplane apply` with the same flags to make these changes.");
  }
  if (flags.json && actions.length > 0) {
    const counts = Object.entries(summarizePlan(actions)).map(([type, n]) => `${n} ${type}`);
    ctx.log(`Plan: ${counts.join(", ")}.`);
  }
  return flags.detailedExitcode && (actions.length > 0 || revoke.length > 0) ? EXIT.usage : EXIT.ok;
}

/** Registers `plan` on the program. */
export function registerPlan(program: Command, action: ActionFactory): void {
  addTargetOptions(
    program
      .command("plan")
      .description("show what apply would change on the target (changes nothing)")
      .option("--config <file>", "platform config file", DEFAULT_CONFIG_FILE),
  )
    .option(
      "--prune",
      "also plan deletion of managed users the config no longer declares (and their gateway tokens)",
      false,
    )
    .option("--prune-script-libraries", "also plan deletion of script libraries of older releases", false)
    .option("--json", "print the actions as a JSON array on stdout", false)
    .option("--detailed-exitcode", "exit 2 when changes are pending, 0 when there are none", false)
    .action(action(runPlan));
}
