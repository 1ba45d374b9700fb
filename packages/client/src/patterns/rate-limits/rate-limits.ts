/**
 * Several rate limits checked at once (e.g. 10/s and 1,000/day, per user and per IP): fixed-window
 * counters, one per limit and identifier, at `<keyspace>:__cp:rls:<name>:<by>:{<identifier>}:<limit>`.
 *
 * The identifier is the key's hash tag, so all limits of one identifier share a cluster slot and one
 * server call (`multiLimitScript`, FCALL) checks them and counts the request in all of them only when
 * every one admits it. Limits of different identifiers (a user and an IP) are:
 * - on standalone Redis and the memory store: checked in that same single atomic call;
 * - on a cluster (their slots differ, one call cannot touch them): checked by one call per slot, in
 *   parallel; when any rejects, the calls that counted the request are undone by a refund of the
 *   same cost (the same function with a negative cost). See docs/decisions/0020 for the exact guarantee.
 */
import { MAX_LIMITS_PER_CALL, multiLimitScript } from "@cacheplane/core/server-scripts";
import type { CacheService } from "../../cache-service.js";
import { CacheConfigError } from "../../errors.js";
import { multiLimitKey } from "../../internal-keys.js";
import { keySlot } from "../../key-slot.js";
import type { CacheStore } from "../../stores/cache-store.js";
import { MemoryStore } from "../../stores/memory-store.js";
import { RedisStore } from "../../stores/redis-store.js";
import { memoryMultiLimit, memoryMultiLimitRefund, memoryMultiLimitReset } from "./memory.js";
import type {
  Identifiers,
  LimitSpec,
  LimitState,
  RateLimits,
  RateLimitsCallOptions,
  RateLimitsOptions,
  RateLimitsResult,
} from "./types.js";

const NAME = /^[A-Za-z0-9._-]{1,64}$/;
const DEFAULT_DIMENSION = "id";
const MAX_LIMIT = 2 ** 50;

interface Limit {
  name: string;
  by: string;
  window: number;
  windowMs: number;
  windowArg: string;
  fixed: number | undefined;
  dynamic: ((identifier: string) => number) | undefined;
}

/** Limits whose counters share one slot: one server call. */
interface Group {
  indexes: number[];
  keys: string[];
}

function checkName(value: unknown, field: string): string {
  if (typeof value !== "string" || !NAME.test(value)) {
    throw new CacheConfigError(
      `rateLimits: ${field} must be 1 to 64 letters, digits, ".", "_" or "-" (got ${JSON.stringify(value)})`,
      [field],
    );
  }
  return value;
}

function checkLimit(value: unknown, name: string): number {
  if (typeof value !== "number" || !Number.isInteger(value) || value < 1 || value > MAX_LIMIT) {
    throw new CacheConfigError(
      `rateLimits: the limit of "${name}" must be a positive integer (got ${String(value)})`,
      ["limit"],
    );
  }
  return value;
}

function checkCost(value: number, field: string): string {
  if (!Number.isInteger(value) || value < 1 || value > 2 ** 40) {
    throw new CacheConfigError(`rateLimits: ${field} must be a positive integer`, [field]);
  }
  return value === 1 ? "1" : String(value);
}

function supports(store: CacheStore): boolean {
  return store instanceof RedisStore || store instanceof MemoryStore;
}

/**
 * One store call with the service's breaker and fallback: the inlined hot path of `_run` while the
 * service is calm (as the single limiter does), `_run` otherwise. `undefined`: the store could not
 * be asked (or the service throws, with `throwOnError`).
 */
async function attempt<R>(
  service: CacheService,
  operation: string,
  key: string,
  fn: (store: CacheStore) => Promise<R>,
): Promise<R | undefined> {
  if (service._direct()) {
    const started = performance.now();
    let value: R;
    try {
      value = await fn(service.store);
    } catch (err) {
      const r = await service._failed(operation, key, fn, undefined, err, started, true);
      return r.ok ? r.value : undefined;
    }
    service._succeeded(started, true);
    return value;
  }
  const r = await service._run(operation, key, fn);
  return r.ok ? r.value : undefined;
}

/** Whether a Redis store talks to a cluster, once a connection told (see {@link learnTopology}). */
const topologies = new WeakMap<RedisStore, boolean>();

/**
 * Learns the store's topology from its client (connecting if needed). Until it is known, limits of
 * several identifiers take the cluster path, which is correct on standalone Redis too.
 */
