/**
 * A node's own command table (`COMMAND INFO`), flattened to commands and subcommands, and argument
 * lists that satisfy each command's arity for `ACL DRYRUN` (which checks arity before permissions).
 */

/** One command or subcommand as the server describes it. */
export interface ServerCommand {
  /** `get`, `client|kill`: lowercase, `|` between command and subcommand. */
  name: string;
  /** Redis arity: N means exactly N words (command and subcommand included), -N at least N. */
  arity: number;
  flags: string[];
  /** ACL categories, e.g. `["@admin", "@slow", "@dangerous"]`. */
  categories: string[];
  /** True for a parent that has subcommands (permissions are then checked per subcommand). */
  hasSubcommands: boolean;
}

function strings(value: unknown): string[] {
  return Array.isArray(value) ? value.map((v) => String(v).toLowerCase()) : [];
}

/** Flattens a `COMMAND INFO` (or `COMMAND`) reply; subcommands follow their parent. */
export function parseCommandInfo(reply: unknown): ServerCommand[] {
  const out: ServerCommand[] = [];
  const add = (entry: unknown) => {
    if (!Array.isArray(entry) || entry.length < 7) return;
    const subs = Array.isArray(entry[9]) ? (entry[9] as unknown[]) : [];
    out.push({
      name: String(entry[0]).toLowerCase(),
      arity: Number(entry[1]),
      flags: strings(entry[2]),
      categories: strings(entry[6]),
      hasSubcommands: subs.length > 0,
    });
    for (const sub of subs) add(sub);
  };
  if (Array.isArray(reply)) for (const entry of reply) add(entry);
  return out.sort((a, b) => a.name.localeCompare(b.name));
}

/**
 * `argv` (command words first, e.g. `["client", "kill", "127.0.0.1:1"]`) padded with `filler` or cut
 * so that it satisfies `arity`. `filler` should be a key in the user's own keyspace, so that a DRYRUN
 * answer is about the command, not about a key.
 */
export function fitArity(argv: readonly string[], arity: number, filler: string): string[] {
  const words = [...argv];
  const want = Math.abs(arity);
  while (words.length < want) words.push(filler);
  if (arity > 0 && words.length > arity) words.length = arity;
  return words;
}

/** The argv that DRYRUNs `command` with placeholder arguments (`name` split at `|`). */
export function placeholderArgv(command: ServerCommand, filler: string): string[] {
  return fitArity(command.name.split("|"), command.arity, filler);
}

/** What `ACL DRYRUN` said. */
export type DryRunVerdict =
  /** The user may run the command (`OK`, or only a key/channel was refused). */
  | "allowed"
  /** The user may not run the command. */
  | "denied"
  /** The server does not know the command or subcommand (nobody can run it). */
  | "unknown";

/**
 * Classifies a DRYRUN reply. `OK` and "no permissions to access the '<key>' key/channel" both mean the
 * command itself is permitted. Errors about unknown commands mean the server lacks it.
 * @throws Error for any other error (e.g. a wrong argument count), with the server's message.
 */
export function dryRunVerdict(reply: unknown, error?: string): DryRunVerdict {
  if (error !== undefined) {
    if (/Command '[^']*' not found|unknown (sub)?command/i.test(error)) return "unknown";
    throw new Error(error);
  }
  const text = String(reply);
  if (text === "OK") return "allowed";
  if (/no permissions to run/i.test(text)) return "denied";
  if (/no permissions to access/i.test(text)) return "allowed";
  throw new Error(`unexpected ACL DRYRUN reply: ${text.slice(0, 200)}`);
}
