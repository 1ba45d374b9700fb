// Starts one real redis-server process in its own temp dir, on a free port, and manages its lifecycle.
import { type ChildProcess, spawn } from "node:child_process";
import { closeSync, openSync, readSync, statSync } from "node:fs";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Redis, type RedisOptions } from "ioredis";
import { getFreePort, isReservedPort } from "./free-port.js";
import { randomPassword } from "./passwords.js";
import { trackChild, trackServer, trackTempDir, untrackServer, untrackTempDir } from "./processes.js";
import { findRedisServer, type RedisServerVersion, redisServerVersion } from "./redis-binary.js";
import { type RespValue, sendCommands } from "./resp-probe.js";
import {
  generateTlsCertificates,
  type TlsCertificateFiles,
  type TlsCertificates,
  writeTlsCertificates,
} from "./tls-certs.js";
import { settlesWithin, sleep } from "./wait.js";

export interface AdminCredentials {
  username: string;
  password: string;
}

export interface StartRedisOptions {
  /** Default true: `default` user off, an admin user with all permissions, stored in an aclfile (ACL SAVE/LOAD work). */
  acl?: boolean;
  /** Default false: TLS-only server (`port 0`, `tls-port N`) with a per-call CA and server certificate. */
  tls?: boolean;
  /** Internal use by startCluster: `cluster-enabled yes` (with its own `cluster-port`). */
  cluster?: boolean;
  /** Extra redis.conf directives, appended verbatim as `key value` lines (quote values yourself if needed). */
  extraConfig?: Record<string, string>;
  /** Use these admin credentials instead of generating them (startCluster shares one admin over all nodes). */
  admin?: AdminCredentials;
  /** Port to try first; when it is taken ("Address already in use") startRedis falls back to free ports. */
  preferredPort?: number;
  /** How long one start attempt may take until the server answers PING (default 10 000 ms). */
  startTimeoutMs?: number;
}

export interface RedisServer {
  /** Always "127.0.0.1". */
  host: string;
  port: number;
  /** Cluster bus port (cluster nodes only). */
  clusterPort?: number;
  /** PEM strings when started with `tls: true`; clients pass `{ ca }` (and servername "localhost"). */
  tls?: TlsCertificates;
  /** The admin user; `{ username: "default", password: "" }` when started with `acl: false`. */
  admin: AdminCredentials;
  /** Admin URL: redis://admin:pw@127.0.0.1:port, or rediss://… with TLS (no credentials without ACL). */
  url: string;
  /** Temp dir holding redis.conf, aclfile, certificates and the log. Removed by stop(). */
  dir: string;
  /** Path of the aclfile (ACL SAVE writes it, restart() loads it); undefined when acl is false. */
  aclFile: string | undefined;
  /** Pid of the running redis-server process; undefined while it is not running (after kill/stop). */
  pid: number | undefined;
  /** Options for an ioredis admin connection (host, port, credentials, TLS) — what client() uses. */
  connectionOptions(): RedisOptions;
  /** A new admin connection (ioredis); tracked and closed by stop(). */
  client(options?: RedisOptions): Redis;
  /** SIGKILL; resolves once the process is gone. */
  kill(): Promise<void>;
  /** SIGSTOP: the server stops answering without closing connections. */
  pause(): void;
  /** SIGCONT after pause(). */
  resume(): void;
  /** Starts the server again on the same port with the same config and aclfile; resolves once it answers PING. */
  restart(): Promise<void>;
  /** Graceful shutdown (SIGTERM, SIGKILL after a timeout), closes tracked clients, removes the temp dir. Idempotent. */
  stop(): Promise<void>;
  /** Last lines of the server log (and of its stdout/stderr), for error messages. */
  logTail(lines?: number): string;
}

export const ADMIN_USERNAME = "admin";
const HOST = "127.0.0.1";
const TLS_SERVERNAME = "localhost";
const DEFAULT_START_TIMEOUT_MS = 10_000;
const MAX_PORT_ATTEMPTS = 5;
const STOP_GRACE_MS = 5_000;
const KILL_WAIT_MS = 10_000;
const PROBE_TIMEOUT_MS = 1_000;
const LOG_TAIL_BYTES = 64 * 1024;
const ADDRESS_IN_USE = /Address already in use/i;

