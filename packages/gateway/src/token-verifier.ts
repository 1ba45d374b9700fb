/**
 * Checks bearer tokens against the registry's SHA-256 hashes in constant time: the presented token
 * is hashed, then compared with every registered hash through `timingSafeEqual` (no early exit), so
 * neither the token nor the position of a match shows in the timing. The registry file is re-read
 * when it changes (checked at most every `refreshIntervalMs`), so rotations apply without a restart.
 *
 * A token that matched is remembered for a few seconds by its SHA-256 (never the token itself), so
 * the next requests with it skip the comparisons: a map lookup by a hash of the token tells nothing
 * about other tokens. Expiry is checked on every request, and the memory is cleared whenever the
 * registry is re-read, so rotations and revocations apply exactly as without it. Unknown tokens are
 * never remembered.
 */
import * as crypto from "node:crypto";
import { stat } from "node:fs/promises";
import { readTokenRegistry, type TokenKind, type TokenRecord } from "./tokens.js";

/** Where the gateway finds token hashes: the registry file, or records given in code (e.g. Lambda env). */
export type TokenSource =
  | {
      /** Path of `gateway-tokens.json`. */
      registryFile: string;
      /** How often the file is checked for changes. `0` checks on every request. @default 1000 */
      refreshIntervalMs?: number;
    }
  | { records: readonly TokenRecord[] };

/** Who a valid token belongs to. */
export interface TokenIdentity {
  service: string;
  kind: TokenKind;
  /** A namespaced token: keys and channels are relative to the service's keyspace. */
  namespaced?: boolean;
}

/** Who a valid admin token belongs to: the operator (it opens the operator view, nothing else). */
export interface AdminIdentity {
  admin: true;
}

interface Entry<I> {
  hash: Buffer;
  expiresAtMs: number;
  /** What `check` answers for this entry (one frozen object, shared by all requests). */
  identity: I;
}

/** The identity of a service token's record; admin records are no service's (undefined). */
function serviceIdentity(record: TokenRecord): Readonly<TokenIdentity> | undefined {
  if (record.kind === "admin") return undefined;
  return Object.freeze(
    record.namespaced
      ? { service: record.service, kind: record.kind, namespaced: true }
      : { service: record.service, kind: record.kind },
  );
}

/** The identity of the admin token's record; service records are not admin tokens (undefined). */
function adminIdentity(record: TokenRecord): Readonly<AdminIdentity> | undefined {
  return record.kind === "admin" ? Object.freeze({ admin: true as const }) : undefined;
}

/** Longest token accepted for hashing; longer ones are rejected without work. */
const MAX_TOKEN_LENGTH = 512;
/** How long a matched token's entry is reused (by the token's hash) before comparing again. */
const MATCH_MEMORY_MS = 5000;
/** Most remembered matches (at most one per registered token anyway). */
const MATCH_MEMORY_MAX = 10_000;

type HashFunction = (algorithm: string, data: string, outputEncoding: "base64") => string;
/** `crypto.hash` (one-shot, Node >= 20.12) when available, else a Hash object. */
const oneShot = (crypto as unknown as { hash?: HashFunction }).hash;
/**
 * SHA-256 of the token (UTF-8) as base64: the key of remembered matches, and decoded for the
 * comparisons. (`crypto.hash` is several times faster with a text output than with a Buffer.)
 */
const sha256Base64: (token: string) => string = oneShot
  ? (token) => oneShot("sha256", token, "base64")
  : (token) => crypto.createHash("sha256").update(token, "utf8").digest("base64");

function toEntries<I>(
  records: readonly TokenRecord[],
  identify: (record: TokenRecord) => I | undefined,
): Entry<I>[] {
  return records.flatMap((r) => {
    const identity = identify(r);
    if (identity === undefined) return [];
    return [
      {
        hash: Buffer.from(r.hash, "hex"),
        expiresAtMs: r.expiresAt === undefined ? Number.POSITIVE_INFINITY : Date.parse(r.expiresAt),
        identity,
      },
    ];
  });
}

