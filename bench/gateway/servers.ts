/**
 * The HTTP servers the gateway bench drives, each in its own process pinned to the server CPUs, in
 * front of one redis-server (testkit, free port, ACL on, pinned to the Redis CPUs) and one service
 * user made from core's real access string:
 *
 * - `cacheplane gateway`: the product, started as an operator starts it (the CLI binary, a config
 *   file and a secrets directory), with `--workers N` when the CLI has that option;
 * - the bare baseline (`bare-server.mjs`): node:http + ioredis with `enableAutoPipelining`, doing
 *   only what any HTTP front of Redis must (read the body, check the bearer token, parse the
 *   command, run it, JSON-encode the reply);
 * - Webdis (Debian's `webdis` package, C, threads) with a config file generated here, HTTP Basic
 *   auth on its commands; skipped with a reason when it cannot be installed or started.
 */
import { type ChildProcess, spawn, spawnSync } from "node:child_process";
import { hash } from "node:crypto";
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import type { SecretPayload } from "@cacheplane/core/secret";
import { ensureServiceTokens } from "@cacheplane/gateway";
import { getFreePort, type RedisServer, startRedis } from "@cacheplane/testkit";
// The line `cacheplane gateway` prints once it listens (not exported by @cacheplane/cli's index).
import { GATEWAY_READY_LINE } from "../../packages/cli/src/commands/gateway.js";
import { benchService, createServiceUser } from "../lib/service-user.js";
import { type CpuLayout, ensureDebianTool, pinned, pinProcess, processTree } from "../lib/system.js";
import type { HttpRequestShape } from "./wrk.js";

const root = fileURLToPath(new URL("../..", import.meta.url));
const CLI = join(root, "packages/cli/bin/cacheplane.js");
const BARE_SERVER = fileURLToPath(new URL("./bare-server.mjs", import.meta.url));
const FLOOR_SERVER = fileURLToPath(new URL("./floor-server.mjs", import.meta.url));
/** The value GET reads and SET writes: 64 bytes, as in issue 10's measurements. */
export const VALUE = "x".repeat(64);
export const KEY = "bench:k";

export type ServerKey = "webdis" | "bare" | "gateway" | "floor-http" | "floor-net";

/** One HTTP server under test. */
export interface HttpServer {
  key: ServerKey;
  /** Short name for tables, e.g. "Webdis". */
  label: string;
  /** How it runs, for the results' metadata. */
  description: string;
  /** Root process (its descendants' CPU counts too: a gateway's workers). */
  pid: number;
  get: HttpRequestShape;
  set: HttpRequestShape;
  /** The JSON answers `get` and `set` must give (checked before the server is measured). */
  expected: { get: unknown; set: unknown };
  stop(): Promise<void>;
}

export interface Platform {
  redis: RedisServer;
  secret: SecretPayload;
  /** Working directory: config, secrets, tokens, Lua scripts, logs. */
  dir: string;
}

/** A started child process and the text it printed (the last 64 KiB). */
interface Proc {
  child: ChildProcess;
  output(): string;
  stop(): Promise<void>;
}

function startProcess(
  command: string,
  args: string[],
  options: { env?: NodeJS.ProcessEnv; ready: RegExp; timeoutMs: number; what: string },
): Promise<{ proc: Proc; match: RegExpExecArray }> {
  const child = spawn(command, args, {
    stdio: ["ignore", "pipe", "pipe"],
    env: options.env ?? process.env,
  });
  let text = "";
  const append = (chunk: string) => {
    text = (text + chunk).slice(-65_536);
  };
  const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
  const proc: Proc = {
    child,
    output: () => text,
    async stop() {
      if (child.exitCode !== null || child.signalCode !== null) return;
      child.kill("SIGTERM");
      const timer = setTimeout(() => child.kill("SIGKILL"), 5000);
      await exited;
      clearTimeout(timer);
    },
  };
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      void proc.stop();
      reject(
        new Error(
          `${options.what} did not start within ${options.timeoutMs} ms; output:\n${text.slice(-2000)}`,
        ),
      );
    }, options.timeoutMs);
    const onData = (chunk: string) => {
      append(chunk);
      const match = options.ready.exec(text);
      if (match) {
        clearTimeout(timer);
        resolve({ proc, match });
      }
    };
    child.stdout?.setEncoding("utf8").on("data", onData);
    child.stderr?.setEncoding("utf8").on("data", onData);
    child.once("error", (err) => {
      clearTimeout(timer);
      reject(new Error(`${options.what} could not be started: ${err.message}`));
    });
    child.once("exit", (code, signal) => {
      clearTimeout(timer);
      reject(
        new Error(
          `${options.what} exited (${code ?? signal}) before it was ready; output:\n${text.slice(-2000)}`,
        ),
      );
    });
  });
}

