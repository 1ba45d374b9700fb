/**
 * Compatibility for Lua scripts written for Upstash: Upstash accepts script shebang flags that Redis
 * and Valkey do not know (`#!lua flags=allow-key-locking`, used by `@upstash/ratelimit`), and Redis
 * refuses such scripts ("Unexpected flag in script shebang"). The gateway removes unknown flags from
 * EVAL / EVAL_RO / SCRIPT LOAD bodies and remembers which SHA1 the client computed for the original
 * text, so a later EVALSHA of that SHA1 runs the adapted script.
 */
import { createHash } from "node:crypto";
import type { CommandArg } from "./command-policy.js";

/** Shebang flags Redis 7 and Valkey understand. */
const KNOWN_FLAGS: ReadonlySet<string> = new Set([
  "no-writes",
  "allow-oom",
  "allow-stale",
  "no-cluster",
  "allow-cross-slot-keys",
]);
const SHEBANG = /^#!lua flags=([^\r\n]*)/;
const MAX_REMEMBERED = 1000;

function sha1(bytes: Buffer): string {
  return createHash("sha1").update(bytes).digest("hex");
}

function toBuffer(arg: CommandArg): Buffer {
  return typeof arg === "string" ? Buffer.from(arg, "utf8") : arg;
}

/** The script with unknown shebang flags removed, or undefined when nothing needs to change. */
export function adaptScript(script: Buffer): Buffer | undefined {
  if (script.length < 16 || script[0] !== 0x23) return undefined; // "#"
  const head = script.subarray(0, Math.min(script.length, 512)).toString("utf8");
  const match = SHEBANG.exec(head);
  if (!match) return undefined;
  const flags = (match[1] ?? "")
    .split(",")
    .map((f) => f.trim())
    .filter((f) => f.length > 0);
  const kept = flags.filter((f) => KNOWN_FLAGS.has(f));
  if (kept.length === flags.length) return undefined;
  const line = kept.length > 0 ? `#!lua flags=${kept.join(",")}` : "#!lua";
  const rest = script.subarray(Buffer.byteLength(match[0], "utf8"));
  return Buffer.concat([Buffer.from(line, "utf8"), rest]);
}

/** Rewrites script commands of one gateway; remembers original SHA1 -> adapted SHA1. */
export class ScriptCompat {
  private readonly shas = new Map<string, string>();

  private remember(original: Buffer, adapted: Buffer): void {
    if (this.shas.size >= MAX_REMEMBERED) {
      const oldest = this.shas.keys().next().value;
      if (oldest !== undefined) this.shas.delete(oldest);
    }
    this.shas.set(sha1(original), sha1(adapted));
  }

  /** `args` ready for Redis (the same array when nothing changes). */
  adapt(args: readonly CommandArg[]): readonly CommandArg[] {
    const name = (typeof args[0] === "string" ? args[0] : (args[0]?.toString("utf8") ?? "")).toLowerCase();
    let index = -1;
    if (name === "eval" || name === "eval_ro") index = 1;
    else if (name === "script" && String(args[1] ?? "").toLowerCase() === "load") index = 2;
    if (index > 0 && args[index] !== undefined) {
      const original = toBuffer(args[index]!);
      const adapted = adaptScript(original);
      if (!adapted) return args;
      this.remember(original, adapted);
      const copy = [...args];
      copy[index] = adapted;
      return copy;
    }
    if ((name === "evalsha" || name === "evalsha_ro") && args[1] !== undefined) {
      const sha = toBuffer(args[1]).toString("utf8").toLowerCase();
      const mapped = this.shas.get(sha);
      if (!mapped) return args;
      const copy = [...args];
      copy[1] = mapped;
      return copy;
    }
    return args;
  }
}
