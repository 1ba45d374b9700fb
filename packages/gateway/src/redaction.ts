/**
 * Defence in depth for outgoing text: every token and password the gateway knows is registered here
 * and scrubbed from error messages and log entries before they leave the process.
 */

const MIN_SECRET_LENGTH = 8;

/** A set of secret strings that must never appear in responses or logs. */
export class Redactor {
  private readonly secrets = new Set<string>();

  /** Registers values to scrub (short values are ignored: they would mangle ordinary text). */
  add(...values: (string | undefined)[]): void {
    for (const value of values) {
      if (value !== undefined && value.length >= MIN_SECRET_LENGTH) this.secrets.add(value);
    }
  }

  /** `text` with every registered secret replaced by `***`. */
  redact(text: string): string {
    let out = text;
    for (const secret of this.secrets) {
      if (out.includes(secret)) out = out.split(secret).join("***");
    }
    return out;
  }
}
