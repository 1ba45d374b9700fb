/** Errors the CLI reports as one clear message and an exit code, never with a stack trace. */

/** Exit codes of every command. */
export const EXIT = {
  /** Success (and, for `plan`, "no changes" or "changes" unless `--detailed-exitcode`). */
  ok: 0,
  /** The command ran and failed: unreachable target, Redis error, a failed `doctor` check. */
  failure: 1,
  /** Invalid usage or config (nothing was changed); also `plan --detailed-exitcode` with pending changes. */
  usage: 2,
} as const;

/** A failure with a message meant for the operator (no stack) and the process exit code to use. */
export class CliError extends Error {
  override readonly name: string = "CliError";
  constructor(
    message: string,
    readonly exitCode: number = EXIT.failure,
  ) {
    super(message);
  }
}

/** Bad flags, a missing file, or a config that does not validate: exit code 2, nothing was changed. */
export class UsageError extends CliError {
  override readonly name = "UsageError";
  constructor(message: string) {
    super(message, EXIT.usage);
  }
}
