/**
 * The operator view: `/operator/` serves a page (static, no data in it) that reads
 * `/operator/api/state` with the gateway's admin token, and draws the services, their keyspaces, key
 * counts, memory, keys without TTL, hits and misses, NOPERM denials and connections over time.
 *
 * Access: the JSON needs the admin token in the `Authorization` header (never in a URL): no token or
 * an unknown one is 401, a service token is 403 (it opens the data plane only, as the admin token
 * opens this view only). The JSON holds counts, sizes, service and user names and node addresses:
 * never a key name, a value, a password or a token.
 */
import { GatewayError, unauthorized } from "../errors.js";
import type { GatewayRequest, GatewayResponse } from "../handler-types.js";
import type { GatewayService } from "../services.js";
import { type TokenSource, TokenVerifier } from "../token-verifier.js";
import { OPERATOR_SECURITY_HEADERS, operatorAsset } from "./assets.js";
import { type OperatorAdmin, OperatorSampler, type OperatorSampling } from "./sampler.js";
import { OperatorSeries } from "./series.js";
import { COUNTED_READS, ServiceTraffic } from "./traffic.js";

/** Options of the operator view (`createGateway({ operator })`). */
export interface OperatorOptions {
  /** How to reach Redis for sampling (an admin, or an observer user: docs/operations.md). */
  admin: OperatorAdmin;
  /** Time from the end of one sample to the start of the next, ms. @default 30000 */
  intervalMs?: number;
  /** Samples kept in memory; the charts span `historyPoints` × `intervalMs`. @default 240 */
  historyPoints?: number;
  /** COUNT of each SCAN step. @default 500 */
  scanCount?: number;
  /** Pause between two SCAN steps, ms. @default 10 */
  stepPauseMs?: number;
  /** Keys scanned per node and sample before the counts are extrapolated from DBSIZE. @default 200000 */
  maxKeysPerNode?: number;
  /** Keys per keyspace and node whose MEMORY USAGE is measured per sample. @default 20 */
  memorySamples?: number;
}

/** What the page is told about what the numbers cover. */
const NOTES = {
  hitsAndMisses:
    `Hits and misses are the replies of ${Object.keys(COUNTED_READS)
      .map((c) => c.toUpperCase())
      .join(
        ", ",
      )} relayed by this gateway process (nil or an empty hash is a miss; MGET and HMGET count per key). ` +
    "Services that reach Redis directly are not seen here.",
  noperm:
    "NOPERM counts the service user's denied commands, keys and channels in the ACL LOG of every node, from all of its clients " +
    "(through this gateway or not), since the gateway started.",
  keys: "Keys, keys without TTL and memory are those of the service's own keyspace, sampled with SCAN (memory estimated from MEMORY USAGE of a sample).",
};

function json(status: number, body: unknown, head: boolean): GatewayResponse {
  return {
    status,
    headers: {
      "content-type": "application/json",
      "cache-control": "no-store",
      ...OPERATOR_SECURITY_HEADERS,
    },
    body: head ? null : JSON.stringify(body),
  };
}

const BEARER = /^\s*bearer\s+(\S+)\s*$/i;

/** The operator view of one gateway. */
export class OperatorView {
  /** Counters the gateway feeds with every answered request and relayed reply. */
  readonly traffic: ServiceTraffic;
  private readonly series: OperatorSeries;
  private readonly sampler: OperatorSampler;
  private readonly admins: TokenVerifier<{ admin: true }>;
  private readonly startedAt = new Date().toISOString();
  private readonly sampling: OperatorSampling & { historyPoints: number };

