/**
 * The platform's scanner identity (`scanner: true` in the config): a Redis user the provisioner
 * creates next to the services' users, with its own secret (`cacheplane-scanner`), that may run
 * `SCAN` and nothing else: no key (so no value, type, TTL or size of any key), no channel, no other
 * command; `PING` and the cluster topology commands a cluster client needs to find the masters. The
 * gateway uses it to answer KEYS, SCAN, DBSIZE and FLUSHDB of namespaced tokens, and always sends its
 * SCAN with `MATCH <keyspace>:...`.
 *
 * What its credential shows if it leaks: the **names of every key of every tenant** (SCAN ignores ACL
 * key patterns; this is why tenants never get it), and through `SCAN ... TYPE` each key's type and
 * through repeated scans how many keys there are. Never a value, a TTL, a size, a channel or a
 * connection; it can change nothing. Rotate it like any secret (`cacheplane apply` after deleting the
 * secret issues a new password).
 */
import type { PlatformConfig, ResolvedService } from "./config.js";
import type { AccessProbe, DeniedCommand } from "./denied-commands.js";
import { DENIED_COMMANDS, probesFor, READ_ONLY_DENIED, SCRIPTING_COMMANDS } from "./denied-commands.js";
import { secretNameFor, userIdFor } from "./naming.js";

/** Service name (secret file `cacheplane-scanner.json`) of the scanner identity; no service may take it. */
export const SCANNER_NAME = "cacheplane-scanner";

/** What the scanner may run: SCAN, PING, and the cluster topology commands. */
export const SCANNER_GRANTS: readonly string[] = Object.freeze([
  "+scan",
  "+ping",
  "+cluster|slots",
  "+cluster|shards",
  "+cluster|nodes",
  "+cluster|info",
  "+cluster|myid",
]);

/** The scanner's access string: no keys (no `~` pattern), no channels, SCAN and what a client needs. */
export function scannerAccessString(): string {
  return ["on", "resetchannels", "-@all", ...SCANNER_GRANTS].join(" ");
}

/** The scanner's Redis user id (also its name) for a config's `userPrefix`. */
export function scannerUserId(userPrefix = ""): string {
  return userIdFor(SCANNER_NAME, userPrefix);
}

const probe = (name: string, args: string[]): DeniedCommand =>
  Object.freeze({ name, kind: "enumeration" as const, reason: "the scanner reads no key", probe: args });

/** Keyed and channel commands the scanner must never run (it reads no key and no channel). */
const SCANNER_DENIED_KEYED: readonly DeniedCommand[] = Object.freeze([
  probe("get", ["{ks}x"]),
  probe("type", ["{ks}x"]),
  probe("exists", ["{ks}x"]),
  probe("pttl", ["{ks}x"]),
  probe("object", ["encoding", "{ks}x"]),
  probe("dump", ["{ks}x"]),
  probe("subscribe", ["{ks}x"]),
  probe("xread", ["streams", "{ks}x", "0"]),
]);

/**
 * What the scanner must never be able to run: everything the services may not (core's deny list
 * except SCAN itself, scripting, writes), and any command on a key or channel.
 */
export function scannerForbiddenProbes(keyspace = "scanner"): AccessProbe[] {
  return [
    ...probesFor(
      DENIED_COMMANDS.filter((c) => c.name !== "scan"),
      keyspace,
    ),
    ...probesFor(SCRIPTING_COMMANDS, keyspace),
    ...probesFor(READ_ONLY_DENIED, keyspace),
    ...probesFor(SCANNER_DENIED_KEYED, keyspace),
  ];
}

/** The scanner as the provisioner handles users: the shape of a resolved service. */
export interface ScannerIdentity {
  name: string;
  userId: string;
  userName: string;
  keyspace: string;
  sharedKeyspaces: string[];
  access: { preset: "none"; commands: string[] };
  accessString: string;
  secretName: string;
  enabled: boolean;
  allowDangerous: boolean;
  scripting: boolean;
  description: string;
}

/** The scanner identity of a platform with `userPrefix`. */
export function scannerIdentity(userPrefix = ""): ScannerIdentity {
  const userId = scannerUserId(userPrefix);
  return {
    name: SCANNER_NAME,
    userId,
    userName: userId,
    // Names only its secret; it grants no key (the access string has no `~` pattern).
    keyspace: SCANNER_NAME,
    sharedKeyspaces: [],
    access: { preset: "none", commands: [...SCANNER_GRANTS] },
    accessString: scannerAccessString(),
    secretName: secretNameFor(SCANNER_NAME, SCANNER_NAME),
    enabled: true,
    allowDangerous: false,
    scripting: false,
    description: "platform scanner identity: SCAN only (namespaced gateway tokens)",
  };
}

/**
 * Every Redis user a platform declares: its services, then the scanner identity when the config
 * has `scanner: true`. What the provisioner plans, applies and keeps secrets for.
 */
export function platformUsers(
  config: Pick<PlatformConfig, "services" | "scanner" | "userPrefix">,
): ResolvedService[] {
  return config.scanner ? [...config.services, scannerIdentity(config.userPrefix)] : config.services;
}

/** True for the scanner identity (by name), false for a service. */
export function isScanner(user: { name: string }): boolean {
  return user.name === SCANNER_NAME;
}
