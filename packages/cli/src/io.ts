/** Where a command's output goes: real process streams in the binary, buffers in tests. */
import { Redactor } from "@cacheplane/core";

/** The outside world of one CLI run. Every field is optional in `runCli`; defaults are the real process. */
export interface CliIo {
  /** Command results (plans, JSON, instructions). */
  stdout(text: string): void;
  /** Progress, logs and errors. */
  stderr(text: string): void;
  /** Environment variables (`CACHEPLANE_TARGET`, `REDIS_SECRET_FILE`, `REDIS_SERVER_BIN`, ...). */
  env: Record<string, string | undefined>;
  /** Directory relative paths are resolved against. */
  cwd: string;
  /**
   * Aborted when a long-running command (`dev`) should stop. When absent, `dev` stops on SIGINT or
   * SIGTERM of this process.
   */
  stopSignal?: AbortSignal;
}

/** The process's own streams, environment and working directory. */
export function processIo(): CliIo {
  return {
    stdout: (text) => process.stdout.write(text),
    stderr: (text) => process.stderr.write(text),
    env: process.env,
    cwd: process.cwd(),
  };
}

/** What a command gets: output streams that mask secrets, plus the redactor to register new ones with. */
export interface CommandContext {
  io: CliIo;
  redactor: Redactor;
  /** Writes one or more lines to stdout (a trailing newline is added). */
  out(text: string): void;
  /** Writes one or more lines to stderr (a trailing newline is added). */
  log(text: string): void;
}

/** Wraps `io` so that everything written passes through a fresh {@link Redactor}. */
export function createContext(io: CliIo): CommandContext {
  const redactor = new Redactor();
  const safe: CliIo = {
    ...io,
    stdout: (text) => io.stdout(redactor.redact(text)),
    stderr: (text) => io.stderr(redactor.redact(text)),
  };
  return {
    io: safe,
    redactor,
    out: (text) => safe.stdout(`${text}\n`),
    log: (text) => safe.stderr(`${text}\n`),
  };
}
