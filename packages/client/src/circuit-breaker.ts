/**
 * Circuit breakers around the primary store, one per failure domain: the whole store on standalone
 * Redis, DynamoDB and memory; one per master node in a Redis cluster, so a stalled node only sends
 * its own keys to the fallback while the other nodes keep serving theirs.
 *
 * closed -> open after `threshold` consecutive failures of a domain. While a domain is open, its calls
 * never wait for the store: they go to the fallback (or miss) at once. Recovery does not wait for a
 * caller: a background probe (a read of a key of that domain, straight on the store) runs 50 ms after
 * opening and then with a jittered backoff of at most `maxProbeIntervalMs` (default 500 ms), and at
 * once when the store reports a reconnection; a probe still in flight when the store answers again
 * (a paused node resuming) completes at once. When a probe succeeds the domain is half-open: what was written or deleted while it failed is
 * reconciled on the store (see outage.ts), then it closes. A failed reconciliation re-opens it.
 *
 * Callers whose loop never waits on I/O (a tight `await cache.get()` loop served from a memory
 * fallback runs on microtasks only) would starve timers and sockets, and so the probe. Calls refused
 * by an open breaker therefore yield to the event loop (one `setImmediate`) when no macrotask turn
 * has happened for 20 ms; nothing of this runs while every domain is closed.
 *
 * Configuration errors (bad key, bad secret, serialization) never count as failures.
 */
import { isConfigurationError } from "./errors.js";
import type { BreakerStateName } from "./stats.js";

export interface BreakerOptions {
  /** Consecutive failures (of one cluster node, in cluster mode) that open the breaker. Default 5. */
  threshold?: number;
  /** Delay of the first background probe after the breaker opened, ms. Default 50. */
  probeDelayMs?: number;
  /** Longest gap between two background probes while open, ms. Default 500. */
  maxProbeIntervalMs?: number;
  /** Deprecated alias of `maxProbeIntervalMs` (the breaker no longer waits a fixed time before trying again). */
  halfOpenAfterMs?: number;
}

/** The error a call gets while its domain's breaker is open (it never reached the store). */
export class BreakerOpenError extends Error {
  override name = "BreakerOpenError";
}

/** One shared instance: refusing a call allocates nothing. */
export const BREAKER_OPEN = new BreakerOpenError("circuit breaker open");

export function isBrokenCircuitError(err: unknown): boolean {
  return err instanceof BreakerOpenError;
}

export interface BreakerHooks {
  /** The failure domain of a store key (`""` when the store has one domain). */
  domainOf(key: string): string;
  /** A cheap read of `key` straight on the store; rejects while the domain is unreachable. */
  probe(key: string | undefined, domain: string): Promise<unknown>;
  /** Applies what is pending for the domain (writes/deletes made while it failed); rejects on failure. */
  reconcile(domain: string): Promise<void>;
  /** A domain changed state. */
  changed(state: BreakerStateName, previous: BreakerStateName, domain: string): void;
}

type DomainState = "closed" | "open" | "half-open";

class Domain {
  state: DomainState = "closed";
  failures = 0;
  /** A key of this domain that failed: what the probe reads (topology changes are followed). */
  probeKey: string | undefined;
  delay = 0;
  timer: NodeJS.Timeout | undefined;
  probing = false;
  constructor(readonly id: string) {}
}

export class Breakers {
  readonly enabled: boolean;
  private readonly threshold: number;
  private readonly probeDelayMs: number;
  private readonly maxProbeIntervalMs: number;
  private readonly domains = new Map<string, Domain>();
  /** Domains not closed. */
  private notClosed = 0;
  /** Domains closed but with failures counted. */
  private suspects = 0;
  /**
   * True while every domain is closed without counted failures: callers then skip every per-key
   * check (the hot path). A plain field, updated on every transition.
   */
  calm = true;
  private lastTurn = performance.now();
  private turnWait: Promise<void> | undefined;
  private stopped = false;

  constructor(
    options: BreakerOptions | false,
    private readonly hooks: BreakerHooks,
  ) {
    this.enabled = options !== false;
    const o = options === false ? {} : options;
    this.threshold = Math.max(1, o.threshold ?? 5);
    this.probeDelayMs = Math.max(1, o.probeDelayMs ?? 50);
    this.maxProbeIntervalMs = Math.max(this.probeDelayMs, o.maxProbeIntervalMs ?? o.halfOpenAfterMs ?? 500);
  }

  private domain(id: string): Domain {
    let d = this.domains.get(id);
    if (!d) {
      d = new Domain(id);
      this.domains.set(id, d);
    }
    return d;
  }

  private updateCalm(): void {
    this.calm = this.notClosed === 0 && this.suspects === 0;
  }

  /** Whether a call on `key` may go to the store now (its domain is closed). */
  allows(key: string | undefined): boolean {
    if (this.notClosed === 0) return true;
    const d = this.domains.get(key === undefined ? "" : this.hooks.domainOf(key));
    return d === undefined || d.state === "closed";
  }