/** One spawned redis-server process. */
interface RunningProcess {
  child: ChildProcess;
  exited: Promise<void>;
  done: boolean;
  spawnError?: Error;
}

type LaunchResult = "ready" | "port-in-use";

/** Formats a redis.conf value, quoting it when it holds anything but plain path/word characters. */
function configValue(value: string): string {
  if (/^[A-Za-z0-9_./:@+,=-]+$/.test(value)) return value;
  return `"${value.replace(/\\/g, "\\\\").replace(/"/g, '\\"').replace(/\n/g, "\\n")}"`;
}

function lastLines(text: string, lines: number): string {
  const all = text.replace(/\s+$/, "").split("\n");
  return all.slice(Math.max(0, all.length - lines)).join("\n");
}

function fileSize(path: string): number {
  try {
    return statSync(path).size;
  } catch {
    return 0;
  }
}

/** Reads up to the last `maxBytes` of a file from `from` on ("" when missing). */
function readFileFrom(path: string, from = 0, maxBytes = LOG_TAIL_BYTES): string {
  let fd: number;
  try {
    fd = openSync(path, "r");
  } catch {
    return "";
  }
  try {
    const size = statSync(path).size;
    const start = Math.max(from, size - maxBytes);
    if (size <= start) return "";
    const buffer = Buffer.alloc(size - start);
    const read = readSync(fd, buffer, 0, buffer.length, start);
    return buffer.toString("utf8", 0, read);
  } finally {
    closeSync(fd);
  }
}

function infoField(info: string, field: string): string | undefined {
  const match = new RegExp(`^${field}:(.*)$`, "m").exec(info);
  return match?.[1]?.trim();
}

class ManagedRedisServer implements RedisServer {
  readonly host = HOST;
  port = 0;
  clusterPort?: number;
  tls?: TlsCertificates;
  readonly admin: AdminCredentials;
  readonly dir: string;

  private readonly acl: boolean;
  private readonly useTls: boolean;
  private readonly cluster: boolean;
  private readonly extraConfig: Record<string, string>;
  private readonly startTimeoutMs: number;
  private readonly preferredPort: number | undefined;
  private readonly bin: string;
  private readonly version: RedisServerVersion;
  private readonly confPath: string;
  private readonly logPath: string;
  private readonly outPath: string;
  private readonly aclPath: string;
  private readonly nodesPath: string;
  private tlsFiles?: TlsCertificateFiles;
  private running?: RunningProcess;
  private readonly clients = new Set<Redis>();
  private stopped = false;
  private stopPromise?: Promise<void>;
  private finalOutput?: string;

  constructor(dir: string, bin: string, options: StartRedisOptions) {
    this.dir = dir;
    this.bin = bin;
    this.version = redisServerVersion(bin);
    this.acl = options.acl ?? true;
    this.useTls = options.tls ?? false;
    this.cluster = options.cluster ?? false;
    this.extraConfig = options.extraConfig ?? {};
    this.startTimeoutMs = options.startTimeoutMs ?? DEFAULT_START_TIMEOUT_MS;
    this.preferredPort = options.preferredPort;
    if (this.preferredPort !== undefined && isReservedPort(this.preferredPort)) {
      throw new Error(
        `startRedis: port ${this.preferredPort} is reserved for the shared Redis; never use it`,
      );
    }
    this.admin = this.acl
      ? { ...(options.admin ?? { username: ADMIN_USERNAME, password: randomPassword() }) }
      : { username: "default", password: "" };
    if (this.acl && !/^[A-Za-z0-9_.-]+$/.test(this.admin.username)) {
      throw new Error(
        `startRedis: admin username must be name-safe, got ${JSON.stringify(this.admin.username)}`,
      );
    }
    if (this.acl && !/^[A-Za-z0-9]+$/.test(this.admin.password)) {
      throw new Error("startRedis: admin password must be alphanumeric");
    }
    this.confPath = join(dir, "redis.conf");
    this.logPath = join(dir, "redis.log");
    this.outPath = join(dir, "redis.out");
    this.aclPath = join(dir, "users.acl");
    this.nodesPath = join(dir, "nodes.conf");
  }

