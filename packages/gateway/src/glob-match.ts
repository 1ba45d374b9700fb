/**
 * Redis's glob patterns (`KEYS`, `SCAN MATCH`, `PSUBSCRIBE`): `*` any run of characters, `?` one
 * character, `[abc]`, `[^abc]`, `[a-z]` a character class, `\x` the character x itself. Used where
 * the gateway itself must match as Redis would: namespaced pattern subscriptions, whose patterns the
 * ACL compares literally (see subscriptions.ts).
 */

/**
 * True when `text` matches the Redis glob `pattern` (case-sensitive, one code unit at a time: pass
 * byte strings, e.g. `Buffer.from(x, "utf8").toString("latin1")`, to match bytes as Redis does). The
 * classic two-pointer match with backtracking to the last `*`: O(pattern x text) at worst, whatever
 * the pattern (no exponential blow-up with many stars).
 */
export function globMatch(pattern: string, text: string): boolean {
  let pi = 0;
  let si = 0;
  let starP = -1;
  let starS = 0;
  while (si < text.length) {
    if (pi < pattern.length && pattern[pi] === "*") {
      while (pattern[pi] === "*") pi++;
      if (pi === pattern.length) return true;
      starP = pi;
      starS = si;
      continue;
    }
    const step = pi < pattern.length ? matchOne(pattern, pi, text[si]!) : -1;
    if (step > 0) {
      pi += step;
      si++;
      continue;
    }
    if (starP < 0) return false;
    starS++;
    si = starS;
    pi = starP;
  }
  while (pattern[pi] === "*") pi++;
  return pi === pattern.length;
}

/**
 * Whether the pattern element at `pi` matches the character `c`: the element's length when it does,
 * -1 when it does not.
 */
function matchOne(p: string, pi: number, c: string): number {
  const head = p[pi]!;
  if (head === "?") return 1;
  if (head === "\\" && pi + 1 < p.length) return p[pi + 1] === c ? 2 : -1;
  if (head !== "[") return head === c ? 1 : -1;
  let j = pi + 1;
  const negate = p[j] === "^";
  if (negate) j++;
  let matched = false;
  while (j < p.length && p[j] !== "]") {
    if (p[j] === "\\" && j + 1 < p.length) {
      if (p[j + 1] === c) matched = true;
      j += 2;
    } else if (j + 2 < p.length && p[j + 1] === "-") {
      // As in Redis, `[a-]` is the range a..']'.
      let lo = p[j]!;
      let hi = p[j + 2]!;
      if (lo > hi) [lo, hi] = [hi, lo];
      if (c >= lo && c <= hi) matched = true;
      j += 3;
    } else {
      if (p[j] === c) matched = true;
      j++;
    }
  }
  if (negate) matched = !matched;
  // An unterminated class runs to the end of the pattern, as in Redis.
  const length = (j < p.length ? j + 1 : j) - pi;
  return matched ? length : -1;
}
