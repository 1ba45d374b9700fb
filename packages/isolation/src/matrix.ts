/**
 * The attack matrix: every attack, for every ordered pair (attacker, victim) of services, through one
 * transport. Each result is judged from three sources of evidence:
 * 1. the outcomes of the attack's commands: a refusal by a guard (NOPERM, also inside scripts; HTTP
 *    401/403 from the gateway) is `blocked`; anything else means the command ran, which is a `breach`
 *    or a `leak` (by the attack's kind) unless the attack lists the error as harmless;
 * 2. the replies: the victim's value marker in any reply is a breach, its key or channel names in a
 *    reply the attacker did not ask with them are a leak;
 * 3. the server afterwards: every canary unchanged (value, type, TTL), no new user, no service user
 *    missing, the platform's script library still loaded; otherwise a breach.
 * What a documented setting makes possible (e.g. Lua for `scripting: true`) is `inherent`.
 */
import type { Cluster, Redis } from "ioredis";
import type { Attack, AttackContext } from "./attacks.js";
import { ATTACKS } from "./attacks.js";
import { type Canaries, checkCanaries, scratch, seedCanaries } from "./platform.js";
import { type Identity, isDenial, type Outcome, type Scope, type Transport } from "./transports.js";

export type Verdict = "blocked" | "breach" | "leak" | "inherent" | "n/a";

export interface MatrixResult {
  transport: Transport["name"];
  attacker: string;
  victim: string;
  attack: string;
  target: string;
  verdict: Verdict;
  /** What ran or leaked (empty when blocked). */
  detail: string;
}

/** The server side the judge reads (admin identity). */
export interface MatrixServer {
  /** Canary reads and writes (a cluster client on a cluster). */
  admin: Redis | Cluster;
  /** One admin connection per master (ACL users and libraries are per node). */
  nodes: Redis[];
  /** The user ids every service must keep. */
  serviceUsers: string[];
  libraryName: string;
  /**
   * Puts the platform back after an attack changed it (re-provision, re-seed canaries, victim
   * subscriptions and scripts). Only ever needed when something was not blocked.
   */
  restore(): Promise<void>;
}

export interface MatrixRun {
  transport: Transport;
  server: MatrixServer;
  /** Canaries of every service, by service name. */
  canaries: ReadonlyMap<string, Canaries>;
  token: string;
  attacks?: readonly Attack[];
  /** Limit the attackers (e.g. the meta-test's loosened one). */
  attackers?: (id: Identity) => boolean;
}

const RANK: Record<Verdict, number> = { "n/a": 0, blocked: 1, inherent: 2, leak: 3, breach: 4 };

function short(value: unknown): string {
  const text = typeof value === "string" ? value : JSON.stringify(value);
  return (text ?? "undefined").length > 120 ? `${text.slice(0, 117)}...` : (text ?? "undefined");
}

interface Step {
  args: string;
  outcome: Outcome;
  judged: boolean;
}

/** What changed on the server that only a breach can change. */
async function serverProblems(
  server: MatrixServer,
  canaries: ReadonlyMap<string, Canaries>,
  except?: string,
): Promise<string[]> {
  const problems: string[] = [];
  for (const c of canaries.values())
    if (c.service.name !== except) problems.push(...(await checkCanaries(server.admin, c)));
  for (const node of server.nodes) {
    const users = (await node.call("ACL", "USERS")) as string[];
    const evil = users.filter((u) => u.startsWith("matrix-evil"));
    if (evil.length > 0) problems.push(`user ${evil.join(", ")} was created`);
    for (const user of server.serviceUsers)
      if (!users.includes(user)) problems.push(`user ${user} was deleted`);
    const libraries = (await node.call("FUNCTION", "LIST", "LIBRARYNAME", server.libraryName)) as unknown[];
    if (libraries.length === 0) problems.push(`library ${server.libraryName} was removed`);
  }
  return problems;
}

async function cleanup(server: MatrixServer): Promise<void> {
  for (const node of server.nodes) {
    const users = (await node.call("ACL", "USERS")) as string[];
    const evil = users.filter((u) => u.startsWith("matrix-evil"));
    if (evil.length > 0) await node.call("ACL", "DELUSER", ...evil);
  }
}