  get url(): string {
    const scheme = this.useTls ? "rediss" : "redis";
    const auth = this.acl
      ? `${encodeURIComponent(this.admin.username)}:${encodeURIComponent(this.admin.password)}@`
      : "";
    return `${scheme}://${auth}${this.host}:${this.port}`;
  }

  get aclFile(): string | undefined {
    return this.acl ? this.aclPath : undefined;
  }

  get pid(): number | undefined {
    const running = this.running;
    return running && !running.done ? running.child.pid : undefined;
  }

  /** Prepares the temp dir and starts the server, retrying on a new port when the port was taken. */
  async start(): Promise<void> {
    if (this.useTls) {
      this.tls = await generateTlsCertificates();
      this.tlsFiles = await writeTlsCertificates(this.dir, this.tls);
    }
    if (this.acl) await writeFile(this.aclPath, this.aclFileText(), { mode: 0o600 });
    for (let attempt = 1; ; attempt++) {
      await this.pickPorts(attempt === 1 ? this.preferredPort : undefined);
      // A failed attempt may have written a nodes.conf for the old port: start as a fresh node.
      await rm(this.nodesPath, { force: true });
      if ((await this.launch()) === "ready") return;
      if (attempt >= MAX_PORT_ATTEMPTS) {
        throw new Error(
          `startRedis: port already in use on ${MAX_PORT_ATTEMPTS} attempts; last log lines:\n${this.logTail()}`,
        );
      }
    }
  }

  private async pickPorts(preferred: number | undefined): Promise<void> {
    const supportsClusterPort = this.version.major >= 7;
    for (;;) {
      this.port = preferred ?? (await getFreePort());
      preferred = undefined;
      // Without `cluster-port` the bus listens on port + 10000, which must stay a valid port.
      if (!this.cluster || supportsClusterPort || this.port + 10_000 <= 65_535) break;
    }
    if (this.cluster && supportsClusterPort) {
      do this.clusterPort = await getFreePort();
      while (this.clusterPort === this.port);
    } else if (this.cluster) {
      this.clusterPort = this.port + 10_000;
    }
  }

  private aclFileText(): string {
    return [
      "user default off resetpass -@all",
      `user ${this.admin.username} on >${this.admin.password} ~* &* +@all`,
      "",
    ].join("\n");
  }

  private configText(): string {
    const lines: string[] = [];
    const set = (directive: string, ...values: string[]) =>
      lines.push([directive, ...values.map(configValue)].join(" "));
    set("bind", HOST);
    set("protected-mode", "no");
    set("daemonize", "no");
    lines.push('save ""');
    set("appendonly", "no");
    set("dir", this.dir);
    set("logfile", this.logPath);
    set("loglevel", "notice");
    set("repl-diskless-sync-delay", "0");
    if (this.version.major >= 7) {
      set("enable-debug-command", "local");
      // SIGTERM = SHUTDOWN NOSAVE NOW: no RDB, no waiting for lagging replicas.
      set("shutdown-on-sigterm", "nosave", "now", "force");
    }
    if (this.useTls && this.tlsFiles) {
      set("port", "0");
      set("tls-port", String(this.port));
      set("tls-cert-file", this.tlsFiles.certFile);
      set("tls-key-file", this.tlsFiles.keyFile);
      set("tls-ca-cert-file", this.tlsFiles.caFile);
      set("tls-auth-clients", "no");
      set("tls-replication", "yes");
      if (this.cluster) set("tls-cluster", "yes");
    } else {
      set("port", String(this.port));
    }
    if (this.acl) {
      set("aclfile", this.aclPath);
      set("masteruser", this.admin.username);
      set("masterauth", this.admin.password);
    }
    if (this.cluster) {
      set("cluster-enabled", "yes");
      set("cluster-config-file", this.nodesPath);
      set("cluster-node-timeout", "2000");
      set("cluster-announce-ip", HOST);
      if (this.version.major >= 7 && this.clusterPort) set("cluster-port", String(this.clusterPort));
    }
    for (const [directive, value] of Object.entries(this.extraConfig)) lines.push(`${directive} ${value}`);
    return `${lines.join("\n")}\n`;
  }

