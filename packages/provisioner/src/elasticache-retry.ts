/**
 * Retries and waits for the AWS adapters (ElastiCache target, Secrets Manager store): exponential
 * backoff with jitter, bounded by attempts, a timeout and an optional absolute deadline. Sleep, clock
 * and randomness are injectable so tests run instantly and never depend on wall-clock time.
 */

/** Time and randomness behind every retry and wait. */
export interface RetryClock {
  /** Waits `ms` milliseconds. */
  sleep(ms: number): Promise<void>;
  /** Current time in epoch milliseconds. */
  now(): number;
  /** A number in [0, 1) used for jitter. */
  random(): number;
}

/** The real clock: `setTimeout`, `Date.now`, `Math.random`. */
export const systemClock: RetryClock = {
  sleep: (ms) => new Promise((resolve) => setTimeout(resolve, ms)),
  now: () => Date.now(),
  random: () => Math.random(),
};

/** A full clock from a partial one (tests usually replace `sleep` and `now` only). */
export function resolveClock(clock: Partial<RetryClock> | undefined): RetryClock {
  return { ...systemClock, ...clock };
}

/** How often and how patiently an API call is retried when it is throttled or fails transiently. */
export interface RetryPolicy {
  /** Attempts in total, the first included. @default 8 */
  maxAttempts?: number;
  /** Delay before the first retry, doubled for each further one. @default 250 */
  baseDelayMs?: number;
  /** Upper bound of one delay. @default 20000 */
  maxDelayMs?: number;
}

/** How a long-running change (user `modifying`, group `modifying`) is waited for. */
export interface WaitPolicy {
  /** First poll interval, doubled after each poll. @default 1000 */
  initialDelayMs?: number;
  /** Upper bound of one poll interval. @default 15000 */
  maxDelayMs?: number;
  /** Give up after this long. @default 600000 (10 minutes) */
  timeoutMs?: number;
}

/**
 * Delay before retry number `attempt` (0 for the first retry): `base * 2^attempt`, capped at `max`,
 * then "equal jitter" (between half and all of it) so that many clients do not retry in lock-step.
 */
export function backoffDelay(attempt: number, baseMs: number, maxMs: number, random: () => number): number {
  const capped = Math.min(maxMs, baseMs * 2 ** attempt);
  return Math.round(capped / 2 + (random() * capped) / 2);
}

/** Thrown when a wait runs out of time; names what was awaited and the last state seen. */
export class WaitTimeoutError extends Error {
  override readonly name = "WaitTimeoutError";
  constructor(
    readonly what: string,
    readonly lastState: string | undefined,
    readonly waitedMs: number,
  ) {
    super(
      `Timed out after ${Math.round(waitedMs / 1000)} s waiting for ${what}` +
        (lastState ? ` (last state: ${lastState})` : ""),
    );
  }
}

/**
 * Runs `operation`, retrying while `isRetryable(error)` holds, up to `policy.maxAttempts` attempts and
 * never past `deadline` (epoch ms). The last error is rethrown unchanged.
 */
export async function withRetry<T>(
  operation: () => Promise<T>,
  isRetryable: (error: unknown) => boolean,
  policy: RetryPolicy,
  clock: RetryClock,
  deadline?: number,
): Promise<T> {
  const maxAttempts = policy.maxAttempts ?? 8;
  const base = policy.baseDelayMs ?? 250;
  const max = policy.maxDelayMs ?? 20_000;
  for (let attempt = 0; ; attempt++) {
    try {
      return await operation();
    } catch (error) {
      if (attempt + 1 >= maxAttempts || !isRetryable(error)) throw error;
      const delay = backoffDelay(attempt, base, max, clock.random);
      if (deadline !== undefined && clock.now() + delay > deadline) throw error;
      await clock.sleep(delay);
    }
  }
}

/** One observation while waiting: done yet, the value to return, and a state to report on timeout. */
export interface WaitObservation<T> {
  done: boolean;
  /** What `waitFor` returns once done. @default undefined */
  value?: T;
  /** The state seen, reported on timeout (e.g. `modifying`). @default none */
  state?: string;
}

/**
 * Polls `observe` with exponential backoff until it reports `done`, then returns its value.
 * Polls once immediately. Throws {@link WaitTimeoutError} after `policy.timeoutMs` or at `deadline`.
 */
export async function waitFor<T>(
  what: string,
  observe: () => Promise<WaitObservation<T>>,
  policy: WaitPolicy,
  clock: RetryClock,
  deadline?: number,
): Promise<T | undefined> {
  const initial = policy.initialDelayMs ?? 1000;
  const max = policy.maxDelayMs ?? 15_000;
  const started = clock.now();
  const timeoutAt = Math.min(started + (policy.timeoutMs ?? 600_000), deadline ?? Number.POSITIVE_INFINITY);
  let lastState: string | undefined;
  for (let poll = 0; ; poll++) {
    const seen = await observe();
    if (seen.done) return seen.value;
    lastState = seen.state;
    const delay = Math.min(max, initial * 2 ** poll);
    if (clock.now() + delay > timeoutAt) throw new WaitTimeoutError(what, lastState, clock.now() - started);
    await clock.sleep(delay);
  }
}
