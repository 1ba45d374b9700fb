/**
 * The client's main entry loads Node's built-ins through node-builtins.ts (no ES module facades at
 * import, zlib only when a value is compressed): both loaders give the real modules, and the entry's
 * modules keep no static import of a built-in (a new one would bring the facade cost back).
 */
import assert from "node:assert/strict";
import { readdirSync, readFileSync, statSync } from "node:fs";
import { join } from "node:path";
import { afterEach, describe, it } from "node:test";
import * as zlib from "node:zlib";
import { builtin, builtinLoader, resetBuiltinLoader } from "../src/node-builtins.js";

const original = builtinLoader.get;

describe("node-builtins", () => {
  afterEach(() => {
    builtinLoader.get = original;
    resetBuiltinLoader();
  });

  it("gives the built-in module through process.getBuiltinModule", () => {
    let asked: string | undefined;
    builtinLoader.get = () => (id: string) => {
      asked = id;
      return process.getBuiltinModule(id);
    };
    assert.equal(builtin<typeof import("node:zlib")>("node:zlib").gzipSync, zlib.gzipSync);
    assert.equal(asked, "node:zlib");
  });

  it("falls back to require where process.getBuiltinModule is missing (Node < 20.16)", () => {
    builtinLoader.get = () => undefined;
    assert.equal(builtin<typeof import("node:zlib")>("node:zlib").gzipSync, zlib.gzipSync);
  });

  it("the modules of the main entry import no built-in statically (types and node:module aside)", () => {
    const src = new URL("../src/", import.meta.url).pathname;
    // Entry points outside the main bundle may import built-ins as they like.
    const outside = ["local-tier/", "local.ts", "patterns/", "sessions.ts", "pubsub.ts"];
    const offenders: string[] = [];
    const walk = (dir: string) => {
      for (const name of readdirSync(dir)) {
        const path = join(dir, name);
        if (statSync(path).isDirectory()) walk(path);
        else if (name.endsWith(".ts")) {
          const rel = path.slice(src.length);
          if (outside.some((o) => rel.startsWith(o))) continue;
          const text = readFileSync(path, "utf8");
          for (const m of text.matchAll(/^import\s+(type\s+)?[^;]*?from\s+"(node:[^"]+)";/gms)) {
            if (!m[1] && m[2] !== "node:module") offenders.push(`${rel}: ${m[2]}`);
          }
        }
      }
    };
    walk(src);
    assert.deepEqual(offenders, []);
  });
});