  /** Writes redis.conf, spawns redis-server and waits until it answers PING (or fails to bind its port). */
  private async launch(): Promise<LaunchResult> {
    if (this.stopped) throw new Error("redis-server was stopped while starting");
    const logStart = fileSize(this.logPath);
    const outStart = fileSize(this.outPath);
    await writeFile(this.confPath, this.configText(), { mode: 0o600 });
    const out = openSync(this.outPath, "a", 0o600);
    let child: ChildProcess;
    try {
      child = spawn(this.bin, [this.confPath], { cwd: this.dir, stdio: ["ignore", out, out] });
    } finally {
      closeSync(out);
    }
    trackChild(child);
    // Leftover servers must not keep the test process alive; every wait below holds its own timer.
    child.unref();
    const running: RunningProcess = { child, done: false, exited: Promise.resolve() };
    running.exited = new Promise<void>((resolve) => {
      child.once("exit", () => {
        running.done = true;
        resolve();
      });
      child.once("error", (error) => {
        running.spawnError = error;
        if (child.pid === undefined) {
          running.done = true;
          resolve();
        }
      });
    });
    this.running = running;

    const deadline = Date.now() + this.startTimeoutMs;
    while (!running.done && Date.now() < deadline) {
      // A foreign listener on our port may never answer: stop probing as soon as our process exits.
      if (await Promise.race([this.answersPing(child.pid), running.exited.then(() => false)])) return "ready";
      await Promise.race([sleep(50), running.exited]);
    }
    if (running.done) {
      const fresh = readFileFrom(this.logPath, logStart) + readFileFrom(this.outPath, outStart);
      if (ADDRESS_IN_USE.test(fresh)) return "port-in-use";
      const how = running.spawnError
        ? `could not be spawned (${running.spawnError.message})`
        : `exited with ${child.exitCode ?? child.signalCode} during startup`;
      throw new Error(
        `redis-server (${this.bin}) on port ${this.port} ${how}; last log lines:\n${this.logTail()}`,
      );
    }
    await this.signalAndWait("SIGKILL", KILL_WAIT_MS);
    throw new Error(
      `redis-server on port ${this.port} did not answer PING within ${this.startTimeoutMs} ms; last log lines:\n${this.logTail()}`,
    );
  }

  /** True when our own process (not some other server that grabbed the port) answers AUTH + PING. */
  private async answersPing(pid: number | undefined): Promise<boolean> {
    const commands = [
      ...(this.acl ? [["AUTH", this.admin.username, this.admin.password]] : []),
      ["PING"],
      ["INFO", "server"],
    ];
    let replies: RespValue[];
    try {
      replies = await sendCommands(
        {
          host: this.host,
          port: this.port,
          ...(this.tls ? { tls: { ca: this.tls.ca, servername: TLS_SERVERNAME } } : {}),
        },
        commands,
        PROBE_TIMEOUT_MS,
      );
    } catch {
      return false;
    }
    const info = replies.at(-1);
    const pong = replies.at(-2);
    return pong === "PONG" && typeof info === "string" && infoField(info, "process_id") === String(pid);
  }

  /** Sends `signal` to the running process and waits up to `ms` for it to exit. True when it is gone. */
  private async signalAndWait(signal: NodeJS.Signals, ms: number): Promise<boolean> {
    const running = this.running;
    if (!running || running.done) return true;
    running.child.ref();
    try {
      running.child.kill(signal);
      return await settlesWithin(running.exited, ms);
    } finally {
      running.child.unref();
    }
  }

  /** Graceful stop of the process: SIGTERM (SHUTDOWN NOSAVE), SIGKILL after `graceMs`. */
  private async terminate(graceMs: number): Promise<void> {
    const running = this.running;
    if (!running || running.done) return;
    running.child.kill("SIGCONT"); // a paused server cannot act on SIGTERM
    if (await this.signalAndWait("SIGTERM", graceMs)) return;
    if (!(await this.signalAndWait("SIGKILL", KILL_WAIT_MS))) {
      throw new Error(`redis-server pid ${running.child.pid} did not exit after SIGKILL`);
    }
  }

