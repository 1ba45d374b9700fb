/**
 * Keeping IAM-authenticated connections alive. ElastiCache drops a connection 12 hours after it
 * authenticated with an IAM token unless it authenticates again; a token itself is valid 15 minutes.
 * This keeps the provider's token fresh (so reconnects always have a valid one) and, before the
 * 12-hour mark, sends `AUTH <user> <fresh token>` on every open command connection. AUTH on an open
 * connection does not interrupt it: commands keep flowing, and a failed AUTH leaves the connection
 * authenticated as before (the failure is reported, and retried at the next check).
 *
 * Connections in subscribe mode cannot run AUTH (RESP2 allows only (un)subscribe commands there): they
 * are left to ElastiCache's 12-hour drop, after which ioredis reconnects with a fresh token and
 * subscribes again.
 */
import type { IamAuthTokenProvider } from "./iam-auth.js";

/** Timers behind the periodic check (tests drive them by hand). */
export interface IamTimers {
  /** `callback` returns the check's promise (a manual timer in a test can await it). */
  setInterval(callback: () => Promise<void>, ms: number): unknown;
  clearInterval(handle: unknown): void;
}

const systemTimers: IamTimers = {
  setInterval: (callback, ms) => {
    const handle = setInterval(() => void callback(), ms);
    handle.unref?.();
    return handle;
  },
  clearInterval: (handle) => clearInterval(handle as ReturnType<typeof setInterval>),
};

/** When to re-authenticate and how often to check. */
export interface IamReauthOptions {
  /**
   * Re-authenticate open connections this long after they last authenticated; must stay below
   * ElastiCache's 12 hours. @default 11 hours
   */
  reauthenticateAfterMs?: number;
  /** How often the token's age and the connections' age are checked. @default 60 s */
  checkEveryMs?: number;
  /** Timers (tests). @default the real ones, unref'd (they never keep a Lambda or process alive) */
  timers?: IamTimers;
}

/** ElastiCache drops IAM-authenticated connections after this long. */
export const IAM_CONNECTION_LIFETIME_MS = 12 * 60 * 60_000;

/** A command connection that can re-authenticate. */
export interface AuthenticatableConnection {
  readonly status: string;
  call(command: string, ...args: string[]): Promise<unknown>;
}

/** Re-authenticates the connections `connections()` returns with fresh tokens from `provider`. */
export class IamReauthenticator {
  private readonly reauthAfterMs: number;
  private readonly timers: IamTimers;
  private handle: unknown;
  private lastAuthAt: number;
  private running: Promise<void> | undefined;

  constructor(
    private readonly provider: IamAuthTokenProvider,
    private readonly connections: () => AuthenticatableConnection[],
    /** Called with every new token, so reconnects use it. */
    private readonly onToken: (token: string) => void,
    private readonly onError: (error: Error) => void,
    private readonly options: IamReauthOptions = {},
  ) {
    this.reauthAfterMs = Math.min(
      options.reauthenticateAfterMs ?? 11 * 60 * 60_000,
      IAM_CONNECTION_LIFETIME_MS - 60_000,
    );
    this.timers = options.timers ?? systemTimers;
    this.lastAuthAt = provider.now();
  }

  /** Starts the periodic check. */
  start(): void {
    if (this.handle !== undefined) return;
    this.handle = this.timers.setInterval(() => this.check(), this.options.checkEveryMs ?? 60_000);
  }

  /** Stops it. */
  stop(): void {
    if (this.handle === undefined) return;
    this.timers.clearInterval(this.handle);
    this.handle = undefined;
  }

  /** Records that the connections authenticated now (a new client). */
  markAuthenticated(): void {
    this.lastAuthAt = this.provider.now();
  }

  /** One check: refresh the token when it is due, re-authenticate when the connections are due. */
  check(): Promise<void> {
    this.running ??= this.runCheck().finally(() => {
      this.running = undefined;
    });
    return this.running;
  }

  private async runCheck(): Promise<void> {
    let token: string;
    try {
      const due = this.provider.needsRefresh();
      token = await this.provider.getToken();
      if (due) this.onToken(token);
    } catch (error) {
      this.onError(error instanceof Error ? error : new Error(String(error)));
      return;
    }
    const now = this.provider.now();
    if (now - this.lastAuthAt < this.reauthAfterMs) return;
    const open = this.connections().filter((c) => c.status === "ready");
    const results = await Promise.allSettled(open.map((c) => c.call("AUTH", this.provider.userId, token)));
    const failed = results.filter((r): r is PromiseRejectedResult => r.status === "rejected");
    for (const f of failed) {
      const reason = f.reason instanceof Error ? f.reason.message : String(f.reason);
      // Never the token: only the server's words.
      this.onError(new Error(`IAM re-authentication failed on an open connection: ${reason.split("\n")[0]}`));
    }
    if (failed.length === 0) this.lastAuthAt = now;
  }
}
