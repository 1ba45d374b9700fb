// Unit tests of the pure parts: routing, path decoding, JSON command parsing, reply encoding,
// script shebang adaptation, ACL rule reading and the command policy (with the static table).
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { describe, test } from "node:test";
import { grantsCommand } from "../src/acl-rules.js";
import { checkCommand, type PolicyContext } from "../src/command-policy.js";
import { CommandTable } from "../src/command-table.js";
import { createGateway, gatewayHandler } from "../src/gateway.js";
import { replyToJson, replyToValue } from "../src/reply-encoding.js";
import {
  decodePathSegment,
  parseJsonCommand,
  parseJsonCommands,
  pathCommand,
  routeOf,
} from "../src/request-parsing.js";
import { adaptScript, ScriptCompat } from "../src/script-compat.js";

describe("routing and parsing", () => {
  test("routes", () => {
    assert.deepEqual(routeOf("/"), { type: "command" });
    assert.deepEqual(routeOf("/pipeline"), { type: "pipeline" });
    assert.deepEqual(routeOf("/multi-exec"), { type: "multi-exec" });
    assert.deepEqual(routeOf("/subscribe/a:chat"), { type: "subscribe", kind: "channel", names: ["a:chat"] });
    assert.deepEqual(routeOf("/psubscribe/a:%2A"), { type: "subscribe", kind: "pattern", names: ["a:*"] });
    assert.deepEqual(routeOf("/console/app.js"), { type: "console", file: "app.js" });
    assert.deepEqual(routeOf("/get/k"), { type: "path-command", segments: ["get", "k"] });
  });

  test("path segments decode to bytes", () => {
    assert.deepEqual(decodePathSegment("a%20b"), Buffer.from("a b"));
    assert.deepEqual(decodePathSegment("%ff%00"), Buffer.from([0xff, 0x00]));
    assert.deepEqual(decodePathSegment("%zz%"), Buffer.from("%zz%"));
    assert.deepEqual(decodePathSegment("%E2%82%AC"), Buffer.from("€"));
    const args = pathCommand(["set", "k"], Buffer.from("v"), new URLSearchParams("EX=10&NX&_token=t"));
    assert.deepEqual(
      args.map((a) => a.toString()),
      ["set", "k", "v", "EX", "10", "NX"],
    );
    assert.throws(() => pathCommand([""], undefined, new URLSearchParams()), /no command/);
    assert.throws(() => pathCommand([], undefined, undefined), /no command/);
  });

  test("path arguments: plain segments stay strings (ASCII), escaped ones become bytes", () => {
    const args = pathCommand(["%73et", "k:1", "a%00b", "%"], undefined, undefined);
    assert.deepEqual(args, ["set", "k:1", Buffer.from([0x61, 0x00, 0x62]), Buffer.from("%")]);
    // What a URL leaves unescaped in a path is ASCII: the string is exactly the bytes.
    const pathname = new URL("http://x/get/€ é/ü").pathname;
    assert.ok(pathname.split("/").every((segment) => /^[\x21-\x7e]*$/.test(segment)));
    const decoded = pathCommand(pathname.slice(1).split("/"), undefined, undefined);
    assert.deepEqual(
      decoded.map((a) => Buffer.from(a).toString("utf8")),
      ["get", "€ é", "ü"],
    );
  });

  test("JSON commands", () => {
    assert.deepEqual(parseJsonCommand(Buffer.from('["SET","k",1,-0,2.5,true,false]')), [
      "SET",
      "k",
      "1",
      "0",
      "2.5",
      "true",
      "false",
    ]);
    assert.throws(() => parseJsonCommand(Buffer.from("[1]")), /command name/);
    assert.throws(() => parseJsonCommand(Buffer.from('["SET", 1e400]')), /finite/);
    assert.throws(
      () => parseJsonCommands(Buffer.from('[["PING"],["PING"],["PING"]]'), 2),
      /too many commands/,
    );
    assert.throws(() => parseJsonCommand(Buffer.from("[".repeat(100_000))), /not valid JSON/);
    assert.throws(() => parseJsonCommand(Buffer.from('["SET","k",null]')), {
      message: "ERR command[2]: arguments must be strings or numbers, got null",
    });
    assert.throws(() => parseJsonCommands(Buffer.from('[["PING"],["SET","k",[1]]]'), 5), {
      message: "ERR command 2[2]: arguments must be strings or numbers, got array",
    });
    assert.throws(() => parseJsonCommands(Buffer.from('[["PING"],{}]'), 5), {
      message: 'ERR command 2 must be a JSON array such as ["SET", "key", "value"], got object',
    });
  });
});

