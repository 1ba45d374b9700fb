/**
 * Value serialization: a pluggable {@link Codec} (tagged JSON by default) plus an optional framing
 * header for compression, stale-while-revalidate freshness, and the generation and tags an entry was
 * written under. Plain values carry no header, so a JSON value is stored as readable JSON text;
 * framed values start with the byte 0xC1, which never starts UTF-8 text and is unused by
 * MessagePack, so framed and plain payloads coexist. Text stamped with a generation only (the
 * common case after a `clear()`) stays text: `\x01<generation>\x01<JSON>`.
 */
import { SerializationError } from "./errors.js";
import { builtin } from "./node-builtins.js";

/** zlib, loaded when a value is first compressed or decompressed (node-builtins.ts). */
const zlib = () => builtin<typeof import("node:zlib")>("node:zlib");

/** Turns values into bytes and back. `decode` must throw on data it cannot read. */
export interface Codec {
  readonly name: string;
  encode(value: unknown): string | Uint8Array;
  decode(data: Buffer): unknown;
  /**
   * Optional: decodes `data` from byte `start` on, as `decode(data.subarray(start))` would (saves a
   * Buffer view per read of a value behind a header).
   */
  decodeAt?(data: Buffer, start: number): unknown;
}

type Json = null | boolean | number | string | Json[] | { [key: string]: Json };

const TAG = "$t";

function hasOwn(object: object, key: string): boolean {
  return Object.hasOwn(object, key);
}

function toTagged(value: unknown, seen: Set<object>): Json {
  switch (typeof value) {
    case "string":
    case "boolean":
      return value;
    case "number":
      if (Number.isNaN(value)) return { [TAG]: "num", v: "NaN" };
      if (value === Number.POSITIVE_INFINITY) return { [TAG]: "num", v: "Infinity" };
      if (value === Number.NEGATIVE_INFINITY) return { [TAG]: "num", v: "-Infinity" };
      if (Object.is(value, -0)) return { [TAG]: "num", v: "-0" };
      return value;
    case "bigint":
      return { [TAG]: "bigint", v: value.toString() };
    case "undefined":
      return { [TAG]: "undef" };
    case "function":
    case "symbol":
      throw new TypeError(`cannot serialize a ${typeof value}`);
  }
  if (value === null) return null;
  const object = value as object;
  if (seen.has(object)) throw new TypeError("cannot serialize a circular structure");
  seen.add(object);
  try {
    if (object instanceof Date) {
      const time = object.getTime();
      return { [TAG]: "date", v: Number.isNaN(time) ? null : object.toISOString() };
    }
    if (Buffer.isBuffer(object)) return { [TAG]: "buf", v: object.toString("base64") };
    if (object instanceof Uint8Array) {
      return {
        [TAG]: "u8",
        v: Buffer.from(object.buffer, object.byteOffset, object.byteLength).toString("base64"),
      };
    }
    if (object instanceof Map) {
      return { [TAG]: "map", v: [...object].map(([k, v]) => [toTagged(k, seen), toTagged(v, seen)]) };
    }
    if (object instanceof Set) return { [TAG]: "set", v: [...object].map((v) => toTagged(v, seen)) };
    if (Array.isArray(object)) {
      const out: Json[] = new Array(object.length);
      for (let i = 0; i < object.length; i++) out[i] = toTagged(object[i], seen);
      return out;
    }
    const out: { [key: string]: Json } = {};
    for (const key of Object.keys(object)) {
      const v = (object as Record<string, unknown>)[key];
      if (typeof v === "function" || typeof v === "symbol") continue;
      Object.defineProperty(out, key, {
        value: toTagged(v, seen),
        enumerable: true,
        writable: true,
        configurable: true,
      });
    }
    // A plain object that itself has a "$t" key is wrapped so it is not mistaken for a tag.
    return hasOwn(out, TAG) ? { [TAG]: "obj", v: out } : out;
  } finally {
    seen.delete(object);
  }
}

