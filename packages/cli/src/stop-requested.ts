/** Waiting for the user to stop a long-running command (`dev`, `gateway`). */
import type { CommandContext } from "./io.js";

/** Resolves with the reason when the user asks to stop: the io's stop signal, else SIGINT/SIGTERM. */
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
    process.on("SIGINT", handler);
    process.on("SIGTERM", handler);
  });
  return {
    promise,
    dispose: () => {
      process.off("SIGINT", handler);
      process.off("SIGTERM", handler);
    },
  };
}