describe("reply encoding", () => {
  test("UTF-8 and base64, OK exemption only at the top level, exact integers", () => {
    const ok = Buffer.from("OK");
    assert.equal(replyToJson(ok, "base64"), '"OK"');
    assert.equal(replyToJson([ok], "base64"), '["T0s="]');
    assert.equal(replyToJson(Buffer.from("bar"), "base64"), '"YmFy"');
    assert.equal(replyToJson(Buffer.from([0xff]), "utf8"), '"\uFFFD"');
    assert.equal(replyToJson("12345678901234567890", "base64"), "12345678901234567890");
    assert.equal(replyToJson(null, "utf8"), "null");
    assert.equal(
      replyToJson([Buffer.from("a"), null, ["1", [Buffer.from("b")]]], "utf8"),
      '["a",null,[1,["b"]]]',
    );
    assert.deepEqual(replyToValue(["1", "99999999999999999999", Buffer.from("x")]), [
      1,
      "99999999999999999999",
      "x",
    ]);
  });
});

describe("script compatibility", () => {
  test("unknown shebang flags are removed and EVALSHA follows", () => {
    const script = Buffer.from("#!lua flags=allow-key-locking,no-writes\nreturn 1");
    assert.equal(adaptScript(script)?.toString(), "#!lua flags=no-writes\nreturn 1");
    assert.equal(
      adaptScript(Buffer.from("#!lua flags=allow-key-locking\nreturn 1"))?.toString(),
      "#!lua\nreturn 1",
    );
    assert.equal(adaptScript(Buffer.from("#!lua flags=no-writes\nreturn 1")), undefined);
    assert.equal(adaptScript(Buffer.from("return 1")), undefined);
    const compat = new ScriptCompat();
    const original = "#!lua flags=allow-key-locking\nreturn 2";
    const evalArgs = compat.adapt(["EVAL", original, "0"]);
    assert.equal(evalArgs[1]?.toString(), "#!lua\nreturn 2");
    const sha = createHash("sha1").update(original).digest("hex");
    const mapped = compat.adapt(["EVALSHA", sha, "0"]);
    assert.equal(mapped[1], createHash("sha1").update("#!lua\nreturn 2").digest("hex"));
    assert.deepEqual(compat.adapt(["EVALSHA", "f".repeat(40), "0"]), ["EVALSHA", "f".repeat(40), "0"]);
  });
});

describe("ACL rules", () => {
  test("grantsCommand reads rules left to right", () => {
    const cats = ["@slow", "@scripting"];
    assert.equal(grantsCommand("on ~a:* -@all +@read +eval", "eval", cats), true);
    assert.equal(grantsCommand("on ~a:* -@all +@read +eval -eval", "eval", cats), false);
    assert.equal(grantsCommand("on +@all -@scripting", "evalsha", cats), false);
    assert.equal(grantsCommand("on -@all +@scripting", "evalsha", cats), true);
    assert.equal(grantsCommand("on -@all +script|load", "script|load", cats), true);
    assert.equal(grantsCommand("on -@all +script", "script|load", cats), true);
    assert.equal(grantsCommand("on allcommands nocommands", "eval", cats), false);
  });
});