function fromTagged(json: unknown): unknown {
  if (json === null || typeof json !== "object") return json;
  if (Array.isArray(json)) return json.map(fromTagged);
  const record = json as Record<string, unknown>;
  if (hasOwn(record, TAG)) {
    const v = record.v;
    switch (record[TAG]) {
      case "undef":
        return undefined;
      case "num":
        if (v === "NaN") return Number.NaN;
        if (v === "Infinity") return Number.POSITIVE_INFINITY;
        if (v === "-Infinity") return Number.NEGATIVE_INFINITY;
        if (v === "-0") return -0;
        break;
      case "bigint":
        if (typeof v === "string") return BigInt(v);
        break;
      case "date":
        if (v === null) return new Date(Number.NaN);
        if (typeof v === "string") return new Date(v);
        break;
      case "buf":
        if (typeof v === "string") return Buffer.from(v, "base64");
        break;
      case "u8":
        if (typeof v === "string") return new Uint8Array(Buffer.from(v, "base64"));
        break;
      case "map":
        if (Array.isArray(v)) {
          return new Map(
            v.map((pair) => {
              if (!Array.isArray(pair) || pair.length !== 2) throw new TypeError("bad map entry");
              return [fromTagged(pair[0]), fromTagged(pair[1])] as const;
            }),
          );
        }
        break;
      case "set":
        if (Array.isArray(v)) return new Set(v.map(fromTagged));
        break;
      case "obj":
        if (v !== null && typeof v === "object" && !Array.isArray(v))
          return decodeObject(v as Record<string, unknown>);
        break;
    }
    throw new TypeError(`unknown or malformed tag ${JSON.stringify(record[TAG])}`);
  }
  return decodeObject(record);
}

function decodeObject(record: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const key of Object.keys(record)) {
    Object.defineProperty(out, key, {
      value: fromTagged(record[key]),
      enumerable: true,
      writable: true,
      configurable: true,
    });
  }
  return out;
}

/**
 * JSON that round-trips Date, BigInt, Buffer, Uint8Array, Map, Set, undefined (also as an object
 * property or array item), NaN, ±Infinity and -0. Other values are stored as with JSON; functions and
 * symbols are left out of objects and rejected at the top level; circular structures are rejected.
 */
export const taggedJsonCodec: Codec = {
  name: "tagged-json",
  encode(value) {
    // Fast path: values JSON represents exactly need no tagging walk (and no copies).
    if (isPlainJson(value, 0)) return JSON.stringify(value);
    return JSON.stringify(toTagged(value, new Set()));
  },
  decode(data) {
    const text = data.toString("utf8");
    // Every tag is an object with a "$t" key, written exactly as `"$t"`: without it, plain JSON.
    // Most payloads have no "$" byte at all (a memchr); indexOf is far cheaper than includes in V8.
    if (data.indexOf(0x24) === -1 || text.indexOf('"$t"') === -1) return JSON.parse(text);
    return fromTagged(JSON.parse(text));
  },
  decodeAt(data, start) {
    const text = data.toString("utf8", start);
    if (data.indexOf(0x24, start) === -1 || text.indexOf('"$t"') === -1) return JSON.parse(text);
    return fromTagged(JSON.parse(text));
  },
};

/**
 * True when `JSON.parse(JSON.stringify(value))` deep-equals `value`: strings, finite numbers
 * (not -0), booleans, null, dense arrays and plain objects of those, without a "$t" key. Deep or
 * cyclic structures answer false (the tagging walk then handles or rejects them).
 */
function isPlainJson(value: unknown, depth: number): boolean {
  switch (typeof value) {
    case "string":
    case "boolean":
      return true;
    case "number":
      return Number.isFinite(value) && !Object.is(value, -0);
    case "object": {
      if (value === null) return true;
      if (depth > 64) return false;
      if (Array.isArray(value)) {
        for (let i = 0; i < value.length; i++) {
          if (!(i in value) || !isPlainJson(value[i], depth + 1)) return false;
        }
        return true;
      }
      const proto = Object.getPrototypeOf(value);
      if (proto !== Object.prototype && proto !== null) return false;
      for (const key in value) {
        if (
          key === TAG ||
          key === "toJSON" ||
          !isPlainJson((value as Record<string, unknown>)[key], depth + 1)
        ) {
          return false;
        }
      }
      return true;
    }
    default:
      return false;
  }
}

/** Plain `JSON.stringify`/`JSON.parse`, for interoperability with services that write raw JSON. */
export const plainJsonCodec: Codec = {
  name: "json",
  encode(value) {
    const text = JSON.stringify(value);
    if (text === undefined) throw new TypeError("value is not JSON-serializable");
    return text;
  },
  decode(data) {
    return JSON.parse(data.toString("utf8"));
  },
  decodeAt(data, start) {
    return JSON.parse(data.toString("utf8", start));
  },
};