/** Sends `shape` once and returns the status and body. */
async function send(shape: HttpRequestShape): Promise<{ status: number; body: string }> {
  const response = await fetch(shape.url, {
    method: shape.method,
    headers: shape.headers,
    ...(shape.body !== undefined ? { body: shape.body } : {}),
  });
  return { status: response.status, body: await response.text() };
}

/**
 * Sends `shape` once and fails unless the answer is 200 with the JSON `expected`: a server that
 * answers fast with an error must never be measured as a fast server.
 */
export async function verifyAnswer(label: string, shape: HttpRequestShape, expected: unknown): Promise<void> {
  const { status, body } = await send(shape);
  let parsed: unknown;
  try {
    parsed = JSON.parse(body);
  } catch {
    parsed = body;
  }
  if (status !== 200 || JSON.stringify(parsed) !== JSON.stringify(expected)) {
    throw new Error(
      `${label} answered ${shape.method} ${shape.url} with ${status} ${body.slice(0, 200)}; expected 200 ${JSON.stringify(
        expected,
      ).slice(0, 200)}`,
    );
  }
}

/** Starts redis-server (pinned to the Redis CPUs) with the bench service user. */
export async function startPlatform(layout: CpuLayout, dir: string): Promise<Platform> {
  const redis = await startRedis({ acl: true });
  if (redis.pid !== undefined) pinProcess(redis.pid, layout.redis);
  const { service } = benchService();
  const password = `Bench-Gw-${Math.random().toString(36).slice(2)}-Pw1`;
  await createServiceUser(redis, service, password);
  const secret: SecretPayload = {
    host: redis.host,
    port: redis.port,
    username: service.userName,
    password,
    keyspace: service.keyspace,
    tls: false,
  };
  return { redis, secret, dir };
}

const sha256Base64 = (text: string) => hash("sha256", text, "base64");

/** Whether `cacheplane gateway --help` lists a `--workers` option (another change adds it). */
export function gatewayHasWorkersOption(): boolean {
  const out = spawnSync(process.execPath, [CLI, "gateway", "--help"], { encoding: "utf8", timeout: 60_000 });
  return /--workers\b/.test(`${out.stdout}${out.stderr}`);
}

/**
 * `cacheplane gateway` as an operator runs it: `node packages/cli/bin/cacheplane.js gateway
 * --config <file> --secrets-dir <dir> --port <p>`, pinned to the server CPUs. Workers:
 * `BENCH_GATEWAY_WORKERS` when set, else the CLI's own default; without a `--workers` option in
 * the CLI it is one process, and the description says so.
 */
export async function startGateway(
  platform: Platform,
  layout: CpuLayout,
  options: { nodeArgs?: string[] } = {},
): Promise<HttpServer> {
  const { config, service } = benchService();
  const configFile = join(platform.dir, "cacheplane.bench.json");
  writeFileSync(
    configFile,
    JSON.stringify({
      stage: config.stage,
      region: config.region,
      services: [{ name: service.name, access: "read-write" }],
    }),
  );
  const secretsDir = join(platform.dir, "secrets");
  mkdirSync(secretsDir, { recursive: true, mode: 0o700 });
  writeFileSync(join(secretsDir, `${service.name}.json`), JSON.stringify(platform.secret), { mode: 0o600 });
  const workersOption = gatewayHasWorkersOption();
  const wanted = process.env.BENCH_GATEWAY_WORKERS;
  const workerArgs = workersOption && wanted ? ["--workers", wanted] : [];
  if (wanted && !workersOption) {
    console.error(
      `bench gateway: BENCH_GATEWAY_WORKERS=${wanted} ignored: this cacheplane gateway has no --workers option (one process)`,
    );
  }
  const port = await getFreePort();
  const [command, args] = pinned(layout.server, process.execPath, [
    ...(options.nodeArgs ?? []),
    CLI,
    "gateway",
    "--config",
    configFile,
    "--secrets-dir",
    secretsDir,
    "--host",
    "127.0.0.1",
    "--port",
    String(port),
    ...workerArgs,
  ]);
  const { proc } = await startProcess(command, args, {
    ready: new RegExp(GATEWAY_READY_LINE),
    timeoutMs: 120_000,
    what: "cacheplane gateway",
  });
  const pid = proc.child.pid!;
  const { readWrite } = await ensureServiceTokens(secretsDir, service.name);
  const processes = processTree(pid).length;
  const workerNote = workersOption
    ? `--workers ${wanted ?? "(CLI default)"}: ${processes} process(es)`
    : `no --workers option in this CLI: 1 process (set BENCH_GATEWAY_WORKERS once the option exists)`;
  const url = `http://127.0.0.1:${port}`;
  const headers = { authorization: `Bearer ${readWrite}`, "content-type": "application/json" };
  return {
    key: "gateway",
    label: "cacheplane gateway",
    description: `node ${CLI.slice(root.length)} gateway --config <json> --secrets-dir <dir> --port ${port}${
      workerArgs.length ? ` ${workerArgs.join(" ")}` : ""
    }; ${workerNote}; Bearer token of the service`,
    pid,
    get: { url: `${url}/get/${KEY}`, method: "GET", headers },
    set: { url: `${url}/`, method: "POST", headers, body: JSON.stringify(["SET", KEY, VALUE]) },
    expected: { get: { result: VALUE }, set: { result: "OK" } },
    stop: () => proc.stop(),
  };
}

