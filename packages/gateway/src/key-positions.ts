/**
 * Which arguments of a command are keys, read from the server's own command table: the key
 * specifications of Redis/Valkey 7+ (`COMMAND`, evaluated as the server evaluates them, so movable
 * keys such as EVAL/FCALL numkeys, XREAD/XREADGROUP STREAMS, ZUNIONSTORE/ZINTER* numkeys,
 * LMPOP/ZMPOP/BLMPOP/BZMPOP, GEORADIUS STORE, OBJECT/MEMORY USAGE/XGROUP subcommands are found), or
 * the legacy first/last/step of older servers for commands without movable keys.
 *
 * A command whose keys cannot be found this way (no key information, an `unknown` or `INCOMPLETE`
 * key specification such as SORT's BY/GET patterns or MIGRATE's KEYS, or a malformed numkeys) is
 * reported as such: namespaced tokens refuse it rather than send a key unprefixed.
 */
import type { CommandArg } from "./command-policy.js";
import type { KeyLocation, KeySpec } from "./command-table.js";

/** Argument indexes (0 = the command name) that are keys, or why they cannot be found. */
export type KeyPositions =
  | { keys: number[] }
  | { unknown: "no-key-info" | "movable" | "incomplete" | "malformed" };

function lower(arg: CommandArg | undefined): string {
  if (arg === undefined) return "";
  return (typeof arg === "string" ? arg : arg.toString("latin1")).toLowerCase();
}

function parseCount(arg: CommandArg | undefined): number | undefined {
  if (arg === undefined) return undefined;
  const text = typeof arg === "string" ? arg : arg.toString("latin1");
  if (!/^-?\d{1,10}$/.test(text)) return undefined;
  return Number(text);
}

/** The keys one key specification finds in `args` (Redis's `getKeysUsingKeySpecs`), or undefined. */
function specKeys(spec: KeySpec, args: readonly CommandArg[], arity: number, out: Set<number>): boolean {
  const argc = args.length;
  let first = 0;
  const { begin, find } = spec;
  if (begin.type === "index") {
    first = begin.index;
  } else if (begin.type === "keyword") {
    const keyword = begin.keyword.toLowerCase();
    const start = begin.startfrom > 0 ? begin.startfrom : argc + begin.startfrom;
    const end = begin.startfrom > 0 ? argc - 1 : 0;
    for (let i = start; i !== end; i = start <= end ? i + 1 : i - 1) {
      if (i >= argc || i < 1) break;
      if (lower(args[i]) === keyword) {
        first = i + 1;
        break;
      }
    }
    if (first === 0) return true; // keyword absent: this spec finds no keys
  } else {
    return false;
  }
  let last: number;
  let step: number;
  if (find.type === "range") {
    if (find.lastkey >= 0) last = first + find.lastkey;
    else if (find.limit === 0) last = argc + find.lastkey;
    else last = first + (Math.floor((argc - first) / find.limit) + find.lastkey);
    step = find.keystep;
  } else if (find.type === "keynum") {
    const numkeys = parseCount(args[first + find.keynumidx]);
    if (numkeys === undefined || numkeys < 0) return false;
    first += find.firstkey;
    last = first + numkeys - 1;
    step = find.keystep;
  } else {
    return false;
  }
  if (step < 1) return false;
  for (let i = first; i <= last; i += step) {
    if (i >= argc || i < first) {
      // Variable-arity commands have no dispatch-time arity check: too few arguments means no key
      // here (the command itself reports the error).
      if (arity < 0) continue;
      return false;
    }
    out.add(i);
  }
  return true;
}

/** The key positions of `args` for a command whose keys are described by `keys`. */
export function keyPositions(args: readonly CommandArg[], keys: KeyLocation | undefined): KeyPositions {
  if (!keys) return { unknown: "no-key-info" };
  const found = new Set<number>();
  if (keys.specs) {
    for (const spec of keys.specs) {
      if (spec.flags.has("INCOMPLETE")) return { unknown: "incomplete" };
      if (!specKeys(spec, args, keys.arity, found)) {
        return {
          unknown: spec.begin.type === "unknown" || spec.find.type === "unknown" ? "incomplete" : "malformed",
        };
      }
    }
    return { keys: [...found].sort((a, b) => a - b) };
  }
  if (keys.movable) return { unknown: "movable" };
  if (keys.first <= 0) return { keys: [] };
  const last = keys.last < 0 ? args.length + keys.last : keys.last;
  for (let i = keys.first; i <= last && i < args.length; i += Math.max(1, keys.step)) found.add(i);
  return { keys: [...found] };
}
