/** Resolves after `ms` milliseconds (a ref'd timer, so it keeps the process alive while waited on). */
export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** Resolves true if `promise` settles within `ms`, false otherwise. */
export async function settlesWithin(promise: Promise<unknown>, ms: number): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<false>((resolve) => {
    timer = setTimeout(() => resolve(false), ms);
  });
  try {
    return await Promise.race([promise.then(() => true as const), timeout]);
  } finally {
    clearTimeout(timer);
  }
}

/**
 * Calls `check` every `intervalMs` until it returns a truthy value (which is returned) or `budgetMs`
 * runs out; then throws, mentioning `what` and the last error or falsy result.
 */
export async function waitUntil<T>(
  what: string,
  budgetMs: number,
  check: () => Promise<T | undefined | null | false>,
  intervalMs = 50,
): Promise<T> {
  const deadline = Date.now() + budgetMs;
  let lastProblem = "";
  for (;;) {
    try {
      const result = await check();
      if (result) return result;
      lastProblem = "";
    } catch (error) {
      lastProblem = error instanceof Error ? error.message : String(error);
    }
    if (Date.now() >= deadline) {
      throw new Error(
        `timed out after ${budgetMs} ms waiting for ${what}${lastProblem ? ` (last error: ${lastProblem})` : ""}`,
      );
    }
    await sleep(intervalMs);
  }
}
