/**
 * What no tenant may run on a shared cache, and why. One list serves four purposes:
 * - the safety tail of every access string (`-<name>` rules, applied after the service's own rules);
 * - config validation (an explicit grant of a denied command needs `allowDangerous: true`);
 * - the provisioner's verification against the real server (`ACL DRYRUN <user> <probe>` must be refused
 *   on every node before a user is written, so a future change of Redis's categories cannot reopen one
 *   of these silently);
 * - the docs (the reason is what `plan` and the errors print).
 *
 * Redis ACL key patterns do not filter enumeration commands (SCAN, KEYS, PUBSUB CHANNELS, CLIENT
 * TRACKING BCAST, ...): they would show every tenant's key or channel names, so those are denied as
 * commands. Names are `cmd` or `cmd|sub`, lowercase, as Redis 7.0 knows them.
 */

/** Why a command is denied. */
export type DenialKind =
  /** Reveals other tenants' key names, channel names, key counts or connections. */
  | "enumeration"
  /** Changes the server, its users or its configuration, or reads server-wide state. */
  | "admin"
  /** Wipes or moves data beyond the keyspace, or reaches other databases/servers. */
  | "destructive"
  /** Server-wide scripting state that one tenant must not control. */
  | "scripting";

export interface DeniedCommand {
  /** `cmd` or `cmd|sub`, lowercase. A parent (`acl`) denies every subcommand. */
  readonly name: string;
  readonly kind: DenialKind;
  /** One line for errors and the plan: what a tenant could do with it. */
  readonly reason: string;
  /**
   * Arguments after the command name(s) for `ACL DRYRUN` (which checks arity before permissions);
   * `{ks}` stands for a key in the user's own keyspace, so only the command permission is tested.
   */
  readonly probe: readonly string[];
  /** Further probes for subcommands of a parent entry (`["list"]`, `["setuser", "x"]`, ...). */
  readonly subProbes?: readonly (readonly string[])[];
}

const d = (
  name: string,
  kind: DenialKind,
  reason: string,
  probe: readonly string[] = [],
  subProbes?: readonly (readonly string[])[],
): DeniedCommand => Object.freeze({ name, kind, reason, probe, ...(subProbes ? { subProbes } : {}) });

const KEYS = "lists every tenant's key names";
const TRACKING =
  "CLIENT TRACKING BCAST streams other tenants' key names live; REDIRECT probes connection ids";

/** Every command the safety tail denies, in the order the tail names them. */
export const DENIED_COMMANDS: readonly DeniedCommand[] = Object.freeze([
  // Enumeration: key names, counts, channels, connections.
  d("keys", "enumeration", KEYS, ["*"]),
  d("scan", "enumeration", `${KEYS} (ACL key patterns do not filter SCAN)`, ["0"]),
  d("randomkey", "enumeration", "returns a random key of any tenant"),
  d("dbsize", "enumeration", "counts every tenant's keys"),
  d(
    "pubsub",
    "enumeration",
    "lists other tenants' channel names and subscriber counts",
    ["channels"],
    [["numsub"], ["numpat"], ["shardchannels"], ["shardnumsub"]],
  ),
  d("client|tracking", "enumeration", TRACKING, ["on"]),
  d("client|caching", "enumeration", TRACKING, ["yes"]),
  d("client|getredir", "enumeration", TRACKING),
  d("client|trackinginfo", "enumeration", TRACKING),
  d("client|list", "enumeration", "lists every connection, its user and its last command"),
  d("client|kill", "admin", "disconnects other tenants", ["127.0.0.1:1"]),
  d("client|pause", "admin", "stalls every tenant", ["1"]),
  d("client|unpause", "admin", "ends a pause the platform set"),
  d("client|unblock", "admin", "interrupts other tenants' blocked calls", ["1"]),
  d("client|no-evict", "admin", "exempts a connection from client eviction", ["on"]),
  d("cluster|getkeysinslot", "enumeration", KEYS, ["0", "1"]),
  d("cluster|countkeysinslot", "enumeration", "counts every tenant's keys per slot", ["0"]),
  d("select", "destructive", "reaches data outside database 0 (not covered by the keyspace)", ["1"]),
  d("move", "destructive", "moves keys to another database", ["{ks}x", "1"]),
  d("swapdb", "destructive", "swaps every tenant's data with another database", ["0", "1"]),
  d("memory|stats", "enumeration", "reports server-wide key counts and memory", []),
  d("memory|doctor", "enumeration", "reports server-wide memory state"),
  d("memory|malloc-stats", "enumeration", "reports allocator state of the whole server"),
  d("memory|purge", "admin", "makes the allocator work for the whole server"),
  d("info", "enumeration", "reports server-wide key counts, clients and commands"),
  d("monitor", "enumeration", "streams every tenant's commands, keys and values"),
  d("slowlog", "enumeration", "shows other tenants' commands and arguments", ["get"], [["len"], ["reset"]]),
  d("latency", "enumeration", "reports server-wide latency events", ["latest"], [["doctor"], ["reset"]]),
  // Administration.
  d(
    "acl",
    "admin",
    "changes users and permissions (ACL SETUSER) or reads them",
    ["setuser", "x"],
    [
      ["list"],
      ["users"],
      ["getuser", "x"],
      ["deluser", "x"],
      ["log"],
      ["save"],
      ["load"],
      ["dryrun", "x", "get"],
    ],
  ),
  d(
    "config",
    "admin",
    "reads or changes the server configuration",
    ["get", "x"],
    [["set", "x", "y"], ["rewrite"], ["resetstat"]],
  ),
  d("debug", "admin", "can crash, stall or inspect the server", ["help"]),
  d("shutdown", "admin", "stops the server for everyone"),
  d("module", "admin", "loads native code into the server", ["list"], [["load", "x"]]),
  d("save", "admin", "blocks the server while it writes a snapshot"),
  d("bgsave", "admin", "forks the server"),
  d("bgrewriteaof", "admin", "forks the server"),
  d("lastsave", "admin", "server-wide persistence state"),
  d("role", "admin", "replication topology"),
  d("failover", "admin", "changes replication roles"),
  d("replicaof", "admin", "turns the server into another server's replica", ["no", "one"]),
  d("slaveof", "admin", "turns the server into another server's replica", ["no", "one"]),
  d("sync", "admin", "copies the whole dataset"),
  d("psync", "admin", "copies the whole dataset", ["x", "1"]),
  d("replconf", "admin", "replication internals", ["x", "y"]),
  d("pfdebug", "admin", "internal debugging of HyperLogLogs", ["getreg", "{ks}x"]),
  d("pfselftest", "admin", "CPU-heavy self test"),
  // Destructive or reaching beyond the keyspace.
  d("flushall", "destructive", "deletes every tenant's keys"),
  d("flushdb", "destructive", "deletes every tenant's keys"),
  d("migrate", "destructive", "moves keys to another server", ["h", "1", "{ks}x", "0", "1"]),
  d("restore", "destructive", "writes raw RDB payloads", ["{ks}x", "0", "x"]),
  d("restore-asking", "destructive", "writes raw RDB payloads", ["{ks}x", "0", "x"]),
  d("sort", "destructive", "BY/GET patterns read keys by pattern", ["{ks}x"]),
  d("sort_ro", "destructive", "BY/GET patterns read keys by pattern", ["{ks}x"]),
  // Scripting state shared by every tenant.
  d(
    "function",
    "scripting",
    "loads, deletes or lists the platform's function libraries",
    ["list"],
    [["load", "x"], ["delete", "x"], ["flush"], ["dump"], ["restore", "x"], ["kill"], ["stats"]],
  ),
  d("script|flush", "scripting", "drops every tenant's cached scripts"),
  d("script|kill", "scripting", "kills another tenant's running script"),
  d("script|debug", "scripting", "runs the Lua debugger", ["no"]),
]);

