/** One problem found in a platform config: where it is and how to fix it. */
export interface ConfigIssue {
  /** Dotted path of the field at fault, e.g. `services.1.keyspace`; empty for the whole config. */
  path: string;
  message: string;
}

/** A platform config that cannot be used. Lists every problem at once, one line each. */
export class ConfigError extends Error {
  override readonly name = "ConfigError";
  constructor(readonly issues: ConfigIssue[]) {
    super(
      `Invalid Cacheplane config (${issues.length} problem${issues.length === 1 ? "" : "s"}):\n` +
        issues.map((i) => `  - ${i.path ? `${i.path}: ` : ""}${i.message}`).join("\n"),
    );
  }
}
