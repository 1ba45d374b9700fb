/**
 * Checks bearer tokens against the registry's SHA-256 hashes in constant time: the presented token
 * is hashed, then compared with every registered hash through `timingSafeEqual` (no early exit), so
 * neither the token nor the position of a match shows in the timing. The registry file is re-read
 * when it changes (checked at most every `refreshIntervalMs`), so rotations apply without a restart.
 */
import { createHash, timingSafeEqual } from "node:crypto";
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
}

interface Entry {
  service: string;
  kind: TokenKind;
  hash: Buffer;
  expiresAtMs: number;
}

/** Longest token accepted for hashing; longer ones are rejected without work. */
const MAX_TOKEN_LENGTH = 512;

function toEntries(records: readonly TokenRecord[]): Entry[] {
  return records.map((r) => ({
    service: r.service,
    kind: r.kind,
    hash: Buffer.from(r.hash, "hex"),
    expiresAtMs: r.expiresAt === undefined ? Number.POSITIVE_INFINITY : Date.parse(r.expiresAt),
  }));
}

/** Verifies tokens against a {@link TokenSource}. */
export class TokenVerifier {
  private entries: Entry[] = [];
  private fileStamp = "";
  private lastCheck = Number.NEGATIVE_INFINITY;
  private loading: Promise<void> | undefined;

  constructor(
    private readonly source: TokenSource,
    private readonly now: () => number = Date.now,
  ) {
    if ("records" in source) this.entries = toEntries(source.records);
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
        this.fileStamp = stamp;
      } finally {
        this.loading = undefined;
      }
    })();
    return this.loading;
  }

  /** The identity of `token`, or `undefined` when it is missing, unknown or expired. */
  async verify(token: string | undefined): Promise<TokenIdentity | undefined> {
    try {
      await this.refresh();
    } catch {
      // Keep serving with the last good registry; a broken file must not lock everyone out.
    }
    if (token === undefined || token.length === 0 || token.length > MAX_TOKEN_LENGTH) return undefined;
    const presented = createHash("sha256").update(token, "utf8").digest();
    let match: Entry | undefined;
    for (const entry of this.entries) {
      if (entry.hash.length === presented.length && timingSafeEqual(entry.hash, presented)) {
        if (!match || entry.expiresAtMs > match.expiresAtMs) match = entry;
      }
    }
    if (!match || match.expiresAtMs <= this.now()) return undefined;
    return { service: match.service, kind: match.kind };
  }
}
