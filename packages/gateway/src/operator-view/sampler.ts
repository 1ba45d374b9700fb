/**
 * The operator view's background sampling: `cacheplane usage`'s sampling (`sampleUsage`: SCAN steps
 * with COUNT and a pause between steps, pipelined PTTL, MEMORY USAGE on a sample, never KEYS) and the
 * ACL LOG follower of `cacheplane audit` (NOPERM and failed logins per service user), both with the
 * operator's admin (or observer) connection, plus the gateway's own traffic counters. One sample at a
 * time: the next starts `intervalMs` after the previous one ended, so a slow scan can never pile up
 * work on Redis. The provisioner is loaded on the first sample only (gateways without an operator view
 * never load it).
 */
import type {
  AclLogFollower,
  AdminTlsOptions,
  AuditState,
  RedisAclTarget,
  UsageConfig,
  UsageReport,
} from "@cacheplane/provisioner";
import type { OperatorSeries, ServicePoint } from "./series.js";
import type { ServiceTraffic, TrafficCounts } from "./traffic.js";

/**
 * The ACL rules (after `reset on >password`) of an observer user that is enough for sampling: metadata
 * of every key, no value, no write, no configuration (docs/operations.md, "The operator view").
 */
export const OBSERVER_RULES: readonly string[] = [
  "%R~*",
  "resetchannels",
  "-@all",
  "+ping",
  "+info",
  "+dbsize",
  "+scan",
  "+pttl",
  "+memory|usage",
  "+client|list",
  "+client|setname",
  "+acl|log",
  "+cluster|info",
  "+cluster|nodes",
];

/** How the operator view reaches Redis for sampling. */
export interface OperatorAdmin {
  /**
   * Admin URLs as for `cacheplane usage` (`redis://user:password@host:port`, `rediss://` for TLS; several
   * URLs are cluster seeds). A user with only the observer rules of docs/operations.md is enough.
   */
  urls: readonly string[];
  /** Treat one URL as a cluster seed. @default true with several URLs */
  cluster?: boolean;
  /** TLS for `rediss://` URLs (e.g. a private CA). */
  tls?: AdminTlsOptions;
}

/** How often and how gently to sample. */
export interface OperatorSampling {
  intervalMs: number;
  scanCount: number;
  stepPauseMs: number;
  maxKeysPerNode: number;
  memorySamples: number;
}

/** A served service, as the sampler needs it. */
export interface OperatorServiceInfo {
  name: string;
  userId: string;
  keyspace: string;
  sharedKeyspaces: string[];
}

/** What the page shows about the sampler itself. */
export interface SamplerStatus {
  samples: number;
  /** ISO time of the last successful sample. */
  lastSampleAt?: string;
  /** Duration of the last successful sample, ms. */
  lastSampleMs?: number;
  /** Why the last sample failed (cleared by the next success). Never holds a password. */
  lastError?: string;
  /** True while a sample runs. */
  running: boolean;
}

const DENIALS = new Set(["command", "key", "channel"]);

function difference(now: TrafficCounts, before: TrafficCounts | undefined): TrafficCounts {
  return {
    requests: now.requests - (before?.requests ?? 0),
    forbidden: now.forbidden - (before?.forbidden ?? 0),
    errors: now.errors - (before?.errors ?? 0),
    hits: now.hits - (before?.hits ?? 0),
    misses: now.misses - (before?.misses ?? 0),
  };
}

/** Samples usage, denials and traffic in the background into `series`. */
export class OperatorSampler {
  /** The last usage report (keyspaces, users, nodes). */
  report: UsageReport | undefined;
  /** NOPERM denials and failed logins per service since the gateway started. */
  readonly denials: Record<string, { noperm: number; authFailures: number }> = {};
  private readonly status: SamplerStatus = { samples: 0, running: false };
  private readonly config: UsageConfig;
  private target: RedisAclTarget | undefined;
  private follower: AclLogFollower | undefined;
  private followerState: AuditState | undefined;
  private previousTraffic: Record<string, TrafficCounts> | undefined;
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<void> | undefined;
  private closed = false;

  constructor(
    private readonly admin: OperatorAdmin,
    private readonly services: readonly OperatorServiceInfo[],
    private readonly traffic: ServiceTraffic,
    private readonly series: OperatorSeries,
    private readonly sampling: OperatorSampling,
    private readonly onError: (error: Error) => void,
  ) {
    this.config = { services };
    for (const service of services) this.denials[service.name] = { noperm: 0, authFailures: 0 };
  }