describe("command policy with the static fallback table", () => {
  const table = CommandTable.fallback();
  const service = {
    keyspace: "a",
    sharedKeyspaces: ["common"],
    accessString: "on -@all +@read +@write +eval",
  };
  const rw: PolicyContext = { service, kind: "read-write", table };
  const ro: PolicyContext = { service, kind: "read-only", table };
  const verdict = (args: string[], ctx: PolicyContext) => checkCommand(args, ctx)?.status;

  test("read-write", () => {
    assert.equal(verdict(["GET", "a:k"], rw), undefined);
    assert.equal(verdict(["set", "a:k", "v"], rw), undefined);
    assert.equal(verdict(["EVAL", "return 1", "0"], rw), undefined);
    assert.equal(verdict(["EVALSHA", "x", "0"], rw), 403); // access string grants eval only
    assert.equal(verdict(["OBJECT", "ENCODING", "a:k"], rw), undefined);
    assert.equal(verdict(["OBJECT", "HELP"], rw), 403);
    // SCAN is never allowed: ACL key patterns do not filter it (it would list every service's keys).
    assert.equal(verdict(["SCAN", "0", "MATCH", "common:*"], rw), 403);
    assert.equal(verdict(["SCAN", "0", "MATCH", "a*"], rw), 403);
    for (const args of [
      ["DBSIZE"],
      ["PUBSUB", "CHANNELS"],
      ["CLIENT", "TRACKING", "ON"],
      ["SCRIPT", "EXISTS", "x"],
    ])
      assert.equal(verdict(args, rw), 403, args.join(" "));
    assert.equal(verdict(["FCALL", "f", "0"], rw), undefined, "the platform's functions");
    assert.equal(verdict(["XREADGROUP", "GROUP", "g", "c", "STREAMS", "a:s", ">"], rw), undefined);
    assert.equal(verdict(["XREADGROUP", "GROUP", "g", "c", "BLOCK", "0", "STREAMS", "a:s", ">"], rw), 403);
    for (const c of [
      "FLUSHALL",
      "KEYS",
      "CONFIG",
      "BLPOP",
      "MONITOR",
      "SUBSCRIBE",
      "SELECT",
      "CLIENT",
      "DEBUG",
      "SORT",
    ]) {
      assert.equal(verdict([c, "x"], rw), 403, c);
    }
    assert.equal(
      verdict(["NEWCOMMAND", "a:k"], rw),
      undefined,
      "the fallback table passes unknown commands to the ACL",
    );
    assert.equal(verdict(["bad name"], rw), 400);
    assert.equal(verdict([""], rw), 400);
  });

  test("read-only", () => {
    assert.equal(verdict(["GET", "a:k"], ro), undefined);
    assert.equal(verdict(["PING"], ro), undefined);
    assert.equal(verdict(["SET", "a:k", "v"], ro), 403);
    assert.equal(verdict(["EVAL", "return 1", "0"], ro), 403);
    assert.equal(verdict(["EVAL_RO", "return 1", "0"], ro), 403); // read-only tokens run no scripts
    assert.equal(verdict(["FCALL_RO", "f", "0"], ro), 403); // nor functions
    const scripted: PolicyContext = { service: { ...service, scripting: true }, kind: "read-only", table };
    assert.equal(verdict(["EVAL_RO", "return 1", "0"], scripted), 403, "not even with scripting: true");
    assert.equal(verdict(["NEWCOMMAND", "a:k"], ro), 403);
  });

  test("scripting: the config's flag decides (with a clear 403), else the access string", () => {
    const plain: PolicyContext = {
      service: { keyspace: "p", sharedKeyspaces: [], name: "plain", scripting: false },
      kind: "read-write",
      table,
    };
    const error = checkCommand(["EVAL", "return 1", "0"], plain);
    assert.equal(error?.status, 403);
    assert.match(error!.message, /service "plain" may not run its own scripts .*set scripting: true/);
    const trusted: PolicyContext = { ...plain, service: { ...plain.service, scripting: true } };
    for (const c of ["EVAL", "EVALSHA", "EVAL_RO", "EVALSHA_RO"])
      assert.equal(verdict([c, "x", "0"], trusted), undefined, c);
    assert.equal(verdict(["SCRIPT", "LOAD", "return 1"], trusted), undefined);
    assert.equal(verdict(["SCRIPT", "FLUSH"], trusted), 403);
    assert.equal(verdict(["SCRIPT", "KILL"], trusted), 403);
  });

  test("remembered verdicts never outlive what they depend on", () => {
    // A table of its own: nothing remembered from the other tests.
    const fresh = CommandTable.fallback();
    const on = (
      kind: PolicyContext["kind"],
      extra: Partial<PolicyContext["service"]> = {},
    ): PolicyContext => ({
      service: { ...service, ...extra },
      kind,
      table: fresh,
    });
    for (let i = 0; i < 3; i++) {
      // The token's kind: SET allowed for read-write, and still refused for read-only.
      assert.equal(verdict(["SET", "a:k", "v"], on("read-write")), undefined);
      assert.equal(verdict(["SET", "a:k", "v"], on("read-only")), 403);
      // Arguments: a stream read without BLOCK, then with it.
      assert.equal(verdict(["XREAD", "STREAMS", "a:s", "0"], on("read-write")), undefined);
      assert.equal(verdict(["XREAD", "BLOCK", "0", "STREAMS", "a:s", "0"], on("read-write")), 403);
      assert.equal(verdict(["COPY", "a:x", "a:y"], on("read-write")), undefined);
      assert.equal(verdict(["COPY", "a:x", "a:y", "DB", "1"], on("read-write")), 403);
      // Subcommands: SCRIPT LOAD of a scripting service, then SCRIPT FLUSH.
      assert.equal(verdict(["SCRIPT", "LOAD", "return 1"], on("read-write", { scripting: true })), undefined);
      assert.equal(verdict(["SCRIPT", "FLUSH"], on("read-write", { scripting: true })), 403);
      // The service: EVAL of a scripting service, then of one without scripting.
      assert.equal(verdict(["EVAL", "return 1", "0"], on("read-write", { scripting: true })), undefined);
      assert.equal(verdict(["EVAL", "return 1", "0"], on("read-write", { scripting: false })), 403);
    }
  });

  test("denials never echo unknown subcommands", () => {
    const error = checkCommand(["OBJECT", "secret-looking-argument", "a:k"], rw);
    assert.equal(error?.status, 403);
    assert.ok(!error?.message.includes("secret-looking-argument"));
  });
});

