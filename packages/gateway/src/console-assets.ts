/**
 * The browser console's static files (packages/gateway/console): served at `/console/` with a strict
 * Content-Security-Policy. No build step; the files are read once and kept in memory.
 */
import { readFile } from "node:fs/promises";
import type { GatewayResponse } from "./handler-types.js";

const FILES: Readonly<Record<string, string>> = {
  "index.html": "text/html; charset=utf-8",
  "app.js": "text/javascript; charset=utf-8",
  "command-line.js": "text/javascript; charset=utf-8",
  "reply-format.js": "text/javascript; charset=utf-8",
  "console.css": "text/css; charset=utf-8",
};

/** Where the console files live: `<package>/console/`. */
export const CONSOLE_DIR = new URL("../console/", import.meta.url);

const SECURITY_HEADERS: Readonly<Record<string, string>> = {
  "content-security-policy":
    "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; img-src 'self' data:; base-uri 'none'; form-action 'none'; frame-ancestors 'none'",
  "x-content-type-options": "nosniff",
  "referrer-policy": "no-referrer",
  "x-frame-options": "DENY",
  "cache-control": "no-cache",
};

const cache = new Map<string, Buffer>();

/**
 * The response for `/console` + `file`: `""` redirects to `console/` so relative links work,
 * `"/"` or `"index.html"` is the page, other known files as they are, anything else 404.
 * The body of a file is the cached buffer itself: adapters must not change it.
 */
export async function consoleResponse(
  file: string,
  pathname: string,
  head: boolean,
): Promise<GatewayResponse> {
  if (pathname.endsWith("/console")) {
    return { status: 308, headers: { location: "console/", ...SECURITY_HEADERS }, body: null };
  }
  const name = file === "" ? "index.html" : file;
  const type = FILES[name];
  if (!type) {
    return {
      status: 404,
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ error: "ERR no such console file" }),
    };
  }
  let body = cache.get(name);
  if (!body) {
    body = await readFile(new URL(name, CONSOLE_DIR));
    cache.set(name, body);
  }
  return { status: 200, headers: { "content-type": type, ...SECURITY_HEADERS }, body: head ? null : body };
}