/**
 * The names in the attacker's own keyspace, without its prefix: what a namespaced token may list
 * (it may have created names that look like the victim's, e.g. `beta:...`, inside its own keyspace).
 */
async function ownNames(server: MatrixServer, keyspace: string): Promise<Set<string>> {
  const names = new Set<string>();
  for (const node of server.nodes) {
    for (const key of (await node.keys(`${keyspace}:*`)) as string[])
      names.add(key.slice(keyspace.length + 1));
  }
  return names;
}

/** Every string inside a reply. */
function strings(value: unknown, out: string[] = []): string[] {
  if (typeof value === "string") out.push(value);
  else if (Array.isArray(value)) for (const item of value) strings(item, out);
  return out;
}

function judge(
  attack: Attack,
  ctx: AttackContext,
  steps: Step[],
  problems: string[],
  flags: { kind: "breach" | "leak"; detail: string }[] = [],
  own?: Set<string>,
): { verdict: Verdict; detail: string } {
  let verdict = "blocked" as Verdict;
  const details: string[] = [];
  const raise = (to: Verdict, detail: string) => {
    if (RANK[to] > RANK[verdict]) verdict = to;
    details.push(detail);
  };
  for (const step of steps) {
    const { outcome } = step;
    const text = outcome.ok ? short(outcome.value) : (outcome.error ?? "");
    if (`${JSON.stringify(outcome.value ?? "")}${outcome.error ?? ""}`.includes(ctx.victim.valueMarker))
      raise("breach", `${step.args} revealed the victim's data: ${text}`);
    if (outcome.ok) {
      const reply = JSON.stringify(outcome.value ?? "");
      for (const marker of ctx.victim.nameMarkers) {
        if (!reply.includes(marker) || step.args.includes(marker)) continue;
        // A namespaced token lists names relative to its own keyspace: a name that is the attacker's
        // own key (it may look like the victim's) is no leak.
        if (own && strings(outcome.value).every((s) => !s.includes(marker) || own.has(s))) continue;
        raise("leak", `${step.args} listed the victim's names: ${text}`);
      }
    }
    if (!step.judged || isDenial(outcome)) continue;
    // Namespaced tokens run these on their own keyspace: the evidence decides, not that they ran.
    if (attack.namespaced === "evidence" && ctx.attacker.namespaced) continue;
    if (!outcome.ok && attack.harmless?.test(outcome.error ?? "")) continue;
    raise(attack.kind, `${step.args} ran${outcome.node ? ` on ${outcome.node}` : ""}: ${text}`);
  }
  for (const flag of flags) raise(flag.kind, flag.detail);
  if (problems.length > 0) {
    raise("breach", `server changed: ${problems.join("; ")}`);
    return { verdict, detail: details.join(" | ") };
  }
  if (verdict === "breach" || verdict === "leak") {
    const inherent = attack.inherent?.(ctx);
    if (inherent) return { verdict: "inherent", detail: `${inherent}: ${details.join(" | ")}` };
  }
  return { verdict, detail: details.join(" | ") };
}

