// The Node adapter slices common request targets by hand instead of building a URL: for every
// target, what it gives must be exactly what a WHATWG URL gives (path, search, query parameters).
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { requestUrl } from "../src/request-target.js";

function viaUrl(target: string): { pathname: string; search: string; params: [string, string][] } {
  const url = target.startsWith("/")
    ? new URL(`http://gateway.local${target}`)
    : new URL(`http://gateway.local${new URL(target).pathname}${new URL(target).search}`);
  return { pathname: url.pathname, search: url.search, params: [...url.searchParams] };
}

function sliced(target: string): { pathname: string; search: string; params: [string, string][] } {
  const url = requestUrl(target);
  return { pathname: url.pathname, search: url.search, params: [...url.searchParams] };
}

const TARGETS = [
  "/",
  "/get/bench:k",
  "/set/orders:1/value?EX=100&NX",
  "/get/a%20b",
  "/get/%FF%00",
  "/get/a/./b",
  "/get/a/../b",
  "/get/%2e%2E/x",
  "/get/.%2e/x",
  "/get/.hidden",
  "//double//slash",
  "/get/a?",
  "/get/a??b",
  "/get/a?x=1&_token=t",
  "/get/a?x='y'",
  "/get/a b",
  "/get/a#frag",
  "/get/a?x#frag",
  "/get/a\\b",
  "/get/ä",
  "/get/{x}",
  "/get/a|b^c[d]`",
  '/get/"q"',
  "/get/a<b>",
  "/get/a%",
  "/get/a%2",
  "/get/a%zz",
  "/pipeline",
  "/console/",
  "/get/k?a=%20&b=+&c",
  "/get/~!$&()*+,;=:@",
  "/get/a\tb",
  "http://example.com/get/a?x=1",
  "http://example.com",
];

describe("requestUrl", () => {
  test("gives what a URL gives for targets of every kind", () => {
    for (const target of TARGETS) {
      assert.deepEqual(sliced(target), viaUrl(target), target);
    }
  });

  test("gives what a URL gives for random targets", () => {
    const alphabet = "aZ09-._~!$&'()*+,;=:@/%?#\\ \"<>`{}|^[]\t\u00e4\u20ac2eE.";
    let seed = 42;
    const random = () => {
      seed = (seed * 1103515245 + 12345) % 2 ** 31;
      return seed / 2 ** 31;
    };
    for (let n = 0; n < 20_000; n++) {
      let target = "/";
      const length = Math.floor(random() * 16);
      for (let i = 0; i < length; i++) target += alphabet[Math.floor(random() * alphabet.length)];
      assert.deepEqual(sliced(target), viaUrl(target), JSON.stringify(target));
    }
  });

  test("a target no URL can parse throws", () => {
    assert.throws(() => requestUrl("http://[bad"), TypeError);
    assert.throws(() => requestUrl("*"), TypeError);
  });
});
