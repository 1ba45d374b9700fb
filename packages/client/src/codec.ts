/**
 * Value serialization: a pluggable {@link Codec} (tagged JSON by default) plus an optional framing
 * header for compression and stale-while-revalidate freshness. Plain values carry no header, so a
 * JSON value is stored as readable JSON text; framed values start with the byte 0xC1, which never
 * starts UTF-8 text and is unused by MessagePack, so framed and plain payloads coexist.
 */
import { brotliCompressSync, brotliDecompressSync, constants, gunzipSync, gzipSync } from "node:zlib";
import { SerializationError } from "./errors.js";

/** Turns values into bytes and back. `decode` must throw on data it cannot read. */
export interface Codec {
  readonly name: string;
  encode(value: unknown): string | Uint8Array;
  decode(data: Buffer): unknown;
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
const FLAG_GZIP = 0x01;
const FLAG_BROTLI = 0x02;
const FLAG_FRESH_UNTIL = 0x04;
const KNOWN_FLAGS = FLAG_GZIP | FLAG_BROTLI | FLAG_FRESH_UNTIL;

class FrameError extends Error {}

export interface DecodedEntry {
  value: unknown;
  /** Epoch ms until which the value is fresh (stale-while-revalidate entries only). */
  freshUntil?: number;
}

/** Codec + optional compression + optional freshness header. Errors become {@link SerializationError}. */
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

  encode(value: unknown, key?: string, freshUntil?: number): Buffer {
    const payload = this.encodePayload(value, key, freshUntil);
    return typeof payload === "string" ? Buffer.from(payload, "utf8") : payload;
  }

  /**
   * Like {@link encode}, but a codec's text output that needs no framing (no compression, no
   * freshness header) is returned as the string itself: the same bytes once UTF-8 encoded, without
   * a copy. Stores with `setText` (Redis) send it as is, which ioredis writes faster than a Buffer.
   * UTF-8 text never starts with the marker byte 0xC1, so unframed text cannot be misread.
   */
  encodePayload(value: unknown, key?: string, freshUntil?: number): Buffer | string {
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
      if (freshUntil === undefined && !this.compresses(encoded)) return encoded;
      return this.frame(Buffer.from(encoded, "utf8"), freshUntil);
    }
    return this.frame(Buffer.from(encoded.buffer, encoded.byteOffset, encoded.byteLength), freshUntil);
  }

  /** Whether text of this length reaches the compression threshold (byte length is at most 3 × length). */
  private compresses(text: string): boolean {
    const c = this.compression;
    if (c === undefined || text.length * 3 < c.threshold) return false;
    return Buffer.byteLength(text, "utf8") >= c.threshold;
  }

  private frame(input: Buffer, freshUntil: number | undefined): Buffer {
    let body = input;
    let flags = 0;
    if (this.compression && body.length >= this.compression.threshold) {
      if (this.compression.algorithm === "gzip") {
        body = gzipSync(body);
        flags |= FLAG_GZIP;
      } else {
        body = brotliCompressSync(body, {
          params: {
            [constants.BROTLI_PARAM_QUALITY]: 5,
            [constants.BROTLI_PARAM_SIZE_HINT]: body.length,
          },
        });
        flags |= FLAG_BROTLI;
      }
    }
    if (freshUntil !== undefined) flags |= FLAG_FRESH_UNTIL;
    if (flags === 0) {
      if (body[0] === FRAME_MARKER) {
        // A custom codec produced output starting with the marker: frame it so it is not misread.
        return Buffer.concat([Buffer.from([FRAME_MARKER, 0]), body]);
      }
      return body;
    }
    const header = Buffer.alloc(freshUntil === undefined ? 2 : 10);
    header[0] = FRAME_MARKER;
    header[1] = flags;
    if (freshUntil !== undefined) header.writeDoubleBE(freshUntil, 2);
    return Buffer.concat([header, body]);
  }

  decodeEntry(data: Buffer | Uint8Array | string, key?: string): DecodedEntry {
    const buffer =
      typeof data === "string"
        ? Buffer.from(data, "utf8")
        : Buffer.isBuffer(data)
          ? data
          : Buffer.from(data.buffer, data.byteOffset, data.byteLength);
    try {
      if (buffer[0] !== FRAME_MARKER) return { value: this.codec.decode(buffer) };
      const flags = buffer[1];
      if (flags === undefined || (flags & ~KNOWN_FLAGS) !== 0 || (flags & FLAG_GZIP && flags & FLAG_BROTLI)) {
        throw new FrameError("unknown frame header");
      }
      let offset = 2;
      let freshUntil: number | undefined;
      if (flags & FLAG_FRESH_UNTIL) {
        if (buffer.length < 10) throw new FrameError("truncated frame header");
        freshUntil = buffer.readDoubleBE(2);
        offset = 10;
      }
      let body = buffer.subarray(offset);
      if (flags & FLAG_GZIP) body = gunzipSync(body);
      else if (flags & FLAG_BROTLI) body = brotliDecompressSync(body);
      const value = this.codec.decode(body);
      return freshUntil === undefined ? { value } : { value, freshUntil };
    } catch (err) {
      // Parser messages can quote the payload, which may hold user data: only name the error kind.
      const why = err instanceof FrameError ? err.message : err instanceof Error ? err.name : "error";
      throw new SerializationError(
        `Cannot decode the stored value${key === undefined ? "" : ` of key "${key}"`} with ${this.codec.name} (${why})`,
        "decode",
        key,
        err,
      );
    }
  }

  decode(data: Buffer | Uint8Array | string, key?: string): unknown {
    return this.decodeEntry(data, key).value;
  }
}
