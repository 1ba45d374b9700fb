/**
 * A small reading of ACL command rules, used only to give a clear 403 before Redis is asked (for
 * scripting). Redis's ACL stays the final guard; this never grants anything Redis would refuse.
 */

/**
 * True when the access string grants `command` (lowercase, `cmd` or `cmd|sub`) given the command's
 * ACL categories (e.g. `["@slow", "@scripting"]`). Rules are applied left to right like Redis does:
 * `+@all`/`allcommands`, `-@all`/`nocommands`, `+@cat`/`-@cat`, `+cmd`/`-cmd`, `+cmd|sub`/`-cmd|sub`.
 */
export function grantsCommand(accessString: string, command: string, categories: readonly string[]): boolean {
  const name = command.toLowerCase();
  const parent = name.includes("|") ? name.slice(0, name.indexOf("|")) : name;
  const cats = new Set(categories.map((c) => c.toLowerCase()));
  let allowed = false;
  for (const raw of accessString.trim().split(/\s+/)) {
    const rule = raw.toLowerCase();
    if (rule === "allcommands" || rule === "+@all") allowed = true;
    else if (rule === "nocommands" || rule === "-@all") allowed = false;
    else if (rule.startsWith("+@") || rule.startsWith("-@")) {
      if (cats.has(rule.slice(1))) allowed = rule.startsWith("+");
    } else if (rule.startsWith("+") || rule.startsWith("-")) {
      const target = rule.slice(1);
      if (target === name || target === parent) allowed = rule.startsWith("+");
    }
  }
  return allowed;
}