describe("default logger", () => {
  test("gets 5xx errors only; nothing is built for the other requests", async () => {
    const secret = {
      host: "127.0.0.1",
      port: 1,
      username: "u",
      password: "p".repeat(20),
      keyspace: "a",
      tls: false,
    };
    const gateway = createGateway({
      services: [{ name: "a", keyspace: "a", sharedKeyspaces: [], secret }],
      tokens: { records: [] },
    });
    const handler = gatewayHandler(gateway)!;
    const printed: unknown[] = [];
    const original = console.error;
    console.error = (...args: unknown[]) => {
      printed.push(args);
    };
    try {
      const request = (header: (name: string) => string | null) => ({
        method: "GET",
        url: new URL("http://x/get/a:k"),
        header,
        body: () => Buffer.alloc(0),
      });
      assert.equal((await handler(request(() => null))).status, 401);
      assert.equal((await gateway.fetch(new Request("http://x/nope", { method: "DELETE" }))).status, 405);
      assert.equal(printed.length, 0);
      const failed = await handler(
        request((name) => {
          if (name === "authorization") throw new Error("header read failed");
          return null;
        }),
      );
      assert.equal(failed.status, 500);
      assert.equal(printed.length, 1);
      assert.match(String((printed[0] as unknown[])[0]), /"level":"error".*header read failed/);
    } finally {
      console.error = original;
      await gateway.close();
    }
  });
});
