// The operator view's data and access, against a real redis-server and a real gateway sampling with an
// observer user: who may read it (admin token only: 401 without, 403 with a service token, never a
// token in the URL), that the admin token opens nothing else, what it shows after real traffic (keys,
// keys without TTL, memory, hits and misses, NOPERM from the ACL LOG), that it never holds a secret or a
// key name, that sampling walks keys with SCAN (never KEYS), that the history is bounded, and that it
// survives Redis going away. Waits are bounded numbers of polls, never durations.
import assert from "node:assert/strict";
import { readFile, stat } from "node:fs/promises";
import { after, before, describe, test } from "node:test";
import { setTimeout as sleep } from "node:timers/promises";
import { stopAll } from "@cacheplane/testkit";
import { Redis } from "ioredis";
import { adminTokenPath, ensureAdminToken } from "../src/admin-token.js";
import { OBSERVER_RULES } from "../src/operator-view/sampler.js";
import { OperatorSeries } from "../src/operator-view/series.js";
import { TokenVerifier } from "../src/token-verifier.js";
import {
  ADMIN_TOKEN_SERVICE,
  ensureServiceTokens,
  hashToken,
  pruneServiceTokens,
  readTokenRegistry,
  retiredTokenServices,
  tokenRegistryPath,
} from "../src/tokens.js";
import { type Fixture, post, startFixture } from "./helpers/fixture.js";
import { type OperatorGateway, operatorState, startOperatorGateway } from "./helpers/operator.js";

interface ServiceState {
  name: string;
  keys: number | null;
  keysWithoutTtl: number | null;
  memoryBytes: number | null;
  connections: number | null;
  traffic: { requests: number; forbidden: number; errors: number; hits: number; misses: number };
  denials: { noperm: number; authFailures: number };
}
interface State {
  sampler: { samples: number; lastError?: string };
  services: ServiceState[];
  keyspaces: { keyspace: string; service: string | null; keys: number }[];
  nodes: { node: string }[];
  series: { t: number[]; services: Record<string, Record<string, number[]>> };
}

let fx: Fixture;
let op: OperatorGateway;

before(async () => {
  fx = await startFixture({
    services: [
      { name: "a", access: "read-write" },
      { name: "b", access: "read-write" },
      { name: "ro", access: "read-only" },
    ],
  });
  op = await startOperatorGateway(fx);
});
after(async () => {
  await op?.close();
  await fx?.close();
  await stopAll();
});

/** The state once `ready(state)` holds, polling a bounded number of times. */
async function stateWhen(ready: (state: State) => boolean, attempts = 300): Promise<State> {
  let last: State | undefined;
  for (let i = 0; i < attempts; i++) {
    const { status, json } = await operatorState(op.url, op.adminToken);
    assert.equal(status, 200);
    last = json as unknown as State;
    if (ready(last)) return last;
    await sleep(50);
  }
  assert.fail(`the operator view never showed the expected state: ${JSON.stringify(last)}`);
}

const service = (state: State, name: string) => state.services.find((s) => s.name === name)!;
const sum = (values: number[]) => values.reduce((a, b) => a + b, 0);