  /** Whether the domain of `key` is closed (same as allows, for callers that know the domain). */
  domainAllows(domain: string): boolean {
    if (this.notClosed === 0) return true;
    const d = this.domains.get(domain);
    return d === undefined || d.state === "closed";
  }

  /** A call on `key` that went to the store succeeded: resets its domain's consecutive failures. */
  succeeded(key: string | undefined): void {
    if (this.suspects === 0) return;
    const d = this.domains.get(key === undefined ? "" : this.hooks.domainOf(key));
    if (d === undefined || d.failures === 0 || d.state !== "closed") return;
    d.failures = 0;
    this.suspects--;
    this.updateCalm();
  }

  /** A call on `key` that went to the store failed. Opens the domain at the threshold. */
  failed(key: string | undefined, err: unknown): void {
    if (!this.enabled || this.stopped || isConfigurationError(err) || err === BREAKER_OPEN) return;
    const d = this.domain(key === undefined ? "" : this.hooks.domainOf(key));
    if (key !== undefined) d.probeKey = key;
    if (d.state !== "closed") return;
    if (d.failures === 0) this.suspects++;
    d.failures++;
    if (d.failures >= this.threshold) {
      this.suspects--;
      d.failures = 0;
      this.transition(d, "open");
      d.delay = this.probeDelayMs;
      this.schedule(d, this.probeDelayMs);
    }
    this.updateCalm();
  }

  private transition(d: Domain, next: DomainState): void {
    const previous = d.state;
    if (previous === next) return;
    if (previous === "closed") this.notClosed++;
    if (next === "closed") this.notClosed--;
    d.state = next;
    this.updateCalm();
    this.hooks.changed(next, previous, d.id);
  }

  private schedule(d: Domain, ms: number): void {
    if (this.stopped) return;
    clearTimeout(d.timer);
    // ±20 % jitter, so many processes do not probe a recovering server in lockstep.
    const wait = Math.max(1, Math.round(ms * (0.8 + Math.random() * 0.4)));
    d.timer = setTimeout(() => void this.probe(d), wait);
    d.timer.unref?.();
  }

  /** The store says it is reachable again (a reconnect): probe open domains now. */
  probeNow(): void {
    if (this.notClosed === 0) return;
    for (const d of this.domains.values()) {
      if (d.state === "open" && !d.probing) {
        clearTimeout(d.timer);
        void this.probe(d);
      }
    }
  }

  private async probe(d: Domain): Promise<void> {
    d.timer = undefined;
    if (this.stopped || d.state !== "open" || d.probing) return;
    d.probing = true;
    try {
      await this.hooks.probe(d.probeKey, d.id);
    } catch {
      d.probing = false;
      d.delay = Math.min(this.maxProbeIntervalMs, Math.max(this.probeDelayMs, d.delay * 2));
      this.schedule(d, d.delay);
      return;
    }
    d.probing = false;
    if (this.stopped || d.state !== "open") return;
    this.transition(d, "half-open");
    try {
      await this.hooks.reconcile(d.id);
    } catch {
      if (this.stopped) return;
      this.transition(d, "open");
      d.delay = Math.min(this.maxProbeIntervalMs, Math.max(this.probeDelayMs, d.delay * 2));
      this.schedule(d, d.delay);
      return;
    }
    if (this.stopped) return;
    d.failures = 0;
    this.transition(d, "closed");
  }

  /**
   * For calls refused by an open breaker: resolves at once unless no macrotask turn has happened for
   * 20 ms, in which case it waits for one (`setImmediate`), so that timers (the probe) and sockets
   * (its reply, reconnects) get to run even when the caller never waits on I/O.
   */
  yieldIfStarving(): Promise<void> | undefined {
    const now = performance.now();
    if (now - this.lastTurn < 20) return undefined;
    if (this.turnWait === undefined) {
      this.turnWait = new Promise<void>((resolve) => {
        setImmediate(() => {
          this.lastTurn = performance.now();
          this.turnWait = undefined;
          resolve();
        });
      });
    }
    return this.turnWait;
  }

  /** Notes a macrotask turn (called from timers and I/O callbacks the service already has). */
  turned(): void {
    this.lastTurn = performance.now();
  }

  /** Overall state: `open` if any domain is open, `half-open` if any reconciles, else `closed`. */
  get state(): BreakerStateName {
    if (!this.enabled) return "disabled";
    if (this.notClosed === 0) return "closed";
    let halfOpen = false;
    for (const d of this.domains.values()) {
      if (d.state === "open") return "open";
      if (d.state === "half-open") halfOpen = true;
    }
    return halfOpen ? "half-open" : "closed";
  }

  /** Domains that are not closed, with their state (cluster: node addresses). */
  openDomains(): { domain: string; state: BreakerStateName }[] {
    const out: { domain: string; state: BreakerStateName }[] = [];
    for (const d of this.domains.values())
      if (d.state !== "closed") out.push({ domain: d.id, state: d.state });
    return out;
  }

  /** Stops the probes (close()). */
  stop(): void {
    this.stopped = true;
    for (const d of this.domains.values()) clearTimeout(d.timer);
  }
}