export interface CompressionOptions {
  algorithm?: "brotli" | "gzip";
  /** Values whose encoded size is at least this many bytes are compressed. Default 1024. */
  threshold?: number;
}

export interface SerializerOptions {
  codec?: Codec;
  /** `false` (default) or options; compressed and plain values can be read either way. */
  compression?: CompressionOptions | false;
}

/** First byte of a framed payload. */
export const FRAME_MARKER = 0xc1;
/**
 * First byte of a text payload stamped with a generation: `\x01<generation>\x01<codec text>`. The
 * byte never starts JSON (or the text of a sane codec; a codec's text that does start with it is
 * framed instead), so stamped text stays text and is still sent to Redis as a string.
 */
export const TEXT_STAMP = 0x01;
const FLAG_GZIP = 0x01;
const FLAG_BROTLI = 0x02;
const FLAG_FRESH_UNTIL = 0x04;
const FLAG_GENERATION = 0x08;
const FLAG_TAGS = 0x10;
const KNOWN_FLAGS = FLAG_GZIP | FLAG_BROTLI | FLAG_FRESH_UNTIL | FLAG_GENERATION | FLAG_TAGS;
/** Generations and tag versions: 1..64 characters of base64url (what the client generates). */
const VERSION_TEXT = /^[A-Za-z0-9_-]{1,64}$/;
export const MAX_TAGS = 32;
export const MAX_TAG_BYTES = 512;

class FrameError extends Error {}

/** A tag an entry was written under and the tag's version at that time (`""`: never invalidated). */
export type TagStamp = readonly [tag: string, version: string];

/** The header of a stored payload, read without decoding the value. */
export interface Envelope {
  /** The keyspace generation the entry was written under (`""`: none, i.e. before any clear). */
  readonly gen: string;
  /** Tags and their versions at write time. */
  readonly tags: readonly TagStamp[] | undefined;
  /** Epoch ms until which the value is fresh (stale-while-revalidate entries only). */
  readonly freshUntil: number | undefined;
  /** Where the codec's bytes start. */
  readonly bodyStart: number;
  /** 0 none, FLAG_GZIP or FLAG_BROTLI. */
  readonly compression: number;
}

/** A plain payload: the codec's bytes only (what entries written before any clear look like). */
const PLAIN: Envelope = Object.freeze({
  gen: "",
  tags: undefined,
  freshUntil: undefined,
  bodyStart: 0,
  compression: 0,
});

export interface DecodedEntry {
  value: unknown;
  /** Epoch ms until which the value is fresh (stale-while-revalidate entries only). */
  freshUntil?: number;
}

/** True for generation and tag version strings the envelope can carry. */
export function isVersionText(text: string): boolean {
  return VERSION_TEXT.test(text);
}

function toBuffer(data: Buffer | Uint8Array | string): Buffer {
  return typeof data === "string"
    ? Buffer.from(data, "utf8")
    : Buffer.isBuffer(data)
      ? data
      : Buffer.from(data.buffer, data.byteOffset, data.byteLength);
}

/**
 * Codec + optional compression + an optional header (freshness for stale-while-revalidate, the
 * generation and the tags an entry was written under). Errors become {@link SerializationError}.
 */
export class Serializer {
  readonly codec: Codec;
  private readonly compression: Required<CompressionOptions> | undefined;

  constructor(options: SerializerOptions = {}) {
    this.codec = options.codec ?? taggedJsonCodec;
    this.compression =
      options.compression === false || options.compression === undefined
        ? undefined
        : {
            algorithm: options.compression.algorithm ?? "brotli",
            threshold: options.compression.threshold ?? 1024,
          };
  }

  encode(value: unknown, key?: string, freshUntil?: number, gen = "", tags?: readonly TagStamp[]): Buffer {
    const payload = this.encodePayload(value, key, freshUntil, gen, tags);
    return typeof payload === "string" ? Buffer.from(payload, "utf8") : payload;
  }

