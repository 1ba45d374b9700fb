/**
 * `health()`: ping plus a write/read/delete probe of a random key in the reserved part of the
 * keyspace (`__cp:health:<random>`), on the primary store directly (not through the breaker, so it
 * reports the truth), and on the fallback store when one is configured. Only commands every service
 * user has (PING on every cluster master, SET/GET/UNLINK of its own key): no INFO, SCAN or DBSIZE.
 * `ok` = primary healthy and every breaker closed; `degraded` = calls are being served (fallback
 * healthy, or some breaker not closed while the probe passed, e.g. one cluster node stalled);
 * `down` = nothing can serve.
 */
import type { CacheService } from "./cache-service.js";
import { describeError } from "./errors.js";
import { healthKey } from "./internal-keys.js";
import { builtin } from "./node-builtins.js";
import type { CacheStore } from "./stores/cache-store.js";

const crypto = () => builtin<typeof import("node:crypto")>("node:crypto");

export interface HealthCheck {
  name: string;
  ok: boolean;
  latencyMs: number;
  error?: string;
  detail?: string;
}

export interface HealthReport {
  status: "ok" | "degraded" | "down";
  checks: HealthCheck[];
  /** Total time of the health check. */
  latencyMs: number;
}

export interface HealthOptions {
  /** Longest time a single check may take. Default 2000 ms. */
  timeoutMs?: number;
}

function withTimeout<T>(promise: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms`)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

async function check(name: string, ms: number, fn: () => Promise<string | undefined>): Promise<HealthCheck> {
  const started = performance.now();
  try {
    const detail = await withTimeout(fn(), ms);
    const result: HealthCheck = { name, ok: true, latencyMs: round(performance.now() - started) };
    if (detail) result.detail = detail;
    return result;
  } catch (err) {
    return { name, ok: false, latencyMs: round(performance.now() - started), error: describeError(err) };
  }
}

function round(ms: number): number {
  return Math.round(ms * 100) / 100;
}

async function probeStore(store: CacheStore, label: string, ms: number): Promise<HealthCheck[]> {
  const key = healthKey(crypto().randomBytes(8).toString("hex"));
  const value = Buffer.from(crypto().randomBytes(8).toString("hex"));
  const checks: HealthCheck[] = [];
  const ping = await check(`${label}:ping`, ms, async () => {
    await store.ping();
    return undefined;
  });
  checks.push(ping);
  if (!ping.ok) return checks;
  const write = await check(`${label}:write`, ms, async () => {
    await store.set(key, value, 30_000);
    return undefined;
  });
  checks.push(write);
  if (!write.ok) return checks;
  checks.push(
    await check(`${label}:read`, ms, async () => {
      const read = await store.get(key);
      if (!read?.equals(value)) throw new Error("read back a different value");
      return undefined;
    }),
  );
  checks.push(
    await check(`${label}:delete`, ms, async () => {
      if (!(await store.delete(key))) throw new Error("probe key was not found for delete");
      return undefined;
    }),
  );
  return checks;
}

export async function runHealthCheck(
  service: CacheService,
  options: HealthOptions = {},
): Promise<HealthReport> {
  const started = performance.now();
  const ms = options.timeoutMs ?? 2000;
  const primary = await probeStore(service.store, service.store.kind, ms);
  const primaryOk = primary.length === 4 && primary.every((c) => c.ok);
  const breaker = service.breakerState;
  const checks = [...primary];
  const openNodes = service.getStats().openNodes;
  checks.push({
    name: "breaker",
    ok: breaker === "closed" || breaker === "disabled",
    latencyMs: 0,
    detail:
      openNodes.length === 0
        ? breaker
        : `${breaker}: ${openNodes.map((n) => `${n.domain} ${n.state}`).join(", ")}`,
  });
  let fallbackOk = false;
  if (service.fallback) {
    const fallback = await probeStore(service.fallback, `fallback:${service.fallback.kind}`, ms);
    fallbackOk = fallback.length === 4 && fallback.every((c) => c.ok);
    checks.push(...fallback);
  }
  const breakerOk = breaker === "closed" || breaker === "disabled";
  const status = primaryOk && breakerOk ? "ok" : primaryOk || fallbackOk ? "degraded" : "down";
  return { status, checks, latencyMs: round(performance.now() - started) };
}
