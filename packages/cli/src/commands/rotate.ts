/**
 * `cacheplane rotate`: two-phase password rotation. Phase one gives the user a new password while the
 * old one keeps working; phase two (`--finish`), after every client runs with the new secret, revokes
 * the old one.
 */
import { findService } from "@cacheplane/core";
import { finishRotation, type RotationResult, startRotation } from "@cacheplane/provisioner";
import type { Command } from "commander";
import { loadConfig } from "../config-loader.js";
import { EXIT } from "../errors.js";
import type { CommandContext } from "../io.js";
import { addTargetOptions, openSecretStore, type TargetFlags, withTarget } from "../target-options.js";
import { type ActionFactory, type ConfigFlags, DEFAULT_CONFIG_FILE } from "./action.js";

/** Flags of `cacheplane rotate`. */
export interface RotateFlags extends ConfigFlags, TargetFlags {
  service: string;
  finish?: boolean;
}

/** The command line to run next, with the flags the operator used (target URLs left out: they hold passwords). */
function nextCommand(flags: RotateFlags, finish: boolean): string {
  const parts = ["cacheplane rotate", `--service ${flags.service}`];
  if (finish) parts.push("--finish");
  parts.push(`--config ${flags.config}`, `--secrets-dir ${flags.secretsDir}`);
  if (flags.cluster) parts.push("--cluster");
  if (flags.tlsCa) parts.push(`--tls-ca ${flags.tlsCa}`);
  parts.push(flags.target.length > 0 ? "--target <admin-url>" : "(with $CACHEPLANE_TARGET set)");
  return parts.join(" ");
}

/** Starts or finishes a rotation and explains what happened and what to do next. */
export async function runRotate(flags: RotateFlags, ctx: CommandContext): Promise<number> {
  const config = await loadConfig(flags.config, ctx.io.cwd);
  const service = findService(config, flags.service);
  const store = openSecretStore(flags, ctx);
  const result: RotationResult = await withTarget(flags, ctx, (target) =>
    flags.finish
      ? finishRotation(config, service.name, target, store)
      : startRotation(config, service.name, target, store),
  );

  if (flags.json) {
    ctx.out(JSON.stringify(result, null, 2));
    return EXIT.ok;
  }
  const who = `${result.service} (user ${result.userId})`;
  const lines: string[] = [];
  switch (result.status) {
    case "started":
    case "resumed":
      lines.push(
        result.status === "started"
          ? `Rotation started for ${who}.`
          : `Rotation for ${who} was already under way (since ${result.startedAt}); made sure the server accepts both passwords.`,
        "  The secret holds the new password as `password` and the old one as `previousPassword`.",
        "  The server accepts both until you finish, so running clients keep working.",
        `  Secret: ${result.secret}`,
        "",
        "Next:",
        `  1. Deploy or restart every client of ${result.service} so it reads the new secret and reconnects`,
        "     (connections opened with the old password stay logged in until they reconnect).",
        `  2. Check one: cacheplane doctor --secret ${result.secret}`,
        `  3. Revoke the old password: ${nextCommand(flags, true)}`,
      );
      break;
    case "finished":
    case "already-finished":
      lines.push(
        result.status === "finished"
          ? `Rotation finished for ${who}: the previous password no longer works.`
          : `No rotation was under way for ${who}; the server's password was reset to the secret's current one.`,
        `  Secret: ${result.secret} (only \`password\`, no \`previousPassword\`)`,
        "",
        "Next:",
        `  Check a client: cacheplane doctor --secret ${result.secret}`,
      );
      break;
  }
  ctx.out(lines.join("\n"));
  return EXIT.ok;
}

/** Registers `rotate` on the program. */
export function registerRotate(program: Command, action: ActionFactory): void {
  addTargetOptions(
    program
      .command("rotate")
      .description("rotate a service's password in two phases: start (both valid), then --finish")
      .requiredOption("--service <name>", "service whose password to rotate")
      .option("--finish", "second phase: revoke the previous password", false)
      .option("--config <file>", "platform config file", DEFAULT_CONFIG_FILE),
  )
    .option("--json", "print {service, userId, status, startedAt?, secret} as JSON on stdout", false)
    .action(action(runRotate));
}