/** Runs every attack for every ordered pair of services through one transport. */
export async function runMatrix(run: MatrixRun): Promise<MatrixResult[]> {
  const { transport, server, canaries, token } = run;
  const services = [...canaries.values()].map((c) => c.service);
  const attackers = transport.identities(services).filter((id) => run.attackers?.(id) ?? true);
  const results: MatrixResult[] = [];
  for (const attacker of attackers) {
    for (const victim of canaries.values()) {
      if (victim.service.name === attacker.service.name) continue;
      for (const attack of run.attacks ?? ATTACKS) {
        const steps: Step[] = [];
        const flags: { kind: "breach" | "leak"; detail: string }[] = [];
        const record = (args: readonly (string | number)[], outcomes: Outcome[], judged: boolean) => {
          const shown = args.map(String).join(" ");
          for (const outcome of outcomes) steps.push({ args: shown.slice(0, 200), outcome, judged });
          return outcomes;
        };
        const ctx: AttackContext = {
          transport: transport.name,
          attacker,
          victim,
          own: (name) => scratch(attacker.service, token, name),
          exec: async (args, scope: Scope = "keyed") =>
            record(args, await transport.exec(attacker, args.map(String), scope), true),
          setup: async (args, scope: Scope = "keyed") =>
            record(args, await transport.exec(attacker, args.map(String), scope), false),
          subscribe: async (kind, name) => {
            record([kind.toUpperCase(), name], [await transport.subscribe(attacker, kind, name)], true);
          },
          monitor: async () => {
            record(["MONITOR"], [await transport.monitor(attacker)], true);
          },
          flag: (kind, detail) => {
            flags.push({ kind, detail });
          },
          ownKeyCount: async () => (await ownNames(server, attacker.service.keyspace)).size,
        };
        if (attack.applies && !attack.applies(ctx)) {
          results.push({
            transport: transport.name,
            attacker: attacker.label,
            victim: victim.service.name,
            attack: attack.id,
            target: attack.target,
            verdict: "n/a",
            detail: "",
          });
          continue;
        }
        await attack.run(ctx);
        // A namespaced token's FLUSHDB empties its own keyspace (its own canaries included): only the
        // other services' canaries are evidence; its own are seeded again for the next attack.
        const problems = await serverProblems(
          server,
          canaries,
          attacker.namespaced ? attacker.service.name : undefined,
        );
        const own = attacker.namespaced ? await ownNames(server, attacker.service.keyspace) : undefined;
        const mine = canaries.get(attacker.service.name);
        if (attacker.namespaced && mine && (await checkCanaries(server.admin, mine)).length > 0)
          await seedCanaries(server.admin, mine);
        const { verdict, detail } = judge(attack, ctx, steps, problems, flags, own);
        if (verdict !== "blocked") {
          await transport.reset(attacker);
          await cleanup(server);
          if (problems.length > 0) await server.restore();
        }
        results.push({
          transport: transport.name,
          attacker: attacker.label,
          victim: victim.service.name,
          attack: attack.id,
          target: attack.target,
          verdict,
          detail,
        });
      }
    }
  }
  return results;
}

/** Counts of each verdict. */
export function summarize(results: readonly MatrixResult[]): Record<Verdict, number> {
  const counts: Record<Verdict, number> = { blocked: 0, breach: 0, leak: 0, inherent: 0, "n/a": 0 };
  for (const r of results) counts[r.verdict]++;
  return counts;
}

/**
 * The table `attack | target | <transport>...`: per attack and transport, how many pairs were
 * blocked, and every pair that was not. Then every non-blocked result with its evidence.
 */
export function formatMatrix(results: readonly MatrixResult[]): string {
  const transports = [...new Set(results.map((r) => r.transport))];
  const attacks = [...new Set(results.map((r) => r.attack))];
  const cell = (attack: string, transport: string) => {
    const rows = results.filter(
      (r) => r.attack === attack && r.transport === transport && r.verdict !== "n/a",
    );
    if (rows.length === 0) return "n/a";
    const counts = new Map<Verdict, number>();
    for (const r of rows) counts.set(r.verdict, (counts.get(r.verdict) ?? 0) + 1);
    return [...counts]
      .sort((a, b) => RANK[b[0]] - RANK[a[0]])
      .map(([v, n]) => `${v === "blocked" ? v : v.toUpperCase()} ${n}/${rows.length}`)
      .join(", ");
  };
  const header = ["attack", "target", ...transports];
  const rows = attacks.map((attack) => [
    attack,
    results.find((r) => r.attack === attack)!.target,
    ...transports.map((t) => cell(attack, t)),
  ]);
  const widths = header.map((_, i) => Math.max(header[i]!.length, ...rows.map((r) => r[i]!.length)));
  const line = (cells: string[]) => `| ${cells.map((c, i) => c.padEnd(widths[i]!)).join(" | ")} |`;
  const lines = [line(header), `|${widths.map((w) => "-".repeat(w + 2)).join("|")}|`, ...rows.map(line)];
  const counts = summarize(results);
  lines.push(
    "",
    `${results.length} attack runs: ${counts.blocked} blocked, ${counts.breach} breaches, ${counts.leak} leaks, ` +
      `${counts.inherent} inherent (documented), ${counts["n/a"]} not applicable.`,
  );
  const notable = results.filter((r) => r.verdict !== "blocked" && r.verdict !== "n/a");
  for (const r of notable)
    lines.push(
      `  ${r.verdict.toUpperCase()} [${r.transport}] ${r.attack}: ${r.attacker} -> ${r.victim}: ${r.detail}`,
    );
  return lines.join("\n");
}