/** The pipeline request shape of the gateway (`/pipeline` with `size` GETs). */
export function gatewayPipeline(gateway: HttpServer, size: number): HttpRequestShape {
  return {
    url: gateway.get.url.replace(/\/get\/.*$/, "/pipeline"),
    method: "POST",
    headers: gateway.set.headers,
    body: JSON.stringify(Array.from({ length: size }, () => ["GET", KEY])),
  };
}

/** The bare node:http + ioredis (auto-pipelining) baseline, in its own process. */
export async function startBareServer(
  platform: Platform,
  layout: CpuLayout,
  token: string,
  options: { nodeArgs?: string[] } = {},
): Promise<HttpServer> {
  const { secret } = platform;
  const [command, args] = pinned(layout.server, process.execPath, [...(options.nodeArgs ?? []), BARE_SERVER]);
  const { proc, match } = await startProcess(command, args, {
    env: {
      ...process.env,
      BENCH_BARE_SERVER: JSON.stringify({
        host: secret.host,
        port: secret.port,
        username: secret.username,
        password: secret.password,
        tokenSha256: sha256Base64(token),
      }),
    },
    ready: /listening on (\d+)/,
    timeoutMs: 60_000,
    what: "bare node:http + ioredis server",
  });
  const url = `http://127.0.0.1:${match[1]}`;
  const headers = { authorization: `Bearer ${token}`, "content-type": "application/json" };
  return {
    key: "bare",
    label: "node:http + ioredis",
    description:
      "bench/gateway/bare-server.mjs: node:http + ioredis (enableAutoPipelining), Bearer token (SHA-256 + timingSafeEqual), one process",
    pid: proc.child.pid!,
    get: { url: `${url}/get/${KEY}`, method: "GET", headers },
    set: { url: `${url}/`, method: "POST", headers, body: JSON.stringify(["SET", KEY, VALUE]) },
    expected: { get: { result: VALUE }, set: { result: "OK" } },
    stop: () => proc.stop(),
  };
}

/**
 * A floor (floor-server.mjs): a constant answer without token, Redis or (mode "net") HTTP parser,
 * pinned like the others, so the table shows what Node itself costs per request on this machine.
 */
export async function startFloorServer(layout: CpuLayout, mode: "http" | "net"): Promise<HttpServer> {
  const [command, args] = pinned(layout.server, process.execPath, [FLOOR_SERVER]);
  const { proc, match } = await startProcess(command, args, {
    env: { ...process.env, BENCH_FLOOR_SERVER: JSON.stringify({ mode, value: VALUE }) },
    ready: /listening on (\d+)/,
    timeoutMs: 60_000,
    what: `${mode} floor server`,
  });
  const url = `http://127.0.0.1:${match[1]}`;
  const headers = { "content-type": "application/json" };
  return {
    key: mode === "http" ? "floor-http" : "floor-net",
    label: mode === "http" ? "node:http floor" : "node:net floor",
    description:
      mode === "http"
        ? "bench/gateway/floor-server.mjs: node:http answering a constant (no token, no Redis), one process"
        : "bench/gateway/floor-server.mjs: node:net writing a canned response per header block (no HTTP parser, no token, no Redis), one process",
    pid: proc.child.pid!,
    get: { url: `${url}/get/${KEY}`, method: "GET", headers },
    set: { url: `${url}/`, method: "POST", headers, body: JSON.stringify(["SET", KEY, VALUE]) },
    expected: { get: { result: VALUE }, set: { result: "OK" } },
    stop: () => proc.stop(),
  };
}