describe("who may open the operator view", () => {
  test("the admin token is issued hashed in the registry, in a 0600 file, never printed", async () => {
    const file = adminTokenPath(fx.secretsDir);
    assert.equal(op.server.adminTokenFile, file);
    assert.equal((await stat(file)).mode & 0o777, 0o600);
    const records = await readTokenRegistry(tokenRegistryPath(fx.secretsDir));
    const admin = records.filter((r) => r.kind === "admin");
    assert.equal(admin.length, 1);
    assert.equal(admin[0]!.service, ADMIN_TOKEN_SERVICE);
    const registryText = await readFile(tokenRegistryPath(fx.secretsDir), "utf8");
    assert.ok(!registryText.includes(op.adminToken), "the registry holds the hash only");
    // Idempotent: issuing again keeps the token and the one hash.
    await ensureAdminToken(fx.secretsDir);
    const again = JSON.parse(await readFile(file, "utf8")) as { admin: string };
    assert.equal(again.admin, op.adminToken);
    const afterAgain = await readTokenRegistry(tokenRegistryPath(fx.secretsDir));
    assert.equal(afterAgain.filter((r) => r.kind === "admin").length, 1);
    assert.ok(!JSON.stringify(op.logs).includes(op.adminToken));
  });

  test("no token or an unknown one: 401; a service token: 403; the admin token: 200", async () => {
    const none = await operatorState(op.url, undefined);
    assert.equal(none.status, 401);
    assert.match(none.headers.get("www-authenticate") ?? "", /^Bearer/);
    assert.equal(none.json?.services, undefined);
    assert.equal((await operatorState(op.url, "x".repeat(43))).status, 401);
    for (const token of [fx.tokens.a!.readWrite, fx.tokens.ro!.readOnly]) {
      const refused = await operatorState(op.url, token);
      assert.equal(refused.status, 403, refused.text);
      assert.match(String(refused.json?.error), /service token cannot open the operator view/);
      assert.equal(refused.json?.services, undefined);
    }
    const ok = await operatorState(op.url, op.adminToken);
    assert.equal(ok.status, 200);
    assert.equal(ok.headers.get("cache-control"), "no-store");
    assert.match(ok.headers.get("content-security-policy") ?? "", /default-src 'none'/);
    // Never from a URL (it would end up in logs and browser history).
    const inUrl = await fetch(`${op.url}/operator/api/state?_token=${op.adminToken}`);
    assert.equal(inUrl.status, 401);
  });

  test("the admin token opens nothing else: every data route refuses it", async () => {
    for (const [path, body] of [
      ["/", ["PING"]],
      ["/pipeline", [["PING"]]],
      ["/multi-exec", [["PING"]]],
    ] as const) {
      assert.equal((await post(op.url, path, body, op.adminToken)).status, 401, path);
    }
    const get = await fetch(`${op.url}/get/a:k`, { headers: { authorization: `Bearer ${op.adminToken}` } });
    assert.equal(get.status, 401);
    const sse = await fetch(`${op.url}/subscribe/a:news`, {
      headers: { authorization: `Bearer ${op.adminToken}` },
    });
    assert.equal(sse.status, 401);
  });

  test("the verifiers are split: the data plane's never knows the admin token, the admin one no service token", async () => {
    const createdAt = new Date().toISOString();
    const records = [
      { service: ADMIN_TOKEN_SERVICE, kind: "admin" as const, hash: hashToken(op.adminToken), createdAt },
      { service: "a", kind: "read-write" as const, hash: hashToken(fx.tokens.a!.readWrite), createdAt },
    ];
    const data = new TokenVerifier({ records });
    assert.equal(data.check(op.adminToken), undefined);
    assert.deepEqual(data.check(fx.tokens.a!.readWrite), { service: "a", kind: "read-write" });
    const admin = TokenVerifier.forAdmin({ records });
    assert.deepEqual(admin.check(op.adminToken), { admin: true });
    assert.equal(admin.check(fx.tokens.a!.readWrite), undefined);
  });

  test("the page itself holds no data; it is served with a strict CSP, and so is the chart library", async () => {
    const page = await fetch(`${op.url}/operator/`);
    assert.equal(page.status, 200);
    const html = await page.text();
    assert.match(html, /Cacheplane<\/span> operator view/);
    assert.match(page.headers.get("content-security-policy") ?? "", /script-src 'self'/);
    const uplot = await fetch(`${op.url}/operator/vendor/uPlot.iife.min.js`);
    assert.equal(uplot.status, 200);
    assert.match(uplot.headers.get("content-type") ?? "", /javascript/);
    assert.match(await uplot.text(), /uPlot/);
    // Only the listed files: no path leads out of the page's folder.
    assert.equal((await fetch(`${op.url}/operator/..%2fpackage.json`)).status, 404);
    assert.equal((await fetch(`${op.url}/operator/vendor/..%2f..%2fpackage.json`)).status, 404);
    assert.equal((await fetch(`${op.url}/operator/nope.js`)).status, 404);
    const redirect = await fetch(`${op.url}/operator`, { redirect: "manual" });
    assert.equal(redirect.status, 308);
  });

  test("retiring services never revokes the admin token; no service can be named like it", async () => {
    assert.deepEqual(await retiredTokenServices(fx.secretsDir, ["a", "b", "ro"]), []);
    assert.deepEqual(await pruneServiceTokens(fx.secretsDir, ["a", "b", "ro"]), []);
    const records = await readTokenRegistry(tokenRegistryPath(fx.secretsDir));
    assert.equal(records.filter((r) => r.kind === "admin").length, 1);
    assert.equal((await operatorState(op.url, op.adminToken)).status, 200);
    await assert.rejects(ensureServiceTokens(fx.secretsDir, ADMIN_TOKEN_SERVICE), /Invalid service name/);
  });
});

