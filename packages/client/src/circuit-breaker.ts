/**
 * The circuit breaker around the primary store (cockatiel): closed -> open after `threshold`
 * consecutive failures -> half-open after `halfOpenAfterMs` (one trial call) -> closed on success.
 * Configuration errors (bad key, bad secret, serialization) do not count as failures.
 *
 * Hot path: while the breaker is closed (nearly always), the caller runs the store call itself and
 * reports the outcome ({@link StoreBreaker.succeeded} / {@link StoreBreaker.failed}) instead of
 * going through `policy.execute` (two async layers and result objects per call). A success resets
 * the consecutive-failure count exactly as cockatiel does; a failure is handed to the policy, which
 * counts it and opens at the threshold. Open and half-open states always go through the policy.
 */
import {
  type CircuitBreakerPolicy,
  CircuitState,
  ConsecutiveBreaker,
  circuitBreaker,
  handleWhen,
  isBrokenCircuitError,
} from "cockatiel";
import { isConfigurationError } from "./errors.js";
import type { BreakerStateName } from "./stats.js";

export interface BreakerOptions {
  /** Consecutive failures that open the breaker. Default 5. */
  threshold?: number;
  /** How long the breaker stays open before a trial call (half-open). Default 10,000 ms. */
  halfOpenAfterMs?: number;
}

export { isBrokenCircuitError };

export function stateName(state: CircuitState): BreakerStateName {
  switch (state) {
    case CircuitState.Closed:
      return "closed";
    case CircuitState.Open:
      return "open";
    case CircuitState.HalfOpen:
      return "half-open";
    default:
      return "isolated";
  }
}

const ignore = () => undefined;

export class StoreBreaker {
  private readonly policy: CircuitBreakerPolicy;
  private readonly counter: ConsecutiveBreaker;
  private last: BreakerStateName = "closed";

  constructor(
    options: BreakerOptions,
    onChange: (state: BreakerStateName, previous: BreakerStateName) => void,
  ) {
    this.counter = new ConsecutiveBreaker(options.threshold ?? 5);
    this.policy = circuitBreaker(
      handleWhen((err) => !isConfigurationError(err)),
      { halfOpenAfter: options.halfOpenAfterMs ?? 10_000, breaker: this.counter },
    );
    this.policy.onStateChange((state) => {
      const next = stateName(state);
      const previous = this.last;
      this.last = next;
      if (next !== previous) onChange(next, previous);
    });
  }

  get state(): BreakerStateName {
    return stateName(this.policy.state);
  }

  /** True while closed: the caller may run the call directly and report it with succeeded()/failed(). */
  get closed(): boolean {
    return this.policy.state === CircuitState.Closed;
  }

  /** A call started while closed succeeded: resets the consecutive-failure count (as cockatiel does). */
  succeeded(): void {
    this.counter.success();
  }

  /**
   * A call started while closed failed. Configuration errors do not count. Otherwise, if the breaker
   * is still closed, the failure goes through the policy (counted; opens it at the threshold and
   * emits the state change). If another call already opened it, the outcome is left to the policy's
   * own trial call. Resolves once the state is updated; never rejects.
   */
  failed(err: unknown): Promise<void> {
    if (isConfigurationError(err) || this.policy.state !== CircuitState.Closed) return Promise.resolve();
    return this.policy.execute(() => Promise.reject(err)).then(ignore, ignore);
  }

  /** The full policy (used while open or half-open). */
  execute<T>(fn: () => Promise<T>): Promise<T> {
    return this.policy.execute(fn);
  }
}