async function learnTopology(store: CacheStore): Promise<void> {
  if (!(store instanceof RedisStore) || topologies.has(store)) return;
  try {
    await store.with(async (client) => {
      topologies.set(store, (client as { isCluster?: boolean }).isCluster === true);
    });
  } catch {
    // Unreachable now: the checks themselves fail and report it.
  }
}

export function createRateLimits(service: CacheService, input: RateLimitsOptions): RateLimits {
  if (!supports(service.store)) {
    throw new CacheConfigError(
      `Rate limiting needs redis or memory storage (this cache uses ${service.store.kind})`,
      ["CACHE_STORAGE_TYPE"],
    );
  }
  const name = checkName(input.name ?? "default", "name");
  const specs = input.limits;
  if (!Array.isArray(specs) || specs.length < 1 || specs.length > MAX_LIMITS_PER_CALL) {
    throw new CacheConfigError(`rateLimits: limits must be 1 to ${MAX_LIMITS_PER_CALL} limits`, ["limits"]);
  }
  const seen = new Set<string>();
  const limits: Limit[] = specs.map((spec: LimitSpec) => {
    const limitName = checkName(spec?.name, "limits[].name");
    if (seen.has(limitName)) {
      throw new CacheConfigError(`rateLimits: two limits are named "${limitName}"`, ["limits"]);
    }
    seen.add(limitName);
    const by = checkName(spec.by ?? DEFAULT_DIMENSION, "limits[].by");
    if (!(typeof spec.window === "number" && spec.window > 0 && spec.window <= 2 ** 30)) {
      throw new CacheConfigError(
        `rateLimits: the window of "${limitName}" must be a positive number of seconds`,
        ["window"],
      );
    }
    const windowMs = Math.max(1, Math.round(spec.window * 1000));
    const dynamic = typeof spec.limit === "function" ? spec.limit : undefined;
    return {
      name: limitName,
      by,
      window: spec.window,
      windowMs,
      windowArg: String(windowMs),
      fixed: dynamic === undefined ? checkLimit(spec.limit, limitName) : undefined,
      dynamic,
    };
  });
  const dimensions = [...new Set(limits.map((l) => l.by))];
  const onlyDimension = dimensions.length === 1 ? dimensions[0] : undefined;
  const failOpen = input.failOpen ?? true;
  const now = input.now ?? Date.now;
  const count = limits.length;
  const fixedLimitArgs = limits.every((l) => l.fixed !== undefined)
    ? limits.map((l) => String(l.fixed))
    : undefined;

  /** The identifier of every limit, in limit order. */
  function identifiersOf(identifiers: Identifiers): string[] {
    if (typeof identifiers === "string") {
      if (onlyDimension === undefined) {
        throw new CacheConfigError(
          `rateLimits "${name}" counts ${dimensions.join(" and ")}: pass { ${dimensions.join(", ")} }`,
          ["identifiers"],
        );
      }
      if (identifiers.length === 0)
        throw new CacheConfigError("Rate limit identifier must be a non-empty string", ["identifier"]);
      return limits.map(() => identifiers);
    }
    if (identifiers === null || typeof identifiers !== "object") {
      throw new CacheConfigError("rateLimits: identifiers must be a string or { dimension: id }", [
        "identifiers",
      ]);
    }
    return limits.map((l) => {
      const id = identifiers[l.by];
      if (typeof id !== "string" || id.length === 0) {
        throw new CacheConfigError(
          `rateLimits "${name}": the limit "${l.name}" needs a non-empty "${l.by}" identifier`,
          ["identifiers"],
        );
      }
      return id;
    });
  }

  function limitsOf(ids: readonly string[], override: Readonly<Record<string, number>> | undefined) {
    return limits.map((l, i) => {
      const given = override?.[l.name];
      if (given !== undefined) return checkLimit(given, l.name);
      if (l.fixed !== undefined) return l.fixed;
      return checkLimit((l.dynamic as (identifier: string) => number)(ids[i] as string), l.name);
    });
  }

  function keysOf(ids: readonly string[]): string[] {
    return limits.map((l, i) => multiLimitKey(name, l.by, ids[i] as string, l.name));
  }

  const allIndexes = limits.map((_, i) => i);
  const shortestWindowMs = Math.min(...limits.map((l) => l.windowMs));

  /**
   * One group (one atomic call) for one identifier (one hash tag), on standalone Redis and on the
   * memory store; one per slot on a cluster, or while the topology is not known yet.
   */
  function groupsOf(keys: string[]): Group[] {
    const store = service.store;
    if (
      count === 1 ||
      onlyDimension !== undefined ||
      !(store instanceof RedisStore) ||
      topologies.get(store) === false
    )
      return [{ indexes: allIndexes, keys }];
    const bySlot = new Map<number, Group>();
    keys.forEach((key, i) => {
      const slot = keySlot(key);
      const group = bySlot.get(slot);
      if (group) {
        group.indexes.push(i);
        group.keys.push(key);
      } else bySlot.set(slot, { indexes: [i], keys: [key] });
    });
    return [...bySlot.values()];
  }

  const run = (
    store: CacheStore,
    group: Group,
    limitValues: readonly number[],
    limitArgs: readonly string[],
    costArg: string,
    cost: number,
  ): Promise<number[]> => {
    if (store instanceof RedisStore) {
      const args: string[] = [costArg];
      for (const i of group.indexes) args.push(limitArgs[i] as string, limits[i]?.windowArg as string);
      const [first, ...rest] = group.keys;
      return store.runScript(multiLimitScript, first as string, args, rest) as Promise<number[]>;
    }
    if (store instanceof MemoryStore) {
      return Promise.resolve(
        memoryMultiLimit(
          store,
          group.keys,
          group.indexes.map((i) => limitValues[i] as number),
          group.indexes.map((i) => limits[i]?.windowMs as number),
          cost,
          now(),
        ),
      );
    }
    return Promise.reject(new Error(`rate limiting is not supported on ${store.kind}`));
  };

  /** Counts of the group's counters after giving `points` back (`multiLimit` with a negative cost). */
  const refundGroup = async (store: CacheStore, group: Group, points: number): Promise<number[]> => {
    if (store instanceof RedisStore) {
      const args: string[] = [String(-points)];
      // The function checks a limit and a window per key; a refund uses neither.
      for (const i of group.indexes) args.push("1", limits[i]?.windowArg as string);
      const [first, ...rest] = group.keys;
      const raw = (await store.runScript(multiLimitScript, first as string, args, rest)) as number[];
      return group.keys.map((_, j) => Number(raw[1 + 2 * j]));
    }
    if (store instanceof MemoryStore) return memoryMultiLimitRefund(store, group.keys, points, now());
    throw new Error(`rate limiting is not supported on ${store.kind}`);
  };

  /** `fn` for every group (in parallel). */
  function perGroup<R>(groups: Group[], fn: (group: Group) => Promise<R | undefined>) {
    return groups.length === 1 ? fn(groups[0] as Group).then((r) => [r]) : Promise.all(groups.map(fn));
  }

  /** Gives the cost back to every group that counted the request (others rejected or failed). */
  async function compensate(
    groups: Group[],
    raws: readonly (number[] | undefined)[],
    points: number,
  ): Promise<void> {
    await Promise.allSettled(
      groups.map((group, g) => {
        const raw = raws[g];
        if (raw === undefined || Number(raw[0]) !== 1) return undefined;
        return attempt(service, "rateLimitRefund", group.keys[0] as string, (store) =>
          refundGroup(store, group, points),
        );
      }),
    );
  }

  function state(
    i: number,
    ids: readonly string[],
    limit: number,
    used: number,
    ttlMs: number,
    admits: boolean,
    at: number,
  ): LimitState {
    const l = limits[i] as Limit;
    const ttl = Math.max(0, ttlMs);
    return {
      name: l.name,
      by: l.by,
      identifier: ids[i] as string,
      limit,
      window: l.window,
      count: used,
      remaining: Math.max(0, limit - used),
      resetAt: at + ttl,
      resetIn: Math.ceil(ttl / 1000),
      admits,
    };
  }

  return {
    name,
    limits: specs,
    async limit(identifiers, options?: RateLimitsCallOptions) {
      const ids = identifiersOf(identifiers);
      const cost = options?.cost ?? 1;
      const costArg = checkCost(cost, "cost");
      const limitValues =
        fixedLimitArgs !== undefined && options?.limits === undefined
          ? (limits.map((l) => l.fixed) as number[])
          : limitsOf(ids, options?.limits);
      const limitArgs =
        fixedLimitArgs !== undefined && options?.limits === undefined
          ? fixedLimitArgs
          : limitValues.map(String);
      const keys = keysOf(ids);
      const store = service.store;
      if (onlyDimension === undefined && store instanceof RedisStore && !topologies.has(store))
        await learnTopology(store);
      const groups = groupsOf(keys);
      const check = (group: Group) =>
        attempt(service, "rateLimit", group.keys[0] as string, (store) =>
          run(store, group, limitValues, limitArgs, costArg, cost),
        );
      let raws: (number[] | undefined)[];
      if (groups.length === 1) raws = [await check(groups[0] as Group)];
      else {
        const settled = await Promise.allSettled(groups.map(check));
        raws = settled.map((s) => (s.status === "fulfilled" ? s.value : undefined));
        const failure = settled.find((s): s is PromiseRejectedResult => s.status === "rejected");
        if (failure !== undefined) {
          // throwOnError: undo what the other groups counted, then fail.
          await compensate(groups, raws, cost);
          throw failure.reason;
        }
      }
      const at = now();
      // Per group: 1 counted, 0 rejected, undefined unavailable (then failOpen decides).
      const verdicts = raws.map((raw) => (raw === undefined ? undefined : Number(raw[0])));
      const allowed = verdicts.every((v) => v === 1 || (v === undefined && failOpen));
      if (!allowed && groups.length > 1 && verdicts.some((v) => v === 1)) {
        await compensate(groups, raws, cost);
        // What they counted was given back: report them as without this request.
        raws = raws.map((raw) =>
          raw !== undefined && Number(raw[0]) === 1
            ? raw.map((v, j) => (j > 0 && j % 2 === 1 ? Number(v) - cost : Number(v)))
            : raw,
        );
      }
      const states: LimitState[] = new Array(count);
      const unknown: boolean[] = new Array(count).fill(false);
      let degraded = false;
      groups.forEach((group, g) => {
        const raw = raws[g];
        const counted = verdicts[g] === 1;
        group.indexes.forEach((i, j) => {
          const limit = limitValues[i] as number;
          if (raw === undefined) {
            degraded = true;
            unknown[i] = true;
            const windowMs = (limits[i] as Limit).windowMs;
            states[i] = state(i, ids, limit, failOpen ? 0 : limit, windowMs, failOpen, at);
            return;
          }
          const used = Number(raw[1 + 2 * j]);
          const admits = counted || used + cost <= limit;
          states[i] = state(i, ids, limit, used, Number(raw[2 + 2 * j]), admits, at);
        });
      });
      let limiting = states[0] as LimitState;
      let retryMs = 0;
      if (allowed) {
        for (const s of states) if (s.remaining < limiting.remaining) limiting = s;
      } else {
        for (let i = 0; i < count; i++) {
          const s = states[i] as LimitState;
          if (s.admits) continue;
          // Failed closed: retry after the shortest window (the store may be back by then).
          const wait = unknown[i]
            ? shortestWindowMs
            : cost > s.limit
              ? (limits[i] as Limit).windowMs
              : s.resetAt - at;
          if (wait >= retryMs) {
            if (wait > retryMs || limiting.admits) limiting = s;
            retryMs = wait;
          }
        }
        if (limiting.admits) limiting = states.find((s) => !s.admits) ?? limiting;
      }
      return {
        allowed,
        retryAfter: allowed ? 0 : Math.max(1, Math.ceil(retryMs / 1000)),
        limits: states,
        limiting,
        degraded,
      } satisfies RateLimitsResult;
    },
    async refund(identifiers, points = 1) {
      const ids = identifiersOf(identifiers);
      checkCost(points, "points");
      const limitValues = limitsOf(ids, undefined);
      const groups = groupsOf(keysOf(ids));
      const counts = await perGroup(groups, (group) =>
        attempt(service, "rateLimitRefund", group.keys[0] as string, (store) =>
          refundGroup(store, group, points),
        ),
      );
      if (counts.some((c) => c === undefined)) return undefined;
      const remaining: Record<string, number> = {};
      groups.forEach((group, g) => {
        group.indexes.forEach((i, j) => {
          const used = Number((counts[g] as number[])[j]);
          remaining[(limits[i] as Limit).name] = Math.max(0, (limitValues[i] as number) - used);
        });
      });
      return remaining;
    },
    async reset(identifiers) {
      const groups = groupsOf(keysOf(identifiersOf(identifiers)));
      await perGroup(groups, async (group) => {
        const r = await service._run("rateLimitReset", group.keys[0], async (store) => {
          if (store instanceof MemoryStore) memoryMultiLimitReset(store, group.keys);
          else await Promise.all(group.keys.map((key) => store.delete(key)));
        });
        return r.ok ? true : undefined;
      });
    },
  };
}