  constructor(
    private readonly services: readonly GatewayService[],
    tokens: TokenSource,
    options: OperatorOptions,
    /** True when the token is a (valid) service token: such a token gets a 403, not a 401. */
    private readonly isServiceToken: (token: string) => Promise<boolean>,
    onError: (error: Error) => void,
    now: () => number = Date.now,
  ) {
    const positive = (name: string, value: number | undefined, fallback: number, min: number) => {
      const v = value ?? fallback;
      if (!Number.isFinite(v) || v < min)
        throw new Error(`operator.${name} must be at least ${min}, got ${v}`);
      return v;
    };
    this.sampling = {
      intervalMs: positive("intervalMs", options.intervalMs, 30_000, 100),
      historyPoints: positive("historyPoints", options.historyPoints, 240, 2),
      scanCount: positive("scanCount", options.scanCount, 500, 1),
      stepPauseMs: positive("stepPauseMs", options.stepPauseMs, 10, 0),
      maxKeysPerNode: positive("maxKeysPerNode", options.maxKeysPerNode, 200_000, 1),
      memorySamples: positive("memorySamples", options.memorySamples, 20, 0),
    };
    if (options.admin.urls.length === 0) throw new Error("operator.admin.urls needs at least one admin URL");
    const names = services.map((s) => s.name);
    this.traffic = new ServiceTraffic(names);
    this.series = new OperatorSeries(this.sampling.historyPoints, names);
    this.admins = TokenVerifier.forAdmin(tokens, now);
    this.sampler = new OperatorSampler(
      options.admin,
      services.map((s) => ({
        name: s.name,
        userId: s.secret.username,
        keyspace: s.keyspace,
        sharedKeyspaces: [...s.sharedKeyspaces],
      })),
      this.traffic,
      this.series,
      this.sampling,
      onError,
    );
    this.sampler.start();
  }

  /** Answers `/operator` + `file` (`""` is the page, `api/state` the data). */
  async respond(
    request: GatewayRequest,
    method: string,
    file: string,
    pathname: string,
  ): Promise<GatewayResponse> {
    const head = method === "HEAD";
    if (method !== "GET" && !head) {
      const answer = json(405, { error: "ERR method not allowed" }, false);
      answer.headers.allow = "GET, HEAD";
      return answer;
    }
    if (pathname.endsWith("/operator")) {
      return { status: 308, headers: { location: "operator/", ...OPERATOR_SECURITY_HEADERS }, body: null };
    }
    if (file === "api/state") {
      const header = request.header("authorization");
      const token = header === null ? undefined : BEARER.exec(header)?.[1];
      if (!(await this.admins.verify(token))) {
        if (token !== undefined && (await this.isServiceToken(token))) {
          throw new GatewayError(
            403,
            "NOPERM a service token cannot open the operator view; use the gateway's admin token (.gateway-admin-token.json in the secrets directory)",
          );
        }
        throw unauthorized();
      }
      return json(200, this.state(), head);
    }
    const asset = await operatorAsset(file, head);
    return asset ?? json(404, { error: "ERR no such operator file" }, head);
  }

  /** The page's data: the latest sample, totals since start, and the history as columns. */
  state(): unknown {
    const report = this.sampler.report;
    const latest = this.series.latest();
    const traffic = this.traffic.snapshot();
    return {
      generatedAt: new Date().toISOString(),
      startedAt: this.startedAt,
      sampling: this.sampling,
      sampler: this.sampler.state(),
      services: this.services.map((s) => {
        const point = latest?.services[s.name];
        return {
          name: s.name,
          keyspace: s.keyspace,
          sharedKeyspaces: s.sharedKeyspaces,
          user: s.secret.username,
          keys: point?.keys ?? null,
          keysWithoutTtl: point?.keysWithoutTtl ?? null,
          memoryBytes: point?.memoryBytes ?? null,
          connections: point?.connections ?? null,
          traffic: traffic[s.name],
          denials: this.sampler.denials[s.name],
        };
      }),
      keyspaces: (report?.keyspaces ?? []).map((k) => ({
        keyspace: k.keyspace,
        service: k.service ?? null,
        sharedBy: k.sharedBy,
        keys: k.keys,
        keysWithoutTtl: k.keysWithoutTtl,
        memoryBytes: k.memoryBytes,
        estimated: k.estimated,
      })),
      nodes: report?.nodes ?? [],
      series: this.series.columns(),
      notes: NOTES,
    };
  }

  /** Stops sampling and closes the admin connection. */
  close(): Promise<void> {
    return this.sampler.close();
  }
}
