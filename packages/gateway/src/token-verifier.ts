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

interface Entry {
  service: string;
  kind: TokenKind;
  hash: Buffer;
  expiresAtMs: number;
  /** What `check` answers for this entry (one frozen object, shared by all requests). */
  identity: Readonly<TokenIdentity>;
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

function toEntries(records: readonly TokenRecord[]): Entry[] {
  return records.map((r) => ({
    service: r.service,
    kind: r.kind,
    hash: Buffer.from(r.hash, "hex"),
    expiresAtMs: r.expiresAt === undefined ? Number.POSITIVE_INFINITY : Date.parse(r.expiresAt),
    identity: Object.freeze(
      r.namespaced
        ? { service: r.service, kind: r.kind, namespaced: true }
        : { service: r.service, kind: r.kind },
    ),
  }));
}

/** Verifies tokens against a {@link TokenSource}. */
export class TokenVerifier {
  private entries: Entry[] = [];
  private fileStamp = "";
  private lastCheck = Number.NEGATIVE_INFINITY;
  private loading: Promise<void> | undefined;
  /** base64 SHA-256 of a token that matched -> its entry, until `until` (ms, `now` clock). */
  private readonly matches = new Map<string, { entry: Entry; until: number }>();

  constructor(
    private readonly source: TokenSource,
    private readonly now: () => number = Date.now,
  ) {
    if ("records" in source) this.entries = toEntries(source.records);
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
        this.entries = stamp === "missing" ? [] : toEntries(await readTokenRegistry(source.registryFile));
        this.matches.clear();
        this.fileStamp = stamp;
      } finally {
        this.loading = undefined;
      }
    })();
    return this.loading;
  }

  /** The identity of `token`, or `undefined` when it is missing, unknown or expired. */
  async verify(token: string | undefined): Promise<Readonly<TokenIdentity> | undefined> {
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
  check(token: string | undefined): Readonly<TokenIdentity> | undefined {
    if (token === undefined || token.length === 0 || token.length > MAX_TOKEN_LENGTH) return undefined;
    const key = sha256Base64(token);
    const now = this.now();
    const remembered = this.matches.get(key);
    let match: Entry | undefined;
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
