import assert from "node:assert/strict";
import { describe, it } from "node:test";
import {
  ConfigError,
  defineConfig,
  findService,
  type PlatformConfigInput,
  parseConfig,
} from "../src/index.js";

const base = defineConfig({
  stage: "dev",
  region: "eu-west-1",
  services: [
    { name: "orders-api", keyspace: "orders", access: "read-write", sharedKeyspaces: ["common"] },
    { name: "catalog", access: "read-only" },
  ],
});

function problems(input: unknown): string[] {
  try {
    parseConfig(input);
  } catch (err) {
    assert.ok(err instanceof ConfigError, `expected ConfigError, got ${err}`);
    return err.issues.map((i) => `${i.path}: ${i.message}`);
  }
  assert.fail("config was accepted");
}

describe("parseConfig", () => {
  it("fills in defaults and derived names", () => {
    const config = parseConfig(base);
    assert.equal(config.engine, "valkey");
    assert.equal(config.cacheName, "shared");
    assert.equal(config.userGroupId, "dev-shared-users");
    assert.equal(config.exports.endpointParameter, "/platform/dev/eu-west-1/redis/shared/endpoint");
    assert.equal(config.exports.userGroupArnParameter, "/platform/dev/eu-west-1/redis/shared/userGroupArn");
    const orders = findService(config, "orders-api");
    assert.equal(orders.userId, "ordersapi");
    assert.equal(orders.keyspace, "orders");
    assert.equal(orders.secretName, "/services/orders-api/redis/orders");
    assert.match(orders.accessString, /^on ~orders:\* ~common:\* /);
    assert.equal(findService(config, "catalog").keyspace, "catalog");
  });

  it("reports one clear message per problem and all of them at once", () => {
    const bad = {
      stage: "dev",
      region: "eu-west-1",
      services: [
        { name: "orders", access: "read-write" },
        { name: "orders", access: "read-only" },
        { name: "Pay-Ments", access: "read-write" },
        { name: "payments", keyspace: "pay", access: "read-write" },
        { name: "empty", keyspace: "***", access: "read-write" },
      ],
    };
    const list = problems(bad);
    assert.equal(list.length, 3, list.join("\n"));
    assert.ok(list.some((p) => p.startsWith("services[1].name") && p.includes('"orders" is used twice')));
    assert.ok(
      list.some((p) => p.startsWith("services[3].name") && p.includes('both become Redis user "payments"')),
    );
    assert.ok(
      list.some((p) => p.startsWith('services[4].keyspace: keyspace "***" is not allowed: only lowercase')),
      list.join("\n"),
    );
  });

  it("rejects an unknown engine naming the field", () => {
    const list = problems({ ...base, engine: "memcached" });
    assert.deepEqual(list, ['engine: engine must be "valkey" or "redis"']);
  });

  it("rejects a keyspace used by two services and a shared keyspace owned by a service", () => {
    const list = problems({
      stage: "dev",
      region: "eu-west-1",
      services: [
        { name: "a", keyspace: "orders", access: "read-write" },
        { name: "b", keyspace: "orders", access: "read-write" },
        { name: "c", access: "read-only", sharedKeyspaces: ["orders"] },
      ],
    });
    assert.equal(list.length, 2, list.join("\n"));
    assert.ok(list.some((p) => p.includes('keyspace "orders" belongs to "a"')));
    assert.ok(list.some((p) => p.includes('"orders" is the private keyspace of "a"')));
  });

  it("refuses dangerous commands unless allowed", () => {
    const input: PlatformConfigInput = {
      stage: "dev",
      region: "eu-west-1",
      services: [
        { name: "ops", access: { preset: "read-only", commands: ["+flushall", "+get", "bad rule"] } },
      ],
    };
    const list = problems(input);
    assert.equal(list.length, 2, list.join("\n"));
    assert.ok(list.some((p) => p.includes('command "flushall" is dangerous')));
    assert.ok(list.some((p) => p.includes('"bad rule" is not an ACL command rule')));
    input.services[0]!.allowDangerous = true;
    input.services[0]!.access = { commands: ["+flushall"] };
    assert.ok(parseConfig(input).services[0]!.accessString.endsWith("+flushall"));
  });

  it("refuses explicit grants the safety tail denies (enumeration), naming why and the fix", () => {
    const list = problems({
      stage: "dev",
      region: "local",
      services: [
        {
          name: "peek",
          access: {
            preset: "read-only",
            commands: ["+scan", "+client|tracking", "+pubsub|channels", "+@all"],
          },
        },
      ],
    });
    assert.equal(list.length, 4, list.join("\n"));
    assert.ok(
      list.some(
        (p) => p.includes('"scan" is dangerous') && p.includes("key names") && p.includes("allowDangerous"),
      ),
    );
    assert.ok(list.some((p) => p.includes('"client|tracking"')));
    assert.ok(list.some((p) => p.includes('"pubsub|channels"')));
    assert.ok(list.some((p) => p.includes('category "@all"')));
  });

  it("accepts category grants such as +@slow: the safety tail after them takes back what they hold", () => {
    const config = parseConfig({
      stage: "dev",
      region: "local",
      services: [{ name: "wide", access: { preset: "read-only", commands: ["+@slow", "+@keyspace"] } }],
    });
    const rules = config.services[0]!.accessString.split(" ");
    assert.ok(rules.indexOf("-@admin") > rules.indexOf("+@keyspace"));
    assert.ok(rules.indexOf("-scan") > rules.indexOf("+@slow"));
  });

  it("scripting is opt-in: EVAL needs scripting: true, @scripting is refused either way", () => {
    const base = { stage: "dev", region: "local" };
    const noScripting = problems({
      ...base,
      services: [{ name: "lua", access: { preset: "read-write", commands: ["+eval", "+script|load"] } }],
    });
    assert.equal(noScripting.length, 2, noScripting.join("\n"));
    assert.ok(noScripting.every((p) => p.includes("scripting: true")));
    const withScripting = parseConfig({
      ...base,
      services: [{ name: "lua", access: "read-write", scripting: true }],
    }).services[0]!;
    assert.equal(withScripting.scripting, true);
    assert.ok(withScripting.accessString.split(" ").includes("+eval"));
    const category = problems({
      ...base,
      services: [{ name: "lua", access: { preset: "read-write", commands: ["+@scripting"] } }],
    });
    assert.ok(
      category.some((p) => p.includes("scripting: true")),
      category.join("\n"),
    );
    const plain = parseConfig({ ...base, services: [{ name: "p", access: "read-write" }] }).services[0]!;
    assert.equal(plain.scripting, false);
    assert.ok(!plain.accessString.split(" ").includes("+eval"));
  });

  it("rejects reserved user names, unknown fields and wrong types", () => {
    const list = problems({
      stage: "Dev!",
      region: "eu-west-1",
      services: [
        { name: "default", access: "read-write" },
        { name: "x", access: "admin" },
      ],
      extra: true,
    });
    assert.ok(
      list.some((p) => p.startsWith("stage:")),
      list.join("\n"),
    );
    assert.ok(
      list.some((p) => p.startsWith("services[1].access")),
      list.join("\n"),
    );
    assert.ok(
      list.some((p) => p.includes("extra")),
      list.join("\n"),
    );
    const reserved = problems({
      stage: "dev",
      region: "local",
      services: [{ name: "default", access: "read-only" }],
    });
    assert.deepEqual(reserved, [
      'services[0].name: "default" would become the reserved user "default"; rename it',
    ]);
  });

  it("the error message lists every problem on its own line", () => {
    try {
      parseConfig({ stage: "dev", region: "x", services: [{ name: "a", access: "nope" }, { name: "" }] });
      assert.fail("accepted");
    } catch (err) {
      assert.ok(err instanceof ConfigError);
      assert.equal(err.message.split("\n").length, err.issues.length + 1);
    }
  });

  it("refuses service names that cannot name a file, instead of failing later in apply", () => {
    const list = problems({
      stage: "dev",
      region: "local",
      services: [
        { name: "team/orders", access: "read-write" },
        { name: ".orders", access: "read-write" },
        { name: "o".repeat(1000), access: "read-write" },
        { name: "orders:api", access: "read-write" },
        { name: "..", access: "read-write" },
        { name: "back\\slash", access: "read-write" },
        { name: "nul\u0000", access: "read-write" },
        { name: "trailing ", access: "read-write" },
      ],
    });
    assert.equal(list.length, 8, list.join("\n"));
    for (const [i, shown] of [
      '"team/orders"',
      '".orders"',
      '"orders:api"',
      '".."',
      '"back\\\\slash"',
      '"nul\\u0000"',
      '"trailing "',
    ].entries()) {
      const index = i < 2 ? i : i + 1;
      assert.ok(
        list.includes(
          `services[${index}].name: service name ${shown} is not allowed: start with a letter or digit and use only letters, digits, spaces, "-", "_" and "." (it names the service's secret and token files), e.g. "orders-api"`,
        ),
        `${shown}:\n${list.join("\n")}`,
      );
    }
    assert.ok(
      list.includes(
        `services[2].name: service name "${"o".repeat(20)}..." is 1000 characters long; use at most 64`,
      ),
    );
    // The longest allowed name, and names with dots, underscores, spaces and capitals, are fine.
    const ok = parseConfig({
      stage: "dev",
      region: "local",
      services: [
        { name: "n".repeat(64), access: "read-write" },
        { name: "Orders_API.v2", access: "read-write" },
        { name: "Legacy App", access: "read-write" },
      ],
    });
    assert.deepEqual(
      ok.services.map((s) => s.keyspace),
      ["n".repeat(64), "orders_api.v2", "legacy-app"],
    );
  });

  it("refuses keyspaces that are not canonical, naming the allowed form and the canonical spelling", () => {
    const cases: Array<[string, string | undefined]> = [
      ["orders:eu", "orders-eu"],
      ["ord*", "ord"],
      ["ord{1}", "ord-1"],
      ["Orders", "orders"],
      ["orders?", "orders"],
      ["[orders]", "orders"],
      ["a--b", "a-b"],
      ["-orders", "orders"],
      ["orders.", "orders"],
      [" orders", "orders"],
      ["k".repeat(65), "k".repeat(64)],
      ["::", undefined],
    ];
    const list = problems({
      stage: "dev",
      region: "local",
      services: cases.map(([keyspace], i) => ({ name: `s${i}`, keyspace, access: "read-write" })),
    });
    assert.equal(list.length, cases.length, list.join("\n"));
    cases.forEach(([keyspace, canonical], i) => {
      const line = list.find((p) => p.startsWith(`services[${i}].keyspace: `));
      assert.ok(line, `no problem for ${keyspace}`);
      assert.ok(line.includes(`keyspace ${JSON.stringify(keyspace.slice(0, 80))} is not allowed`), line);
      assert.ok(line.includes('only lowercase letters, digits, "-", "_" and "."'), line);
      if (canonical) assert.ok(line.includes(`; use "${canonical}":`), line);
      else assert.ok(!line.includes("; use "), line);
    });
    const shared = problems({
      stage: "dev",
      region: "local",
      services: [{ name: "a", access: "read-write", sharedKeyspaces: ["common:eu", "common"] }],
    });
    assert.equal(shared.length, 1, shared.join("\n"));
    assert.match(
      shared[0]!,
      /^services\[0\]\.sharedKeyspaces\[0\]: keyspace "common:eu" is not allowed; use "common-eu"/,
    );
    // Canonical keyspaces pass unchanged; a keyspace derived from the name is normalised as before.
    const ok = parseConfig({
      stage: "dev",
      region: "local",
      services: [
        { name: "Orders-API", access: "read-write" },
        { name: "b", keyspace: "shop_2.eu-west", access: "read-write", sharedKeyspaces: ["common"] },
      ],
    });
    assert.deepEqual(
      ok.services.map((s) => [s.keyspace, s.sharedKeyspaces]),
      [
        ["orders-api", []],
        ["shop_2.eu-west", ["common"]],
      ],
    );
  });

  it("an access that is not an allowed form lists the allowed values", () => {
    const list = problems({
      stage: "dev",
      region: "local",
      services: [
        { name: "a", access: "admin" },
        { name: "b", access: { preset: "admin", commands: ["+get"] } },
        { name: "c", access: 7 },
      ],
    });
    assert.deepEqual(list, [
      'services[0].access: access "admin" is not an access level; use "read-write" or "read-only", or { preset?: "read-write" | "read-only" | "none", commands: ["+get", ...] }',
      'services[1].access: access must be one of the allowed forms: "read-write" or "read-only", or { preset?: "read-write" | "read-only" | "none", commands: ["+get", ...] }',
      'services[2].access: access must be one of the allowed forms: "read-write" or "read-only", or { preset?: "read-write" | "read-only" | "none", commands: ["+get", ...] }',
    ]);
  });

  it("findService names the choices when the service is missing", () => {
    assert.throws(() => findService(parseConfig(base), "nope"), /the config has "orders-api", "catalog"/);
  });
});