/**
 * Commands only services with `scripting: true` get: arbitrary Lua. A script can run as long as it
 * likes and every other tenant gets `BUSY` meanwhile (only an admin can `SCRIPT KILL`), so scripting is
 * an explicit opt-in for trusted services. The client's own atomic operations use FCALL of the
 * platform's function library instead and need none of these.
 */
export const SCRIPTING_COMMANDS: readonly DeniedCommand[] = Object.freeze([
  d("eval", "scripting", "runs arbitrary Lua (a long script stalls every tenant)", ["return 1", "0"]),
  d("evalsha", "scripting", "runs arbitrary Lua (a long script stalls every tenant)", ["x", "0"]),
  d("eval_ro", "scripting", "runs arbitrary Lua (a long script stalls every tenant)", ["return 1", "0"]),
  d("evalsha_ro", "scripting", "runs arbitrary Lua (a long script stalls every tenant)", ["x", "0"]),
  d(
    "script",
    "scripting",
    "loads scripts into the server-wide script cache",
    ["load", "x"],
    [["exists", "x"]],
  ),
]);

/** What a read-only service (the plain `"read-only"` preset) must never run, beyond the tail. */
export const READ_ONLY_DENIED: readonly DeniedCommand[] = Object.freeze([
  d("set", "destructive", "writes", ["{ks}x", "v"]),
  d("del", "destructive", "deletes", ["{ks}x"]),
  d("publish", "destructive", "publishes", ["{ks}x", "m"]),
  d("fcall", "scripting", "runs the platform's functions (they write)", ["f", "0"]),
  d("fcall_ro", "scripting", "runs the platform's functions", ["f", "0"]),
]);

/** The denied entry covering `name` (`cmd`, `cmd|sub`): the exact entry, or its parent command. */
export function deniedEntry(
  name: string,
  list: readonly DeniedCommand[] = DENIED_COMMANDS,
): DeniedCommand | undefined {
  const lowered = name.toLowerCase();
  const parent = lowered.includes("|") ? lowered.slice(0, lowered.indexOf("|")) : undefined;
  return list.find((c) => c.name === lowered || (parent !== undefined && c.name === parent));
}

/** One `ACL DRYRUN` check: the argv after the user name, and the entry it checks. */
export interface AccessProbe {
  readonly argv: readonly string[];
  readonly denied: DeniedCommand;
}

/** The probes of a list of entries, `{ks}` replaced by `<keyspace>:` (a key the user may touch). */
export function probesFor(list: readonly DeniedCommand[], keyspace: string): AccessProbe[] {
  const fill = (args: readonly string[]) => args.map((a) => a.replaceAll("{ks}", `${keyspace}:`));
  const probes: AccessProbe[] = [];
  for (const entry of list) {
    const words = entry.name.split("|");
    probes.push({ argv: [...words, ...fill(entry.probe)], denied: entry });
    for (const sub of entry.subProbes ?? []) probes.push({ argv: [...words, ...fill(sub)], denied: entry });
  }
  return probes;
}

/** What a service must never be able to run, given how it is declared. */
export function forbiddenProbes(service: {
  keyspace: string;
  scripting?: boolean;
  access: unknown;
}): AccessProbe[] {
  const lists = [DENIED_COMMANDS];
  if (service.scripting !== true) lists.push(SCRIPTING_COMMANDS);
  if (service.access === "read-only") lists.push(READ_ONLY_DENIED);
  return lists.flatMap((list) => probesFor(list, service.keyspace));
}
