/**
 * A canonical form of ElastiCache access strings, so that drift detection compares what a string
 * means, not how it is spelt. ElastiCache does not document whether it stores an access string as
 * given or rewrites it the way `ACL LIST` does on a self-managed server (docs/decisions/0007): both
 * the declared string and the one `DescribeUsers` returns go through {@link canonicalElastiCacheAccess},
 * so a rewrite that keeps the meaning is not drift, and no ModifyUser is issued for it.
 *
 * The canonical form only applies rewrites that are exact under Redis/Valkey ACL semantics for a user
 * built from nothing (ElastiCache users are): it does not depend on which rules a preset contains.
 * - white space, letter case of commands and categories, and aliases (`allkeys` = `~*`, `allchannels`
 *   = `&*`, `allcommands` = `+@all`, `nocommands` = `-@all`, `%RW~p` = `~p`) are normalised;
 * - the user's state (`on`/`off`, last one wins) comes first;
 * - key patterns and channel patterns are sets (their order never matters): sorted, duplicates
 *   dropped, `resetkeys`/`resetchannels` applied where they occur;
 * - channels start from `resetchannels` (the default of every engine ElastiCache Serverless runs:
 *   Redis OSS 7+ and Valkey 7.2+), which the canonical form always spells out;
 * - command rules keep their order (later rules win), except that rules before the last `+@all` or
 *   `-@all` are dropped (that rule overwrites every command), denials before the first grant are dropped (a
 *   new user has no commands to take away) and replaced by one explicit `-@all` (unless the rules start
 *   with `+@all`), and an exact repeat of the rule just before it is dropped;
 * The canonical form means the same as the original, so it can be sent to ElastiCache as it is.
 * - passwords (`>`, `<`, `#`, `!`, `nopass`, `resetpass`) are not part of an access string: dropped;
 * - selectors (`(...)`) and anything unrecognised are kept as written, in order.
 */

const KEY_PERMISSION = /^%(R|W|RW|WR)~(.*)$/i;

/** Splits an access string into rules, keeping `( ... )` selectors whole. */
function tokens(access: string): string[] {
  const out: string[] = [];
  let selector: string[] | undefined;
  for (const word of access.trim().split(/\s+/)) {
    if (word === "") continue;
    if (selector) {
      selector.push(word);
      if (word.endsWith(")")) {
        out.push(selector.join(" "));
        selector = undefined;
      }
    } else if (word.startsWith("(") && !word.endsWith(")")) {
      selector = [word];
    } else {
      out.push(word);
    }
  }
  if (selector) out.push(selector.join(" "));
  return out;
}

/** The canonical spelling of an access string (see the module comment). Never throws. */
export function canonicalElastiCacheAccess(access: string): string {
  let state = "off";
  let keys = new Set<string>();
  let channels = new Set<string>();
  let commands: string[] = [];
  const other: string[] = [];
  for (const raw of tokens(access)) {
    const lower = raw.toLowerCase();
    if (raw.startsWith("(")) {
      other.push(raw);
      continue;
    }
    if (lower === "on" || lower === "off") state = lower;
    else if (lower === "reset") {
      state = "off";
      keys = new Set();
      channels = new Set();
      commands = [];
    } else if (lower === "nopass" || lower === "resetpass" || /^[<>#!]/.test(raw)) {
      // a password rule: not part of what an access string grants
    } else if (lower === "allkeys") keys.add("~*");
    else if (lower === "resetkeys") keys = new Set();
    else if (raw.startsWith("~")) keys.add(raw);
    else if (KEY_PERMISSION.test(raw)) {
      const [, perm, pattern] = KEY_PERMISSION.exec(raw)!;
      const p = perm!.toUpperCase();
      keys.add(p === "RW" || p === "WR" ? `~${pattern}` : `%${p}~${pattern}`);
    } else if (lower === "allchannels") channels.add("&*");
    else if (lower === "resetchannels") channels = new Set();
    else if (raw.startsWith("&")) channels.add(raw);
    else if (lower === "allcommands") commands.push("+@all");
    else if (lower === "nocommands") commands.push("-@all");
    else if (/^[+-]/.test(raw)) commands.push(lower);
    else other.push(raw);
  }
  const lastAll = Math.max(commands.lastIndexOf("+@all"), commands.lastIndexOf("-@all"));
  if (lastAll >= 0) commands = commands.slice(commands[lastAll] === "-@all" ? lastAll + 1 : lastAll);
  const deduped = commands.filter((rule, i) => rule !== commands[i - 1]);
  // Denials before the first grant take nothing away from a user that has no commands yet; the
  // canonical form starts from an explicit `-@all` instead (so it is also safe to send as it is).
  while (deduped.length > 0 && deduped[0]!.startsWith("-")) deduped.shift();
  if (deduped[0] !== "+@all") deduped.unshift("-@all");
  const sorted = (set: Set<string>) => [...set].sort();
  return [state, ...sorted(keys), "resetchannels", ...sorted(channels), ...deduped, ...other].join(" ");
}

/** True when two access strings mean the same to ElastiCache (their canonical forms are equal). */
export function sameElastiCacheAccess(a: string, b: string): boolean {
  return canonicalElastiCacheAccess(a) === canonicalElastiCacheAccess(b);
}