  connectionOptions(): RedisOptions {
    return {
      host: this.host,
      port: this.port,
      ...(this.acl ? { username: this.admin.username, password: this.admin.password } : {}),
      ...(this.tls ? { tls: { ca: this.tls.ca, servername: TLS_SERVERNAME } } : {}),
    };
  }

  client(options: RedisOptions = {}): Redis {
    if (this.stopped) throw new Error(`redis-server on port ${this.port} was stopped`);
    const base = this.connectionOptions();
    const merged: RedisOptions = { ...base, ...options };
    if (base.tls && options.tls) merged.tls = { ...base.tls, ...options.tls };
    const client = new Redis(merged);
    this.clients.add(client);
    client.once("end", () => this.clients.delete(client));
    return client;
  }

  async kill(): Promise<void> {
    const running = this.running;
    if (!running || running.done) return;
    if (!(await this.signalAndWait("SIGKILL", KILL_WAIT_MS))) {
      throw new Error(`redis-server pid ${running.child.pid} did not exit after SIGKILL`);
    }
  }

  private requirePid(action: string): number {
    const pid = this.pid;
    if (pid === undefined)
      throw new Error(`cannot ${action}: redis-server on port ${this.port} is not running`);
    return pid;
  }

  pause(): void {
    process.kill(this.requirePid("pause"), "SIGSTOP");
  }

  resume(): void {
    process.kill(this.requirePid("resume"), "SIGCONT");
  }

  async restart(): Promise<void> {
    if (this.stopped) throw new Error(`cannot restart: redis-server on port ${this.port} was stopped`);
    await this.terminate(STOP_GRACE_MS);
    for (let attempt = 1; ; attempt++) {
      if ((await this.launch()) === "ready") return;
      // Our port is briefly held by someone else (e.g. a client's ephemeral port): wait and retry.
      if (attempt >= MAX_PORT_ATTEMPTS) {
        throw new Error(
          `restart: port ${this.port} stayed in use over ${MAX_PORT_ATTEMPTS} attempts; last log lines:\n${this.logTail()}`,
        );
      }
      await sleep(200 * attempt);
    }
  }

  stop(): Promise<void> {
    this.stopPromise ??= this.doStop();
    return this.stopPromise;
  }

  private async doStop(): Promise<void> {
    this.stopped = true;
    for (const client of this.clients) client.disconnect();
    this.clients.clear();
    try {
      await this.terminate(STOP_GRACE_MS);
    } finally {
      this.finalOutput = this.readOutput();
      await rm(this.dir, { recursive: true, force: true });
      untrackTempDir(this.dir);
      untrackServer(this);
    }
  }

  private readOutput(): string {
    const log = readFileFrom(this.logPath);
    const out = readFileFrom(this.outPath).trim();
    return out ? `${log}\n--- redis-server stdout/stderr ---\n${out}` : log;
  }

  logTail(lines = 40): string {
    return lastLines(this.finalOutput ?? this.readOutput(), lines);
  }
}

/**
 * Starts a redis-server on a free port in a fresh temp dir (prefix "cacheplane-redis-").
 * Defaults: ACL on (default user off, admin user with a random password), no TLS.
 * Call `stop()` when done (e.g. `after(() => server.stop())`); `stopAll()` stops everything.
 */
export async function startRedis(options: StartRedisOptions = {}): Promise<RedisServer> {
  const bin = findRedisServer();
  const dir = await mkdtemp(join(tmpdir(), "cacheplane-redis-"));
  trackTempDir(dir);
  let server: ManagedRedisServer;
  try {
    server = new ManagedRedisServer(dir, bin, options);
  } catch (error) {
    await rm(dir, { recursive: true, force: true });
    untrackTempDir(dir);
    throw error;
  }
  trackServer(server);
  try {
    await server.start();
  } catch (error) {
    await server.stop().catch(() => undefined);
    throw error;
  }
  return server;
}