  /** The sampler's state for the page. */
  state(): SamplerStatus {
    return { ...this.status, running: this.running !== undefined };
  }

  /** Starts sampling now, then every `intervalMs` after each sample ends. */
  start(): void {
    this.schedule(0);
  }

  private schedule(delay: number): void {
    if (this.closed) return;
    this.timer = setTimeout(() => {
      this.timer = undefined;
      const run = this.sampleOnce().finally(() => {
        if (this.running === run) this.running = undefined;
        this.schedule(this.sampling.intervalMs);
      });
      this.running = run;
    }, delay);
    this.timer.unref();
  }

  /** Connects (again) when needed; the ACL LOG follower keeps what it saw across reconnects. */
  private async connect(): Promise<{ target: RedisAclTarget; follower: AclLogFollower }> {
    if (this.target && this.follower) return { target: this.target, follower: this.follower };
    const { AclLogFollower, RedisAclTarget } = await import("@cacheplane/provisioner");
    const target = await RedisAclTarget.connect({
      urls: [...this.admin.urls],
      ...(this.admin.cluster !== undefined ? { cluster: this.admin.cluster } : {}),
      ...(this.admin.tls ? { tls: this.admin.tls } : {}),
    });
    if (this.closed) {
      await target.close().catch(() => undefined);
      throw new Error("the gateway is closing");
    }
    const follower = new AclLogFollower(
      target.adminNodes.map((n) => n.connection),
      this.config,
      this.followerState,
    );
    this.target = target;
    this.follower = follower;
    return { target, follower };
  }

  /** One sample; failures are recorded (and reported to `onError`), never thrown. */
  async sampleOnce(): Promise<void> {
    const started = Date.now();
    try {
      const { target, follower } = await this.connect();
      const { sampleUsage } = await import("@cacheplane/provisioner");
      const report = await sampleUsage(target.adminNodes, this.config, {
        scanCount: this.sampling.scanCount,
        stepPauseMs: this.sampling.stepPauseMs,
        maxKeysPerNode: this.sampling.maxKeysPerNode,
        memorySamples: this.sampling.memorySamples,
      });
      const firstPoll = this.followerState === undefined;
      const poll = await follower.poll();
      this.followerState = follower.snapshot();
      // The first poll reads what the log held before the gateway started: a baseline, not counted.
      const denied: Record<string, { noperm: number; authFailures: number }> = {};
      if (!firstPoll) {
        for (const event of poll.events) {
          if (event.service === undefined || this.denials[event.service] === undefined) continue;
          const entry = denied[event.service] ?? { noperm: 0, authFailures: 0 };
          denied[event.service] = entry;
          if (DENIALS.has(event.reason)) entry.noperm += event.count;
          else if (event.reason === "auth") entry.authFailures += event.count;
        }
      }
      const traffic = this.traffic.snapshot();
      const services: Record<string, ServicePoint> = {};
      for (const service of this.services) {
        const usage = report.keyspaces.find((k) => k.keyspace === service.keyspace);
        const moved = difference(traffic[service.name]!, this.previousTraffic?.[service.name]);
        const denials = denied[service.name] ?? { noperm: 0, authFailures: 0 };
        const totals = this.denials[service.name]!;
        totals.noperm += denials.noperm;
        totals.authFailures += denials.authFailures;
        services[service.name] = {
          keys: usage?.keys ?? 0,
          keysWithoutTtl: usage?.keysWithoutTtl ?? 0,
          memoryBytes: usage?.memoryBytes ?? 0,
          connections: report.users.find((u) => u.user === service.userId)?.connections ?? 0,
          ...moved,
          ...denials,
        };
      }
      this.previousTraffic = traffic;
      this.series.push({ at: started, services });
      this.report = report;
      this.status.samples++;
      this.status.lastSampleAt = new Date(started).toISOString();
      this.status.lastSampleMs = Date.now() - started;
      delete this.status.lastError;
    } catch (error) {
      const failure = error instanceof Error ? error : new Error(String(error));
      this.status.lastError = failure.message;
      this.onError(failure);
      // Reconnect at the next sample (an admin connection does not reconnect by itself).
      const target = this.target;
      this.target = undefined;
      this.follower = undefined;
      await target?.close().catch(() => undefined);
    }
  }

  /** Stops sampling and closes the admin connection (waits for a running sample). */
  async close(): Promise<void> {
    this.closed = true;
    if (this.timer) clearTimeout(this.timer);
    await this.running?.catch(() => undefined);
    const target = this.target;
    this.target = undefined;
    await target?.close().catch(() => undefined);
  }
}