  /**
   * Like {@link encode}, but a codec's text output that needs no binary header (no compression, no
   * freshness, no tags) is returned as text: the codec's string itself when there is no generation
   * (the same bytes once UTF-8 encoded, without a copy), else `\x01<gen>\x01<text>`. Stores with
   * `setText` (Redis) send it as is, which ioredis writes faster than a Buffer. `gen` must be `""`
   * or a version string ({@link isVersionText}).
   */
  encodePayload(
    value: unknown,
    key?: string,
    freshUntil?: number,
    gen = "",
    tags?: readonly TagStamp[],
  ): Buffer | string {
    let encoded: string | Uint8Array;
    try {
      encoded = this.codec.encode(value);
      if (typeof encoded !== "string" && !(encoded instanceof Uint8Array)) {
        throw new TypeError(`codec returned ${encoded === undefined ? "undefined" : typeof encoded}`);
      }
    } catch (err) {
      throw new SerializationError(
        `Cannot encode the value${key === undefined ? "" : ` of key "${key}"`} with ${this.codec.name}: ${
          err instanceof Error ? err.message : String(err)
        }`,
        "encode",
        key,
        err,
      );
    }
    if (typeof encoded === "string") {
      if (freshUntil === undefined && tags === undefined && !this.compresses(encoded)) {
        if (gen !== "") return `\x01${gen}\x01${encoded}`;
        if (encoded.charCodeAt(0) !== TEXT_STAMP) return encoded;
      }
      return this.frame(Buffer.from(encoded, "utf8"), freshUntil, gen, tags);
    }
    return this.frame(
      Buffer.from(encoded.buffer, encoded.byteOffset, encoded.byteLength),
      freshUntil,
      gen,
      tags,
    );
  }

  /** Whether text of this length reaches the compression threshold (byte length is at most 3 × length). */
  private compresses(text: string): boolean {
    const c = this.compression;
    if (c === undefined || text.length * 3 < c.threshold) return false;
    return Buffer.byteLength(text, "utf8") >= c.threshold;
  }

  private frame(
    input: Buffer,
    freshUntil: number | undefined,
    gen: string,
    tags: readonly TagStamp[] | undefined,
  ): Buffer {
    let body = input;
    let flags = 0;
    if (this.compression && body.length >= this.compression.threshold) {
      if (this.compression.algorithm === "gzip") {
        body = zlib().gzipSync(body);
        flags |= FLAG_GZIP;
      } else {
        body = zlib().brotliCompressSync(body, {
          params: {
            [zlib().constants.BROTLI_PARAM_QUALITY]: 5,
            [zlib().constants.BROTLI_PARAM_SIZE_HINT]: body.length,
          },
        });
        flags |= FLAG_BROTLI;
      }
    }
    if (freshUntil !== undefined) flags |= FLAG_FRESH_UNTIL;
    if (gen !== "") flags |= FLAG_GENERATION;
    if (tags !== undefined && tags.length > 0) flags |= FLAG_TAGS;
    if (flags === 0) {
      if (body[0] === FRAME_MARKER || body[0] === TEXT_STAMP) {
        // A codec produced output starting with a marker byte: frame it so it is not misread.
        return Buffer.concat([Buffer.from([FRAME_MARKER, 0]), body]);
      }
      return body;
    }
    const parts: Buffer[] = [];
    const fixed = Buffer.alloc(freshUntil === undefined ? 2 : 10);
    fixed[0] = FRAME_MARKER;
    fixed[1] = flags;
    if (freshUntil !== undefined) fixed.writeDoubleBE(freshUntil, 2);
    parts.push(fixed);
    if (gen !== "") parts.push(Buffer.from([gen.length]), Buffer.from(gen, "latin1"));
    if (flags & FLAG_TAGS && tags) {
      parts.push(Buffer.from([tags.length]));
      for (const [tag, version] of tags) {
        const name = Buffer.from(tag, "utf8");
        const length = Buffer.alloc(2);
        length.writeUInt16BE(name.length);
        parts.push(length, name, Buffer.from([version.length]), Buffer.from(version, "latin1"));
      }
    }
    parts.push(body);
    return Buffer.concat(parts);
  }