function webdisVersion(): string {
  // dpkg-query's own format syntax, not a template placeholder.
  const format = ["$", "{Version}"].join("");
  const out = spawnSync("dpkg-query", ["-W", "-f", format, "webdis"], { encoding: "utf8" });
  return out.status === 0 && out.stdout.trim() ? `Debian package ${out.stdout.trim()}` : "version unknown";
}

/**
 * Webdis on the same Redis, from Debian's package (installed when missing). Returns the reason
 * instead when it cannot be installed or started: the caller skips its rows with that message.
 */
export async function startWebdis(
  platform: Platform,
  layout: CpuLayout,
  token: string,
): Promise<HttpServer | { skipped: string }> {
  const tool = ensureDebianTool("webdis", "webdis");
  if ("missing" in tool) return { skipped: tool.missing };
  const { secret } = platform;
  // Webdis keeps per-thread Redis connections; 2 threads as in issue 10 (or one per server CPU).
  const threads = Math.max(2, layout.serverCpuCount);
  const port = await getFreePort();
  const configFile = join(platform.dir, "webdis.json");
  const basic = `bench:${token}`;
  writeFileSync(
    configFile,
    JSON.stringify(
      {
        redis_host: secret.host,
        redis_port: secret.port,
        // Webdis 0.1.9 sends `AUTH <password>`: it logs in as Redis's `default` user, which the
        // bench gives the service user's rules (see below).
        redis_auth: secret.password,
        http_host: "127.0.0.1",
        http_port: port,
        threads,
        daemonize: false,
        database: 0,
        // Every command needs the bench's HTTP Basic credentials (a credential check per request,
        // as the other servers' bearer tokens).
        acl: [{ disabled: ["*"] }, { http_basic_auth: basic, enabled: ["GET", "SET", "PING"] }],
        verbosity: 0,
        logfile: join(platform.dir, "webdis.log"),
      },
      null,
      2,
    ),
    { mode: 0o600 },
  );
  // Webdis 0.1.9 cannot send a username: the `default` user gets the same rules as the service user.
  const { service } = benchService();
  const admin = platform.redis.client();
  try {
    await admin.call(
      "ACL",
      "SETUSER",
      "default",
      "reset",
      ...service.accessString.split(" "),
      `>${secret.password}`,
    );
  } finally {
    admin.disconnect();
  }
  const [command, args] = pinned(layout.server, tool.path, [configFile]);
  const child = spawn(command, args, { stdio: ["ignore", "pipe", "pipe"] });
  let text = "";
  child.stdout?.setEncoding("utf8").on("data", (c: string) => {
    text = (text + c).slice(-8192);
  });
  child.stderr?.setEncoding("utf8").on("data", (c: string) => {
    text = (text + c).slice(-8192);
  });
  const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
  child.once("error", () => undefined);
  const stop = async () => {
    if (child.exitCode !== null || child.signalCode !== null) return;
    child.kill("SIGTERM");
    const timer = setTimeout(() => child.kill("SIGKILL"), 5000);
    await exited;
    clearTimeout(timer);
  };
  const url = `http://127.0.0.1:${port}`;
  const headers = { authorization: `Basic ${Buffer.from(basic).toString("base64")}` };
  const server: HttpServer = {
    key: "webdis",
    label: "Webdis",
    description: `Webdis (${webdisVersion()}), ${threads} threads, HTTP Basic auth on every command, Redis AUTH as default user with the service's rules`,
    pid: child.pid ?? -1,
    get: { url: `${url}/GET/${KEY}`, method: "GET", headers },
    set: { url: `${url}/`, method: "POST", headers, body: `SET/${KEY}/${VALUE}` },
    expected: { get: { GET: VALUE }, set: { SET: [true, "OK"] } },
    stop,
  };
  // Ready when it answers PING with our credentials.
  const deadline = Date.now() + 15_000;
  let last = "no answer";
  while (Date.now() < deadline) {
    if (child.exitCode !== null || child.signalCode !== null) {
      return {
        skipped: `webdis exited (${child.exitCode ?? child.signalCode}) at start: ${text.trim().slice(-300)}`,
      };
    }
    try {
      const answer = await send({ url: `${url}/PING`, method: "GET", headers });
      if (answer.status === 200 && answer.body.includes("PONG")) return server;
      last = `${answer.status} ${answer.body.slice(0, 200)}`;
    } catch (err) {
      last = (err as Error).message;
    }
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  await stop();
  return { skipped: `webdis did not answer PING within 15 s (last: ${last})` };
}
