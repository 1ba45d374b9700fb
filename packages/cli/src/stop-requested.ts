/** Waiting for the user to stop a long-running command (`dev`, `gateway`). */
import type { CommandContext } from "./io.js";

/** The signals that stop `dev` and `gateway` cleanly: Ctrl-C, `kill`, and the terminal closing (SIGHUP). */
export const STOP_SIGNALS: readonly NodeJS.Signals[] = ["SIGINT", "SIGTERM", "SIGHUP"];

/**
 * Resolves with the reason when the user asks to stop: the io's stop signal, else SIGINT, SIGTERM or
 * SIGHUP (a closed terminal must not leave a redis-server behind).
 */
export function stopRequested(ctx: CommandContext): { promise: Promise<string>; dispose(): void } {
  const signal = ctx.io.stopSignal;
  if (signal) {
    let onAbort: () => void = () => undefined;
    const promise = new Promise<string>((resolve) => {
      onAbort = () => resolve("stop requested");
      if (signal.aborted) resolve("stop requested");
      else signal.addEventListener("abort", onAbort, { once: true });
    });
    return { promise, dispose: () => signal.removeEventListener("abort", onAbort) };
  }
  let handler: (s: NodeJS.Signals) => void = () => undefined;
  const promise = new Promise<string>((resolve) => {
    handler = (s) => resolve(s);
    for (const s of STOP_SIGNALS) process.on(s, handler);
  });
  return {
    promise,
    dispose: () => {
      for (const s of STOP_SIGNALS) process.off(s, handler);
    },
  };
}
