/**
 * Verifying access strings against the real server before they are applied. Core builds every string
 * so that the safety tail denies what no tenant may run; this asks each node whether that is really so:
 * the string is set on a short-lived, disabled, password-less probe user (as the canonicalizer does),
 * then `ACL DRYRUN <probe> <command> <args>` is run for
 * - every command of core's deny lists for that service (`forbiddenProbes`: the tail, scripting unless
 *   `scripting: true`, writes for read-only services), and
 * - every command or subcommand the node itself lists in `@admin` or `@dangerous`,
 * and every one the node would allow is a finding. A future Redis that moves a command to another
 * category (or a hand-written access string) therefore cannot reopen a denied command silently.
 */
import { randomBytes } from "node:crypto";
import type { AccessProbe } from "@cacheplane/core";
import { PROBE_USER_PREFIX, ruleTokens } from "./acl-rules.js";
import type { AdminConnection } from "./admin-connection.js";
import { TargetError } from "./errors.js";
import { dryRunVerdict, fitArity, parseCommandInfo, type ServerCommand } from "./server-commands.js";

/** One service's access string and what it must not be able to run. */
export interface AccessCheck {
  service: string;
  userId: string;
  keyspace: string;
  /** The access string as built by core (not canonical): what apply would write. */
  accessString: string;
  /** Commands that must be denied (core's `forbiddenProbes(service)`). */
  probes: readonly AccessProbe[];
}

/** A command the user could run although it should not. */
export interface AccessFinding {
  service: string;
  userId: string;
  /** `host:port` of the node that allows it. */
  node: string;
  /** `client|tracking`, `flushall`: the command (and subcommand) the node would allow. */
  command: string;
  /** Why it must be denied. */
  reason: string;
  /** `deny-list`: one of core's lists; `server-category`: the node lists it as @admin/@dangerous. */
  source: "deny-list" | "server-category";
}

/** Per-node command tables and verification results (a node's table is stable for its process). */
export class AccessVerifier {
  private readonly tables = new Map<AdminConnection, Promise<Map<string, ServerCommand>>>();
  private readonly results = new Map<AdminConnection, Map<string, Promise<AccessFinding[]>>>();

  /** Findings for every check on `node` (empty when everything that must be denied is denied). */
  async verify(node: AdminConnection, checks: readonly AccessCheck[]): Promise<AccessFinding[]> {
    let known = this.results.get(node);
    if (!known) {
      known = new Map();
      this.results.set(node, known);
    }
    const found = await Promise.all(
      checks.map((check) => {
        const key = `${check.accessString}\n${check.keyspace}\n${check.probes.map((p) => p.argv.join(" ")).join("\n")}`;
        let pending = known.get(key);
        if (!pending) {
          pending = this.verifyOne(node, check);
          pending.catch(() => known.delete(key));
          known.set(key, pending);
        }
        return pending.then((findings) =>
          findings.map((f) => ({ ...f, service: check.service, userId: check.userId })),
        );
      }),
    );
    return found.flat();
  }

  private table(node: AdminConnection): Promise<Map<string, ServerCommand>> {
    let pending = this.tables.get(node);
    if (!pending) {
      pending = node
        .call(["COMMAND", "INFO"])
        .then((reply) => new Map(parseCommandInfo(reply).map((c) => [c.name, c])));
      pending.catch(() => this.tables.delete(node));
      this.tables.set(node, pending);
    }
    return pending;
  }

  private async verifyOne(node: AdminConnection, check: AccessCheck): Promise<AccessFinding[]> {
    const table = await this.table(node);
    if (!table.has("acl|dryrun"))
      throw new TargetError(
        `${node.address} has no ACL DRYRUN (Redis/Valkey 7.0 or later is needed to verify access strings before they are applied); upgrade the server.`,
        { node: node.address },
      );
    const filler = `${check.keyspace}:cacheplane-probe`;
    /** The table entry an argv runs: `cmd|sub` for commands with subcommands. */
    const entryOf = (argv: readonly string[]): ServerCommand | undefined => {
      const top = table.get(argv[0]!.toLowerCase());
      if (!top?.hasSubcommands) return top;
      return argv[1] === undefined ? undefined : table.get(`${top.name}|${argv[1].toLowerCase()}`);
    };
    const probes: { argv: string[]; command: string; reason: string; source: AccessFinding["source"] }[] = [];
    const covered = new Set<string>();
    for (const probe of check.probes) {
      const entry = entryOf(probe.argv);
      if (!entry) continue; // the node does not have this command: nobody can run it
      covered.add(entry.name);
      probes.push({
        argv: fitArity(probe.argv, entry.arity, filler),
        command: entry.name,
        reason: probe.denied.reason,
        source: "deny-list",
      });
    }
    for (const entry of table.values()) {
      if (entry.hasSubcommands || covered.has(entry.name)) continue;
      if (!entry.categories.includes("@admin") && !entry.categories.includes("@dangerous")) continue;
      probes.push({
        argv: fitArity(entry.name.split("|"), entry.arity, filler),
        command: entry.name,
        reason: `${node.address} lists it as ${entry.categories.filter((c) => c === "@admin" || c === "@dangerous").join(" and ")}`,
        source: "server-category",
      });
    }

    const probeUser = `${PROBE_USER_PREFIX}verify-${randomBytes(6).toString("hex")}`;
    try {
      try {
        await node.call([
          "ACL",
          "SETUSER",
          probeUser,
          "reset",
          ...ruleTokens(check.accessString),
          "resetpass",
          "off",
        ]);
      } catch (error) {
        const reason = error instanceof TargetError ? (error.serverMessage ?? error.message) : String(error);
        throw new TargetError(
          `${node.address} rejects the access string of service "${check.service}": ${reason}`,
          { node: node.address, serverMessage: reason },
        );
      }
      const verdicts = await Promise.all(
        probes.map(async (probe) => {
          try {
            return dryRunVerdict(await node.call(["ACL", "DRYRUN", probeUser, ...probe.argv]));
          } catch (error) {
            const message =
              error instanceof TargetError ? (error.serverMessage ?? error.message) : String(error);
            try {
              return dryRunVerdict(undefined, message);
            } catch {
              throw new TargetError(
                `Cannot verify that service "${check.service}" is denied ${probe.command.replace("|", " ").toUpperCase()} ` +
                  `on ${node.address}: ACL DRYRUN answered "${message}".`,
                { node: node.address, serverMessage: message },
              );
            }
          }
        }),
      );
      return probes.flatMap((probe, i) =>
        verdicts[i] === "allowed"
          ? [
              {
                service: check.service,
                userId: check.userId,
                node: node.address,
                command: probe.command,
                reason: probe.reason,
                source: probe.source,
              },
            ]
          : [],
      );
    } finally {
      await node.call(["ACL", "DELUSER", probeUser]).catch(() => undefined);
    }
  }
}

/** `CLIENT TRACKING`: how a finding's command reads in messages. */
export function commandLabel(command: string): string {
  return command.replace("|", " ").toUpperCase();
}
