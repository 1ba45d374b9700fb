import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { describe, it } from "node:test";
import {
  buildScriptLibrary,
  defineServerScript,
  SCRIPT_LIBRARY_NAME,
  SCRIPT_LIBRARY_VERSION,
  SERVER_SCRIPTS,
  scriptFunctionName,
  scriptLibrary,
} from "../src/server-scripts/index.js";

describe("server script library", () => {
  it("names the library and its functions after a hash of the code", () => {
    const lib = scriptLibrary();
    assert.match(lib.name, /^cacheplane_[0-9a-f]{10}$/);
    assert.ok(lib.code.startsWith(`#!lua name=${lib.name}\n`));
    for (const script of SERVER_SCRIPTS) {
      const fn = lib.functionName(script);
      assert.equal(fn, `cp_${lib.version}_${script.name}`);
      assert.ok(lib.code.includes(`function_name='${fn}'`));
    }
  });

  it("the written-out library version is the one computed from the scripts (update it when a script changes)", () => {
    const lib = scriptLibrary();
    assert.equal(
      SCRIPT_LIBRARY_VERSION,
      lib.version,
      `set SCRIPT_LIBRARY_VERSION in src/server-scripts/library-version.ts to "${lib.version}"`,
    );
    assert.equal(SCRIPT_LIBRARY_NAME, lib.name);
    for (const script of SERVER_SCRIPTS) assert.equal(scriptFunctionName(script), lib.functionName(script));
  });

  it("gets a new version when any script body changes, and the same one when nothing does", () => {
    const a = defineServerScript("a", "return 1");
    const b = defineServerScript("b", "return redis.call('GET', KEYS[1])", { readOnly: true });
    const one = buildScriptLibrary([a, b]);
    assert.equal(buildScriptLibrary([a, b]).version, one.version);
    const changed = buildScriptLibrary([a, defineServerScript("b", "return 2", { readOnly: true })]);
    assert.notEqual(changed.version, one.version);
    assert.match(one.code, /function_name='cp_[0-9a-f]{10}_b', callback=b, flags=\{'no-writes'\}/);
  });

  it("gives each script the SHA-1 of its Lua (what EVALSHA takes), the same on every read", () => {
    for (const script of SERVER_SCRIPTS) {
      const expected = createHash("sha1").update(script.lua).digest("hex");
      assert.equal(script.sha, expected);
      assert.equal(script.sha, expected);
    }
    assert.ok(Object.isFrozen(SERVER_SCRIPTS[0]));
  });

  it("refuses duplicate and non-alphanumeric names", () => {
    const a = defineServerScript("a", "return 1");
    assert.throws(() => buildScriptLibrary([a, a]), /defined twice/);
    assert.throws(() => defineServerScript("bad-name", "return 1"), /letters and digits/);
  });
});
