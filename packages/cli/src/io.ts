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
   * Aborted when a long-running command (`dev`) should stop. When absent, `dev` stops on SIGINT,
   * SIGTERM or SIGHUP of this process.
   */
  stopSignal?: AbortSignal;
}

let streamsGuarded = false;

/**
 * Output to a closed terminal or pipe (EIO, EPIPE: the terminal window was closed, `| head` exited)
 * is dropped instead of crashing the process, so that a command can still clean up (stop its
 * redis-server) after its output went away.
 */
function guardStreams(): void {
  if (streamsGuarded) return;
  streamsGuarded = true;
  for (const stream of [process.stdout, process.stderr]) stream.on("error", () => undefined);
}

function safeWrite(stream: NodeJS.WriteStream, text: string): void {
  if (stream.destroyed || !stream.writable) return;
  try {
    stream.write(text);
  } catch {
    // The terminal or pipe is gone: nothing to tell anyone.
  }
}

/** The process's own streams, environment and working directory. */
export function processIo(): CliIo {
  guardStreams();
  return {
    stdout: (text) => safeWrite(process.stdout, text),
    stderr: (text) => safeWrite(process.stderr, text),
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