describe("what the operator view shows", () => {
  test("keys, keys without TTL, memory, hits, misses and NOPERM per service after real traffic", async () => {
    const a = fx.tokens.a!.readWrite;
    const b = fx.tokens.b!.readWrite;
    const before = (await stateWhen((s) => s.sampler.samples >= 1)).sampler.samples;
    // a: 30 keys with a TTL; b: 12 keys without.
    for (let i = 0; i < 30; i++)
      assert.equal((await post(op.url, "/", ["SET", `a:item-${i}`, "v", "EX", "600"], a)).status, 200);
    await post(
      op.url,
      "/pipeline",
      Array.from({ length: 12 }, (_, i) => ["SET", `b:persistent-item-${i}`, "x".repeat(100)]),
      b,
    );
    // a: 5 hits, 3 misses (one of them in a pipeline); b: MGET of 2 present keys and 1 missing one.
    for (let i = 0; i < 5; i++) await post(op.url, "/", ["GET", `a:item-${i}`], a);
    await post(op.url, "/", ["GET", "a:missing-1"], a);
    await post(
      op.url,
      "/pipeline",
      [
        ["GET", "a:missing-2"],
        ["GET", "a:missing-3"],
      ],
      a,
    );
    await post(op.url, "/", ["MGET", "b:persistent-item-0", "b:persistent-item-1", "b:none"], b);
    // a reaches into b's keyspace: the gateway relays it, the ACL refuses it (NOPERM in the ACL LOG).
    const denied = await post(op.url, "/", ["GET", "b:persistent-item-0"], a);
    assert.equal(denied.status, 403);

    const state = await stateWhen(
      (s) =>
        s.sampler.samples > before + 1 &&
        service(s, "a").keys === 30 &&
        service(s, "b").keys === 12 &&
        service(s, "a").denials.noperm >= 1,
    );
    const sa = service(state, "a");
    const sb = service(state, "b");
    assert.deepEqual([sa.keys, sa.keysWithoutTtl], [30, 0]);
    assert.deepEqual([sb.keys, sb.keysWithoutTtl], [12, 12]);
    assert.ok(sa.memoryBytes! > 0 && sb.memoryBytes! > 0);
    assert.ok(sb.memoryBytes! > sa.memoryBytes!, "b's values are larger");
    assert.deepEqual([sa.traffic.hits, sa.traffic.misses], [5, 3]);
    assert.deepEqual([sb.traffic.hits, sb.traffic.misses], [2, 1]);
    assert.equal(sa.traffic.forbidden, 1);
    assert.equal(sa.denials.noperm, 1);
    assert.equal(sb.denials.noperm, 0);
    assert.ok(sa.connections! >= 1, "the gateway's own connection as a's user");
    const ro = service(state, "ro");
    assert.deepEqual([ro.keys, ro.traffic.requests, ro.denials.noperm], [0, 0, 0]);

    // Over time: every counted read and denial is in exactly one sample of the history.
    const series = state.series;
    assert.ok(series.t.length >= 2);
    assert.equal(sum(series.services.a!.hits!), 5);
    assert.equal(sum(series.services.a!.misses!), 3);
    assert.equal(sum(series.services.a!.noperm!), 1);
    assert.equal(series.services.a!.keys!.at(-1), 30);
    assert.ok(series.t.every((t, i) => i === 0 || t >= series.t[i - 1]!));

    // Nothing secret and no key name: counts and sizes only.
    const text = JSON.stringify(state);
    for (const secret of [...fx.secretStrings(), op.adminToken, op.observer.password]) {
      assert.ok(!text.includes(secret), "a secret in the operator state");
    }
    assert.ok(!text.includes("item-"), "a key name in the operator state");
  });

  test("sampling walks the keyspace with SCAN as the observer, never KEYS; the observer reads no values", async () => {
    await stateWhen((s) => s.sampler.samples >= 2);
    const admin = fx.redis.client();
    try {
      const stats = String(await admin.call("INFO", "commandstats"));
      assert.match(stats, /cmdstat_scan:calls=\d+/);
      assert.doesNotMatch(stats, /cmdstat_keys:/);
    } finally {
      admin.disconnect();
    }
    const observer = new Redis({
      host: fx.redis.host,
      port: fx.redis.port,
      username: op.observer.username,
      password: op.observer.password,
      maxRetriesPerRequest: 0,
    });
    try {
      await assert.rejects(observer.get("a:item-0"), /NOPERM/);
      await assert.rejects(observer.set("a:item-0", "x"), /NOPERM/);
      await assert.rejects(observer.call("CONFIG", "GET", "*"), /NOPERM/);
      await assert.rejects(observer.call("ACL", "SETUSER", "x"), /NOPERM/);
    } finally {
      observer.disconnect();
    }
  });

  test("Redis gone: the view says why and keeps its history; Redis back: sampling resumes", async () => {
    const before = await stateWhen((s) => s.sampler.samples >= 2);
    await fx.redis.kill();
    const down = await stateWhen((s) => s.sampler.lastError !== undefined);
    assert.match(down.sampler.lastError!, /Cannot connect|Connection is closed|ECONNREFUSED|failed/i);
    assert.ok(!down.sampler.lastError!.includes(op.observer.password));
    assert.ok(down.series.t.length >= before.series.t.length);
    await fx.redis.restart();
    // The restarted server reloads its ACL file: recreate the observer if it was not saved.
    const admin = fx.redis.client();
    try {
      const users = (await admin.call("ACL", "USERS")) as string[];
      if (!users.includes(op.observer.username)) {
        await admin.call(
          "ACL",
          "SETUSER",
          op.observer.username,
          "reset",
          "on",
          `>${op.observer.password}`,
          ...OBSERVER_RULES,
        );
      }
    } finally {
      admin.disconnect();
    }
    const back = await stateWhen(
      (s) => s.sampler.lastError === undefined && s.sampler.samples > down.sampler.samples,
    );
    assert.ok(back.series.t.length > down.series.t.length);
  });
});