/**
 * Verifies tokens against a {@link TokenSource}. `new TokenVerifier(source)` accepts service tokens
 * only (the admin token's record is not a service's: it never opens the data plane);
 * {@link TokenVerifier.forAdmin} accepts the admin token only.
 */
export class TokenVerifier<I extends object = Readonly<TokenIdentity>> {
  /** A verifier of the admin token (operator view) over the same registry. */
  static forAdmin(source: TokenSource, now: () => number = Date.now): TokenVerifier<Readonly<AdminIdentity>> {
    return new TokenVerifier(source, now, adminIdentity);
  }

  private entries: Entry<I>[] = [];
  private fileStamp = "";
  private lastCheck = Number.NEGATIVE_INFINITY;
  private loading: Promise<void> | undefined;
  /** base64 SHA-256 of a token that matched -> its entry, until `until` (ms, `now` clock). */
  private readonly matches = new Map<string, { entry: Entry<I>; until: number }>();

  private readonly identify: (record: TokenRecord) => I | undefined;

  constructor(
    private readonly source: TokenSource,
    private readonly now: () => number = Date.now,
    identify?: (record: TokenRecord) => I | undefined,
  ) {
    this.identify = identify ?? (serviceIdentity as unknown as (record: TokenRecord) => I | undefined);
    if ("records" in source) this.entries = toEntries(source.records, this.identify);
  }

  /** True when {@link check} may answer now: no re-read of the registry is due or under way. */
  isCurrent(): boolean {
    const source = this.source;
    if (!("registryFile" in source)) return true;
    return this.loading === undefined && this.now() - this.lastCheck < (source.refreshIntervalMs ?? 1000);
  }

  /** Re-reads the registry file when it changed (no-op for in-code records). */
  refresh(force = false): Promise<void> {
    const source = this.source;
    if (!("registryFile" in source)) return Promise.resolve();
    const interval = source.refreshIntervalMs ?? 1000;
    const now = this.now();
    if (!force && now - this.lastCheck < interval) return this.loading ?? Promise.resolve();
    this.lastCheck = now;
    this.loading ??= (async () => {
      try {
        let stamp = "missing";
        try {
          const info = await stat(source.registryFile);
          stamp = `${info.ino}:${info.size}:${info.mtimeMs}`;
        } catch (error) {
          if ((error as NodeJS.ErrnoException).code !== "ENOENT") throw error;
        }
        if (stamp === this.fileStamp) return;
        this.entries =
          stamp === "missing" ? [] : toEntries(await readTokenRegistry(source.registryFile), this.identify);
        this.matches.clear();
        this.fileStamp = stamp;
      } finally {
        this.loading = undefined;
      }
    })();
    return this.loading;
  }

  /** The identity of `token`, or `undefined` when it is missing, unknown or expired. */
  async verify(token: string | undefined): Promise<I | undefined> {
    try {
      await this.refresh();
    } catch {
      // Keep serving with the last good registry; a broken file must not lock everyone out.
    }
    return this.check(token);
  }

  /**
   * {@link verify} against the registry as last read, without re-reading it: use it when
   * {@link isCurrent} says no re-read is due.
   */
  check(token: string | undefined): I | undefined {
    if (token === undefined || token.length === 0 || token.length > MAX_TOKEN_LENGTH) return undefined;
    const key = sha256Base64(token);
    const now = this.now();
    const remembered = this.matches.get(key);
    let match: Entry<I> | undefined;
    if (remembered !== undefined && remembered.until > now) {
      match = remembered.entry;
    } else {
      const presented = Buffer.from(key, "base64");
      for (const entry of this.entries) {
        if (entry.hash.length === presented.length && crypto.timingSafeEqual(entry.hash, presented)) {
          if (!match || entry.expiresAtMs > match.expiresAtMs) match = entry;
        }
      }
      if (match) {
        if (this.matches.size >= MATCH_MEMORY_MAX) this.matches.clear();
        this.matches.set(key, { entry: match, until: now + MATCH_MEMORY_MS });
      } else if (remembered !== undefined) {
        this.matches.delete(key);
      }
    }
    if (!match || match.expiresAtMs <= now) return undefined;
    return match.identity;
  }
}
