/**
 * Waiting for a load with a soft and a hard timeout. The load itself is never cancelled here: it
 * goes on in the background (tracked by the service, see pending-work.ts) and stores its value.
 */
export type LoadOutcome<T> =
  | { kind: "value"; value: T }
  | { kind: "error"; error: unknown }
  /** `softMs` passed (only asked for when a stale value can be served). */
  | { kind: "soft" }
  /** `hardMs` passed. */
  | { kind: "hard" };

/** Settles with the first of: the load's value or error, the soft timeout, the hard timeout. */
export function awaitLoad<T>(
  load: Promise<T>,
  softMs: number | undefined,
  hardMs: number | undefined,
): Promise<LoadOutcome<T>> {
  if (softMs === undefined && hardMs === undefined) {
    return load.then(
      (value) => ({ kind: "value", value }),
      (error: unknown) => ({ kind: "error", error }),
    );
  }
  return new Promise<LoadOutcome<T>>((resolve) => {
    let soft: NodeJS.Timeout | undefined;
    let hard: NodeJS.Timeout | undefined;
    const done = (outcome: LoadOutcome<T>) => {
      clearTimeout(soft);
      clearTimeout(hard);
      resolve(outcome);
    };
    if (softMs !== undefined) soft = setTimeout(() => done({ kind: "soft" }), softMs);
    if (hardMs !== undefined) hard = setTimeout(() => done({ kind: "hard" }), hardMs);
    load.then(
      (value) => done({ kind: "value", value }),
      (error: unknown) => done({ kind: "error", error }),
    );
  });
}