  /**
   * The header of a stored payload (generation, tags, freshness) without decoding the value, so a
   * stale entry costs no decoding. Plain payloads share one frozen envelope (no allocation).
   */
  peek(data: Buffer, key?: string): Envelope {
    const first = data[0];
    if (first !== FRAME_MARKER && first !== TEXT_STAMP) return PLAIN;
    try {
      if (first === TEXT_STAMP) {
        const end = data.indexOf(TEXT_STAMP, 1);
        if (end < 2 || end > 65) throw new FrameError("malformed generation stamp");
        return {
          gen: data.toString("latin1", 1, end),
          tags: undefined,
          freshUntil: undefined,
          bodyStart: end + 1,
          compression: 0,
        };
      }
      const flags = data[1];
      if (flags === undefined || (flags & ~KNOWN_FLAGS) !== 0 || (flags & FLAG_GZIP && flags & FLAG_BROTLI)) {
        throw new FrameError("unknown frame header");
      }
      let offset = 2;
      let freshUntil: number | undefined;
      let gen = "";
      let tags: TagStamp[] | undefined;
      const need = (n: number) => {
        if (offset + n > data.length) throw new FrameError("truncated frame header");
      };
      if (flags & FLAG_FRESH_UNTIL) {
        need(8);
        freshUntil = data.readDoubleBE(offset);
        offset += 8;
      }
      if (flags & FLAG_GENERATION) {
        need(1);
        const length = data[offset] as number;
        need(1 + length);
        gen = data.toString("latin1", offset + 1, offset + 1 + length);
        offset += 1 + length;
      }
      if (flags & FLAG_TAGS) {
        need(1);
        const count = data[offset] as number;
        offset += 1;
        tags = [];
        for (let i = 0; i < count; i++) {
          need(2);
          const length = data.readUInt16BE(offset);
          need(2 + length + 1);
          const tag = data.toString("utf8", offset + 2, offset + 2 + length);
          offset += 2 + length;
          const versionLength = data[offset] as number;
          need(1 + versionLength);
          tags.push([tag, data.toString("latin1", offset + 1, offset + 1 + versionLength)]);
          offset += 1 + versionLength;
        }
      }
      return { gen, tags, freshUntil, bodyStart: offset, compression: flags & (FLAG_GZIP | FLAG_BROTLI) };
    } catch (err) {
      throw this.decodeError(err, key);
    }
  }

  /**
   * The hot path of a read: where the codec's bytes start when `data` is text stamped with exactly
   * `gen`, `-1` when it is text stamped with another generation, `0` when it is not a text stamp
   * (then use {@link peek}). Compares bytes: no allocation.
   */
  textStamp(data: Buffer, gen: string): number {
    if (data[0] !== TEXT_STAMP) return 0;
    const n = gen.length;
    if (data[n + 1] !== TEXT_STAMP) return -1;
    for (let i = 0; i < n; i++) if (data[i + 1] !== gen.charCodeAt(i)) return -1;
    return n + 2;
  }

  /** The envelope of a text-stamped payload whose codec bytes start at `bodyStart` (shared objects). */
  textEnvelope(gen: string, bodyStart: number): Envelope {
    const cached = this.textEnvelopes;
    if (cached !== undefined && cached.gen === gen) return cached;
    this.textEnvelopes = { gen, tags: undefined, freshUntil: undefined, bodyStart, compression: 0 };
    return this.textEnvelopes;
  }

  private textEnvelopes: Envelope | undefined;

  /** The value of a payload whose header {@link peek} read. */
  decodeBody(data: Buffer, envelope: Envelope, key?: string): unknown {
    try {
      if (envelope.compression === 0 && envelope.bodyStart > 0 && this.codec.decodeAt !== undefined) {
        return this.codec.decodeAt(data, envelope.bodyStart);
      }
      let body = envelope.bodyStart === 0 ? data : data.subarray(envelope.bodyStart);
      if (envelope.compression === FLAG_GZIP) body = zlib().gunzipSync(body);
      else if (envelope.compression === FLAG_BROTLI) body = zlib().brotliDecompressSync(body);
      return this.codec.decode(body);
    } catch (err) {
      throw this.decodeError(err, key);
    }
  }

  private decodeError(err: unknown, key: string | undefined): SerializationError {
    // Parser messages can quote the payload, which may hold user data: only name the error kind.
    const why = err instanceof FrameError ? err.message : err instanceof Error ? err.name : "error";
    return new SerializationError(
      `Cannot decode the stored value${key === undefined ? "" : ` of key "${key}"`} with ${this.codec.name} (${why})`,
      "decode",
      key,
      err,
    );
  }

  decodeEntry(data: Buffer | Uint8Array | string, key?: string): DecodedEntry {
    const buffer = toBuffer(data);
    const envelope = this.peek(buffer, key);
    const value = this.decodeBody(buffer, envelope, key);
    return envelope.freshUntil === undefined ? { value } : { value, freshUntil: envelope.freshUntil };
  }

  decode(data: Buffer | Uint8Array | string, key?: string): unknown {
    return this.decodeEntry(data, key).value;
  }
}
