/**
 * The circuit breaker around the primary store (cockatiel): closed -> open after `threshold`
 * consecutive failures -> half-open after `halfOpenAfterMs` (one trial call) -> closed on success.
 * Configuration errors (bad key, bad secret, serialization) do not count as failures.
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

export class StoreBreaker {
  private readonly policy: CircuitBreakerPolicy;
  private last: BreakerStateName = "closed";

  constructor(
    options: BreakerOptions,
    onChange: (state: BreakerStateName, previous: BreakerStateName) => void,
  ) {
    this.policy = circuitBreaker(
      handleWhen((err) => !isConfigurationError(err)),
      {
        halfOpenAfter: options.halfOpenAfterMs ?? 10_000,
        breaker: new ConsecutiveBreaker(options.threshold ?? 5),
      },
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

  execute<T>(fn: () => Promise<T>): Promise<T> {
    return this.policy.execute(fn);
  }
}
