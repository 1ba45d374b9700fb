// The console's redis-cli-like argument splitting and reply rendering (plain browser modules).
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { splitArgs } from "../console/command-line.js";
import { decodeBase64Reply, formatReply, quoteBytes } from "../console/reply-format.js";

const args = (line: string) => {
  const r = splitArgs(line);
  if (!r.ok) throw new Error(r.error);
  return r.args;
};

describe("splitArgs (like redis-cli's sdssplitargs)", () => {
  test("words, double and single quotes, escapes", () => {
    assert.deepEqual(args("  SET  key   value "), ["SET", "key", "value"]);
    assert.deepEqual(args('SET k "hello world"'), ["SET", "k", "hello world"]);
    assert.deepEqual(args("SET k 'it\\'s here'"), ["SET", "k", "it's here"]);
    assert.deepEqual(args('SET k "a\\"b\\\\c\\nd\\te"'), ["SET", "k", 'a"b\\c\nd\te']);
    assert.deepEqual(args("SET k 'no \\n escapes'"), ["SET", "k", "no \\n escapes"]);
    assert.deepEqual(args('SET k "\\xe2\\x82\\xac"'), ["SET", "k", "€"]);
    assert.deepEqual(args('SET k "\\x41\\x42"'), ["SET", "k", "AB"]);
    assert.deepEqual(args('SET k ""'), ["SET", "k", ""]);
    assert.deepEqual(args('SET k pre"quoted part"'), ["SET", "k", "prequoted part"]);
    assert.deepEqual(args("GET ключ"), ["GET", "ключ"]);
    assert.deepEqual(args(""), []);
  });

  test("errors like redis-cli's 'Invalid argument(s)'", () => {
    for (const bad of ['SET k "open', "SET k 'open", 'SET k "a"b', "SET k 'a'b"]) {
      const r = splitArgs(bad);
      assert.equal(r.ok, false, bad);
      if (!r.ok) assert.match(r.error, /^Invalid argument\(s\)/);
    }
  });
});

describe("formatReply (like redis-cli on a terminal)", () => {
  const text = (reply: Parameters<typeof formatReply>[0], command?: string) =>
    formatReply(reply, command).map((l) => l.text);

  test("scalars", () => {
    assert.deepEqual(text(null), ["(nil)"]);
    assert.deepEqual(text(3), ["(integer) 3"]);
    assert.deepEqual(text("hello"), ['"hello"']);
    assert.deepEqual(text("OK"), ["OK"]);
    assert.deepEqual(text("PONG"), ["PONG"]);
    assert.deepEqual(text("string", "type"), ["string"]);
    assert.deepEqual(text("string", "get"), ['"string"']);
    assert.deepEqual(text(new Uint8Array([0, 255, 10, 34])), ['"\\x00\\xff\\n\\""']);
    assert.equal(quoteBytes("€"), '"\\xe2\\x82\\xac"');
    assert.deepEqual(formatReply({ error: "ERR boom" }), [{ text: "(error) ERR boom", error: true }]);
  });

  test("arrays: numbered, nested, aligned, empty", () => {
    assert.deepEqual(text([]), ["(empty array)"]);
    assert.deepEqual(text(["a", null, 1]), ['1) "a"', "2) (nil)", "3) (integer) 1"]);
    assert.deepEqual(text([1, [2, 3], []]), [
      "1) (integer) 1",
      "2) 1) (integer) 2",
      "   2) (integer) 3",
      "3) (empty array)",
    ]);
    const ten = text(Array.from({ length: 10 }, (_, i) => i));
    assert.equal(ten[0], " 1) (integer) 0");
    assert.equal(ten[9], "10) (integer) 9");
    assert.deepEqual(
      formatReply(["OK", { error: "WRONGTYPE x" }], "exec").map((l) => [l.text, l.error]),
      [
        ["1) OK", false],
        ["2) (error) WRONGTYPE x", true],
      ],
    );
  });

  test("base64 replies decode to bytes; a top-level OK stays OK", () => {
    assert.deepEqual(text(decodeBase64Reply("OK")), ["OK"]);
    assert.deepEqual(text(decodeBase64Reply("YmFy")), ['"bar"']);
    assert.deepEqual(text(decodeBase64Reply(["T0s=", 5, null])), ["1) OK", "2) (integer) 5", "3) (nil)"]);
  });
});
