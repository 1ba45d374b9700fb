/**
 * Generations and tag versions of one store (the primary and the fallback each have their own).
 *
 * `clear()` is O(1): it writes a new random generation to `__cp:gen`. Every entry carries the
 * generation it was written under (in its envelope, see codec.ts); an entry whose generation is not
 * the current one reads as a miss and is reclaimed by its ttl (every entry has one: the ceiling).
 * `invalidateTags([t])` writes a new random version to `__cp:tag:<t>`; an entry written with tags
 * carries each tag's version at write time and reads as a miss when one of them changed.
 *
 * Versions are random (not counters) and an entry is never stamped with a missing version: a writer
 * that finds the generation (or a tag) missing creates it first (set-if-absent). So when a version
 * key disappears (its ttl, or eviction under memory pressure) every entry stamped with it reads as a
 * miss, and a new random value never matches an old entry: nothing is ever resurrected, whatever is
 * evicted. (Entries of releases before generations carry no stamp and match a missing generation.)
 *
 * Reads: every read of an entry needs the current generation. The generation read is issued with
 * the first read of an event-loop turn and shared by every read started in that turn. Where the
 * store reads two keys in one command (`getPair`: Redis standalone, one MGET) the turn's first hot
 * read (get, getOrSet) sends its value read in that same command, so a lone get is one command and
 * 50 concurrent gets cost 1 MGET + 49 GETs (decision 0023); elsewhere (a cluster: the keys live in
 * different slots) it is a GET of its own, sent before the value read, so on one connection its
 * reply is there first and the value's callback finds it settled. Sharing is safe: nothing outside
 * the process can be observed between two reads of one synchronous turn. Tag versions are read only
 * for tagged entries (one extra round trip on their hits), shared the same way per tag.
 */
import { isVersionText } from "./codec.js";
import { GENERATION_KEY, tagKey } from "./internal-keys.js";
import { builtin } from "./node-builtins.js";
import type { CacheStore } from "./stores/cache-store.js";

const crypto = () => builtin<typeof import("node:crypto")>("node:crypto");

/** `set` re-reads the generation (and rewrites a stale stamp) when what it knows is older than this. */
const KNOWN_MAX_AGE_MS = 1000;

/** The generation read of one event-loop turn. */
export interface GenerationRead {
  /** True once `gen` is known (or the read failed). */
  done: boolean;
  /** The generation (`""`: none yet); `undefined` when it could not be read and none is known. */
  gen: string | undefined;
  /** Set when the read failed (the store or its breaker). */
  error: unknown;
  /** Settles (never rejects) when `done`. */
  promise: Promise<void>;
  /**
   * The value of the key passed to {@link StoreVersions.generation}, read in the same command as
   * the generation (the turn's first read on a store with `getPair`). Taken once: the caller that
   * asked for it clears it, so a later read of the key in this turn reads it anew (after a write of
   * the same turn, say).
   */
  paired: Promise<Buffer | undefined> | undefined;
}

const first = (pair: [Buffer | undefined, Buffer | undefined]) => pair[0];
const second = (pair: [Buffer | undefined, Buffer | undefined]) => pair[1];

/** A new random version: 16 base64url characters (96 bits). */
export function newVersion(): string {
  return crypto().randomBytes(12).toString("base64url");
}

/** A stored version as the envelope carries it (foreign or damaged values are mapped, not trusted). */
export function normalizeVersion(raw: Buffer | undefined): string {
  if (raw === undefined || raw.length === 0) return "";
  const text = raw.toString("latin1");
  if (isVersionText(text)) return text;
  return crypto().createHash("sha1").update(raw).digest("base64url").slice(0, 16);
}

export interface VersionHooks {
  /** May the store be called for this key now (its breaker domain is closed)? */
  allows(key: string): boolean;
  succeeded(key: string): void;
  failed(key: string, err: unknown): void;
}

export class StoreVersions {
  /** The last generation this process saw (`undefined`: never read). */
  known: string | undefined;
  /** performance.now() of the last time `known` was read from or written to the store. */
  knownAt = 0;
  private tick: GenerationRead | undefined;
  private readonly resetTick = () => {
    this.tick = undefined;
  };
  private readonly tagTick = new Map<string, Promise<string>>();
  private tagTickScheduled = false;
  private readonly resetTagTick = () => {
    this.tagTick.clear();
    this.tagTickScheduled = false;
  };
  /** Incremented by local bumps: a read issued before one must not overwrite what it wrote. */
  private bumps = 0;

  constructor(
    readonly store: CacheStore,
    private readonly hooks: VersionHooks,
  ) {}

  /**
   * Whether `known` may stamp a write without reading the generation along: read less than a second
   * ago, or by a read of this very event-loop turn.
   */
  fresh(): boolean {
    if (performance.now() - this.knownAt < KNOWN_MAX_AGE_MS) return true;
    const tick = this.tick;
    return tick?.done === true && tick.error === undefined;
  }