describe("the history is bounded", () => {
  test("at most historyPoints samples are kept", async () => {
    const series = new OperatorSeries(3, ["a"]);
    for (let i = 0; i < 10; i++) {
      series.push({
        at: i * 1000,
        services: {
          a: {
            keys: i,
            keysWithoutTtl: 0,
            memoryBytes: 0,
            connections: 0,
            requests: 0,
            forbidden: 0,
            errors: 0,
            hits: i,
            misses: 0,
            noperm: 0,
            authFailures: 0,
          },
        },
      });
    }
    const columns = series.columns();
    assert.deepEqual(columns.t, [7, 8, 9]);
    assert.deepEqual(columns.services.a!.keys, [7, 8, 9]);
    assert.throws(() => new OperatorSeries(1, []), /historyPoints/);
  });

  test("a running gateway keeps at most historyPoints samples", async () => {
    const small = await startOperatorGateway(fx, { historyPoints: 4, intervalMs: 100 });
    try {
      let last: State | undefined;
      for (let i = 0; i < 400; i++) {
        last = (await operatorState(small.url, small.adminToken)).json as unknown as State;
        if (last.sampler.samples >= 7) break;
        await sleep(50);
      }
      assert.ok(last && last.sampler.samples >= 7, `samples: ${last?.sampler.samples}`);
      assert.equal(last.series.t.length, 4);
    } finally {
      await small.close();
    }
  });
});

test("docs/operations.md creates the observer with exactly OBSERVER_RULES", async () => {
  const doc = await readFile(new URL("../../../docs/operations.md", import.meta.url), "utf8");
  const command =
    /redis-cli ACL SETUSER cacheplane-observer reset on '>OBSERVER_PASSWORD' ([^`]*?)\n```/s.exec(doc);
  assert.ok(command, "the observer's ACL SETUSER line is in docs/operations.md");
  const rules = command[1]!
    .replace(/\\\n/g, " ")
    .split(/\s+/)
    .filter((r) => r.length > 0)
    .map((r) => r.replace(/^'|'$/g, "").replace(/\\\|/g, "|"));
  assert.deepEqual(rules, [...OBSERVER_RULES]);
});
