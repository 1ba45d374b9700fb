/**
 * The operator page's static files: the page itself (`<package>/operator/`, no build step) and the
 * chart library, uPlot. uPlot comes from its npm package: the build (`scripts/build-packages.ts`)
 * copies the files below into `<package>/operator/vendor/`, so they ship in the gateway's tarball;
 * running from source they are read from the installed `uplot` package. Read once and kept in memory;
 * served with a strict Content-Security-Policy (scripts and styles from this origin only, no inline
 * code, no eval).
 */
import { readFile } from "node:fs/promises";
import { createRequire } from "node:module";
import type { GatewayResponse } from "../handler-types.js";

/** Where the page's own files live: `<package>/operator/`. */
export const OPERATOR_DIR = new URL("../../operator/", import.meta.url);

/** uPlot's files the page loads: served at `/operator/vendor/<name>`, copied from `from` by the build. */
export const VENDOR_FILES: readonly { name: string; from: string }[] = [
  { name: "uPlot.iife.min.js", from: "uplot/dist/uPlot.iife.min.js" },
  { name: "uPlot.min.css", from: "uplot/dist/uPlot.min.css" },
  { name: "uPlot.LICENSE", from: "uplot/LICENSE" },
];

const JS = "text/javascript; charset=utf-8";
const CSS = "text/css; charset=utf-8";

/** Running the TypeScript sources (the repository), not a build: vendor files come from node_modules. */
const FROM_SOURCE = import.meta.url.endsWith(".ts");

function vendorFile(name: string): URL | string {
  const file = VENDOR_FILES.find((f) => f.name === name)!;
  return FROM_SOURCE
    ? createRequire(import.meta.url).resolve(file.from)
    : new URL(`vendor/${name}`, OPERATOR_DIR);
}

/** URL path under `/operator/` -> content type and where the file is. */
const FILES: Readonly<Record<string, { type: string; source: () => URL | string }>> = {
  "index.html": { type: "text/html; charset=utf-8", source: () => new URL("index.html", OPERATOR_DIR) },
  "operator.js": { type: JS, source: () => new URL("operator.js", OPERATOR_DIR) },
  "charts.js": { type: JS, source: () => new URL("charts.js", OPERATOR_DIR) },
  "format.js": { type: JS, source: () => new URL("format.js", OPERATOR_DIR) },
  "operator.css": { type: CSS, source: () => new URL("operator.css", OPERATOR_DIR) },
  "vendor/uPlot.iife.min.js": { type: JS, source: () => vendorFile("uPlot.iife.min.js") },
  "vendor/uPlot.min.css": { type: CSS, source: () => vendorFile("uPlot.min.css") },
  "vendor/uPlot.LICENSE": { type: "text/plain; charset=utf-8", source: () => vendorFile("uPlot.LICENSE") },
};

/** Headers of every operator page answer (the JSON API adds `no-store`). */
export const OPERATOR_SECURITY_HEADERS: Readonly<Record<string, string>> = {
  "content-security-policy":
    "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; img-src 'self' data:; base-uri 'none'; form-action 'none'; frame-ancestors 'none'",
  "x-content-type-options": "nosniff",
  "referrer-policy": "no-referrer",
  "x-frame-options": "DENY",
};

const cache = new Map<string, Buffer>();

/** The static file `name` (`""` is the page), or undefined when there is no such file. */
export async function operatorAsset(name: string, head: boolean): Promise<GatewayResponse | undefined> {
  const file = FILES[name === "" ? "index.html" : name];
  if (!file) return undefined;
  let body = cache.get(name);
  if (!body) {
    body = await readFile(file.source());
    cache.set(name, body);
  }
  return {
    status: 200,
    headers: { "content-type": file.type, "cache-control": "no-cache", ...OPERATOR_SECURITY_HEADERS },
    body: head ? null : body,
  };
}