  /**
   * The generation read of this event-loop turn (issued now if this is the turn's first). With
   * `withKey`, a store that reads two keys in one command (`getPair`) reads that key along: its value
   * is in `paired` of the returned read.
   */
  generation(withKey?: string): GenerationRead {
    const existing = this.tick;
    if (existing !== undefined) return existing;
    const read: GenerationRead = {
      done: false,
      gen: undefined,
      error: undefined,
      promise: undefined as never,
      paired: undefined,
    };
    // A local store (memory) is read every time: it costs nothing, and a chain of awaits on it runs
    // in one turn, during which this process itself changes the store.
    if (!this.store.local) {
      this.tick = read;
      process.nextTick(this.resetTick);
    }
    if (!this.hooks.allows(GENERATION_KEY)) {
      // Its breaker domain is open: the last known generation (nobody can bump it meanwhile
      // except through that same unreachable node).
      read.done = true;
      read.gen = this.known;
      read.promise = Promise.resolve();
      return read;
    }
    const issuedAt = this.bumps;
    let pending: Promise<Buffer | undefined>;
    try {
      const pair = withKey === undefined ? undefined : this.store.getPair?.(GENERATION_KEY, withKey);
      if (pair !== undefined) {
        pending = pair.then(first);
        read.paired = pair.then(second);
      } else pending = Promise.resolve(this.store.get(GENERATION_KEY));
    } catch (err) {
      pending = Promise.reject(err);
    }
    read.promise = pending.then(
      (raw) => {
        const gen = normalizeVersion(raw);
        read.gen = gen;
        read.done = true;
        if (issuedAt === this.bumps) {
          this.known = gen;
          this.knownAt = performance.now();
        }
        this.hooks.succeeded(GENERATION_KEY);
      },
      (err: unknown) => {
        read.error = err;
        read.gen = this.known;
        read.done = true;
        this.hooks.failed(GENERATION_KEY, err);
      },
    );
    return read;
  }

  private creating: Promise<string> | undefined;

  /**
   * The generation to stamp a write with when none exists yet: creates one (set-if-absent; whoever
   * comes first wins and everyone stamps with it). Concurrent callers share one creation.
   */
  createGeneration(): Promise<string> {
    this.creating ??= (async () => {
      const gen = newVersion();
      if (await this.store.setIfAbsent(GENERATION_KEY, Buffer.from(gen, "latin1"))) {
        this.noteLocal(gen);
        return gen;
      }
      const current = normalizeVersion(await this.store.get(GENERATION_KEY));
      if (current === "") throw new Error("the keyspace generation disappeared while it was created");
      this.noteLocal(current);
      return current;
    })().finally(() => {
      this.creating = undefined;
    });
    return this.creating;
  }

  private noteLocal(gen: string): void {
    this.bumps++;
    this.tick = undefined;
    this.known = gen;
    this.knownAt = performance.now();
  }

  /**
   * The tags' versions to stamp a write with: read, and created (set-if-absent, `ttlMs`) for tags
   * that have none, so that a stamp is never empty.
   */
  async ensureTagVersions(tags: readonly string[], ttlMs: number | undefined): Promise<string[]> {
    const current = await this.tagVersions(tags);
    await Promise.all(
      tags.map(async (tag, i) => {
        if (current[i] !== "") return;
        const version = newVersion();
        if (await this.store.setIfAbsent(tagKey(tag), Buffer.from(version, "latin1"), ttlMs)) {
          current[i] = version;
        } else {
          current[i] = normalizeVersion(await this.store.get(tagKey(tag)));
          if (current[i] === "")
            throw new Error(`the version of tag "${tag}" disappeared while it was created`);
        }
        this.tagTick.delete(tag);
      }),
    );
    return current;
  }

  /** Writes a new generation (clear). Rejects when the store fails. */
  async bumpGeneration(ttlMs: number | undefined): Promise<string> {
    const gen = newVersion();
    await this.store.set(GENERATION_KEY, Buffer.from(gen, "latin1"), ttlMs);
    this.noteLocal(gen);
    return gen;
  }

  /** Writes new versions for the tags. Rejects when the store fails. */
  async bumpTags(tags: readonly string[], ttlMs: number | undefined): Promise<void> {
    await this.store.setMany(
      tags.map((tag) => ({ key: tagKey(tag), value: Buffer.from(newVersion(), "latin1"), ttlMs })),
    );
    for (const tag of tags) this.tagTick.delete(tag);
  }

  /**
   * The current versions of `tags` (`""` for a tag never invalidated), read once per tag per
   * event-loop turn. Rejects when they cannot be read (the caller then treats the entry as a miss).
   */
  tagVersions(tags: readonly string[]): Promise<string[]> {
    const local = this.store.local === true;
    const out: (Promise<string> | undefined)[] = [];
    const missing: string[] = [];
    for (const tag of tags) {
      const cached = local ? undefined : this.tagTick.get(tag);
      out.push(cached);
      if (cached !== undefined) continue;
      if (!this.hooks.allows(tagKey(tag))) {
        return Promise.reject(new Error(`the store holding tag "${tag}" is unavailable`));
      }
      missing.push(tag);
    }
    if (missing.length > 0) {
      const keys = missing.map(tagKey);
      const batch = Promise.resolve(this.store.getMany(keys)).then(
        (values) => {
          this.hooks.succeeded(keys[0] as string);
          return values;
        },
        (err: unknown) => {
          this.hooks.failed(keys[0] as string, err);
          throw err;
        },
      );
      const read = new Map<string, Promise<string>>();
      missing.forEach((tag, i) => {
        const version = batch.then((values) => normalizeVersion(values[i]));
        // A rejection is observed by the caller's Promise.all; this copy must not be unhandled.
        version.catch(() => undefined);
        read.set(tag, version);
        if (!local) this.tagTick.set(tag, version);
      });
      if (!local && !this.tagTickScheduled) {
        this.tagTickScheduled = true;
        process.nextTick(this.resetTagTick);
      }
      for (let i = 0; i < tags.length; i++) out[i] ??= read.get(tags[i] as string);
    }
    return Promise.all(out as Promise<string>[]);
  }
}
