/**
 * The path and query of a `node:http` request target, as a WHATWG `URL` would give them, without
 * building a `URL` for the common targets. A target made only of characters the URL parser leaves as
 * they are (letters, digits, `-._~!$&()*+,;=:@/%` in the path, and `?` in the query) and without a
 * dot segment (`/./`, `/../`, `%2e`) is sliced by hand; every other target (absolute-form, dot
 * segments, spaces, non-ASCII, `\`, `#`, quotes, ...) goes through `new URL`, so both give the same
 * `pathname`, `search` and `searchParams`. `test/request-target.test.ts` compares them.
 */

/** What the handler core reads of a request's URL. */
export type RequestUrl = Pick<URL, "pathname" | "search" | "searchParams">;

/** A target sliced by hand; `searchParams` is parsed on first use only. */
class SimpleTarget implements RequestUrl {
  private params: URLSearchParams | undefined;

  constructor(
    readonly pathname: string,
    readonly search: string,
  ) {}

  get searchParams(): URLSearchParams {
    this.params ??= new URLSearchParams(this.search);
    return this.params;
  }
}

/**
 * 1 for the bytes a WHATWG URL keeps as they are in an http path: ALPHA DIGIT - . _ ~ ! $ & ( ) * +
 * , ; = : @ / %. Not `'` (percent-encoded in special queries), not `"<>\`{}^|[]#?\\` or space.
 */
const PATH_SAFE = new Uint8Array(128);
for (const c of "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-._~!$&()*+,;=:@/%") {
  PATH_SAFE[c.charCodeAt(0)] = 1;
}

const SLASH = 0x2f;
const DOT = 0x2e;
const PERCENT = 0x25;
const QUESTION = 0x3f;

/** True when `target[from, to)` has a segment the URL parser would rewrite (`.`, `..`, `%2e`...). */
function hasDotSegment(target: string, to: number): boolean {
  for (let i = 0; i < to; i++) {
    const code = target.charCodeAt(i);
    // A segment starting with "." (".", "..", ".x" is harmless but rare: send it the slow way).
    if (code === DOT && target.charCodeAt(i - 1) === SLASH) return true;
    // "%2e"/"%2E" anywhere: a percent-encoded dot may form a dot segment.
    if (code === PERCENT && target.charCodeAt(i + 1) === 0x32 && (target.charCodeAt(i + 2) | 0x20) === 0x65) {
      return true;
    }
  }
  return false;
}

/** The target sliced by hand, or undefined when it needs the URL parser. */
function simpleTarget(target: string): SimpleTarget | undefined {
  if (target.charCodeAt(0) !== SLASH) return undefined;
  const length = target.length;
  let query = -1;
  for (let i = 1; i < length; i++) {
    const code = target.charCodeAt(i);
    if (code === QUESTION && query < 0) {
      query = i;
      continue;
    }
    if (code >= 128 || PATH_SAFE[code] !== 1) {
      // `?` is fine in the query; anything else unusual: the URL parser decides.
      if (!(code === QUESTION && query >= 0)) return undefined;
    }
  }
  const pathEnd = query < 0 ? length : query;
  if (hasDotSegment(target, pathEnd)) return undefined;
  if (query < 0) return new SimpleTarget(target, "");
  // A lone "?" gives an empty search, as in a URL.
  return new SimpleTarget(target.slice(0, query), query === length - 1 ? "" : target.slice(query));
}

/**
 * The path and query of a request target (origin-form keeps its whole path, also `//x`;
 * absolute-form gives its path and query). Throws a `TypeError` for a target a URL cannot parse.
 */
export function requestUrl(target: string): RequestUrl {
  const simple = simpleTarget(target);
  if (simple !== undefined) return simple;
  if (target.startsWith("/")) return new URL(`http://gateway.local${target}`);
  // Absolute-form (`http://host/path?q`): path and query only.
  const parsed = new URL(target);
  return new URL(`http://gateway.local${parsed.pathname}${parsed.search}`);
}
