/**
 * `cacheplane audit`: exports the ACL LOG of every node (NOPERM attempts by user, command,
 * key/channel; failed logins). `--follow` polls and prints each denial once, so nothing is lost when
 * the server's small log (128 entries by default) wraps; `--state <file>` lets repeated runs (cron)
 * continue where the last one stopped; `--drain` reads and resets each log atomically;
 * `--set-max-len` raises `acllog-max-len` (CONFIG SET; on ElastiCache use the parameter group).
 */
import { readFile } from "node:fs/promises";
import { resolve } from "node:path";
import { AclLogFollower, type AuditEvent, type AuditState, setAclLogMaxLen } from "@cacheplane/provisioner";
import type { Command } from "commander";
import { loadConfig } from "../config-loader.js";
import { EXIT, UsageError } from "../errors.js";
import type { CommandContext } from "../io.js";
import { stopRequested } from "../stop-requested.js";
import { addTargetOptions, connectRedisTarget, type TargetFlags } from "../target-options.js";
import { writeTextFileAtomic } from "../text-file.js";
import { type ActionFactory, type ConfigFlags, DEFAULT_CONFIG_FILE } from "./action.js";

/** Flags of `cacheplane audit`. */
export interface AuditFlags extends ConfigFlags, TargetFlags {
  follow?: boolean;
  interval?: string;
  drain?: boolean;
  state?: string;
  setMaxLen?: string;
}

/** One line per event: time, node, service (user), reason, object, count, context, client. */
export function formatAuditEvent(e: AuditEvent): string {
  const who = e.service ? `${e.service} (${e.username})` : e.username;
  const what = e.reason === "auth" ? "failed login" : `denied ${e.reason}`;
  const from = e.clientAddress ? ` from ${e.clientAddress}` : "";
  return `${e.lastSeen}  ${e.node}  ${who}  ${what}  ${e.object}  x${e.count}  [${e.context}]${from}`;
}

async function readState(path: string | undefined): Promise<AuditState | undefined> {
  if (path === undefined) return undefined;
  try {
    return JSON.parse(await readFile(path, "utf8")) as AuditState;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "ENOENT") return undefined;
    throw new UsageError(
      `--state ${path}: not a state file written by cacheplane audit (${(error as Error).message})`,
    );
  }
}

/** Reads (and with --follow keeps reading) the ACL LOG of every node. */
export async function runAudit(flags: AuditFlags, ctx: CommandContext): Promise<number> {
  const interval = flags.interval === undefined ? 5 : Number(flags.interval);
  if (!Number.isFinite(interval) || interval <= 0)
    throw new UsageError(`--interval ${flags.interval} must be a number of seconds above 0`);
  const maxLen = flags.setMaxLen === undefined ? undefined : Number(flags.setMaxLen);
  if (maxLen !== undefined && (!Number.isInteger(maxLen) || maxLen < 1))
    throw new UsageError(`--set-max-len ${flags.setMaxLen} must be a positive integer`);
  const config = await loadConfig(flags.config, ctx.io.cwd);
  const statePath = flags.state === undefined ? undefined : resolve(ctx.io.cwd, flags.state);
  const target = await connectRedisTarget(flags, ctx);
  const stop = flags.follow ? stopRequested(ctx) : undefined;
  try {
    const nodes = target.adminNodes.map((n) => n.connection);
    if (maxLen !== undefined) {
      await setAclLogMaxLen(nodes, maxLen);
      ctx.log(
        `audit: acllog-max-len set to ${maxLen} on ${nodes.length} node${nodes.length === 1 ? "" : "s"}`,
      );
    }
    const follower = new AclLogFollower(nodes, config, await readState(statePath));
    let total = 0;
    for (;;) {
      const poll = await follower.poll({ drain: flags.drain ?? false });
      for (const event of poll.events) ctx.out(flags.json ? JSON.stringify(event) : formatAuditEvent(event));
      total += poll.events.length;
      for (const node of poll.possiblyLost)
        ctx.log(
          `audit: warning: the ACL LOG of ${node} was full and wrapped since the last read; denials in between may be missing. ` +
            "Poll more often (--interval) or raise acllog-max-len (--set-max-len 1024).",
        );
      if (statePath !== undefined) await writeTextFileAtomic(statePath, JSON.stringify(follower.snapshot()));
      if (!stop) break;
      const stopped = await Promise.race([
        stop.promise.then(() => true),
        new Promise<false>((r) => setTimeout(() => r(false), interval * 1000).unref()),
      ]);
      if (stopped) break;
    }
    if (!flags.json) ctx.log(`audit: ${total} new entr${total === 1 ? "y" : "ies"}`);
    return EXIT.ok;
  } finally {
    stop?.dispose();
    await target.close().catch(() => undefined);
  }
}

/** Registers `audit` on the program. */
export function registerAudit(program: Command, action: ActionFactory): void {
  addTargetOptions(
    program
      .command("audit")
      .description("export the ACL LOG of every node: denied commands, keys and channels by service")
      .option("--config <file>", "platform config file", DEFAULT_CONFIG_FILE),
    { secretsDir: false },
  )
    .option("--follow", "keep polling and print each new denial once (Ctrl-C stops)", false)
    .option("--interval <seconds>", "seconds between polls with --follow", "5")
    .option("--drain", "read and reset each node's log atomically (exact; empties the log for others)", false)
    .option("--state <file>", "remember what was printed, so the next run continues from there")
    .option("--set-max-len <n>", "first raise acllog-max-len on every node (CONFIG SET; not on ElastiCache)")
    .option("--json", "one JSON object per line on stdout", false)
    .action(action(runAudit));
}
