/**
 * What `cacheplane dev` keeps in its directory between runs: the admin credentials (`admin.json`, 0600)
 * and the last port and redis-server pid (`dev.json`), so a restart reuses the admin password, the port
 * the secrets point at, and can tell when a previous server is still running.
 */
import { randomBytes } from "node:crypto";
import { readFileSync } from "node:fs";
import { chmod, mkdir, readFile, rename, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { PASSWORD_ALPHABET } from "@cacheplane/core";
import { type ProcessRecord, parseProcessRecord } from "@cacheplane/gateway";
import { CliError } from "../errors.js";

/** The local server's administrator. */
export interface AdminCredentials {
  username: string;
  /** Local dev only; never printed. */
  password: string;
}

/** Last-run bookkeeping in `dev.json`. */
export interface DevState {
  port?: number;
  /** The running redis-server's PID (absent once it was stopped). */
  pid?: number;
  /** The redis-server's start identity (see `processStartIdentity`), so a reused PID is not mistaken for it. */
  redisStart?: string;
  /** The `cacheplane dev` process that started it: while it runs, another `dev` on the directory is refused. */
  owner?: ProcessRecord;
}

/** User name of the dev server's administrator. */
export const DEV_ADMIN_USERNAME = "admin";

/** File names inside the dev directory. */
export const DEV_FILES = {
  admin: "admin.json",
  state: "dev.json",
  conf: "redis.conf",
  acl: "users.acl",
  log: "redis.log",
  secrets: "secrets",
} as const;

/** 40 random characters from core's password alphabet (accepted by Redis, Valkey and ElastiCache). */
export function randomAdminPassword(): string {
  const bytes = randomBytes(80);
  let out = "";
  // Rejection sampling keeps every character equally likely.
  const limit = 256 - (256 % PASSWORD_ALPHABET.length);
  for (const byte of bytes) {
    if (byte >= limit) continue;
    out += PASSWORD_ALPHABET[byte % PASSWORD_ALPHABET.length];
    if (out.length === 40) return out;
  }
  return out + randomAdminPassword().slice(0, 40 - out.length);
}

async function writePrivateJson(file: string, value: unknown): Promise<void> {
  const tmp = `${file}.${process.pid}.tmp`;
  await writeFile(tmp, `${JSON.stringify(value, null, 2)}\n`, { mode: 0o600 });
  await rename(tmp, file);
  await chmod(file, 0o600);
}

/**
 * The admin credentials in `<dir>/admin.json`, created with a random password on the first run.
 * @throws CliError when the file exists but is not `{ "username": ..., "password": ... }`.
 */
export async function loadOrCreateAdmin(dir: string): Promise<AdminCredentials> {
  const file = join(dir, DEV_FILES.admin);
  let text: string | undefined;
  try {
    text = await readFile(file, "utf8");
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== "ENOENT") throw error;
  }
  if (text !== undefined) {
    let parsed: Partial<AdminCredentials> | undefined;
    try {
      parsed = JSON.parse(text) as Partial<AdminCredentials>;
    } catch {
      parsed = undefined;
    }
    if (
      parsed?.username === DEV_ADMIN_USERNAME &&
      typeof parsed.password === "string" &&
      /^[A-Za-z0-9]{16,128}$/.test(parsed.password)
    ) {
      await chmod(file, 0o600);
      return { username: parsed.username, password: parsed.password };
    }
    throw new CliError(
      `${file} is not valid dev admin credentials; delete it to generate new ones (the service users survive)`,
    );
  }
  await mkdir(dir, { recursive: true });
  const admin = { username: DEV_ADMIN_USERNAME, password: randomAdminPassword() };
  await writePrivateJson(file, admin);
  return admin;
}

/** `dev.json`, or an empty state when it is missing or unreadable. */
export function readDevState(dir: string): DevState {
  try {
    const parsed = JSON.parse(readFileSync(join(dir, DEV_FILES.state), "utf8")) as DevState;
    const state: DevState = {};
    if (Number.isInteger(parsed.port)) state.port = parsed.port!;
    if (Number.isInteger(parsed.pid)) state.pid = parsed.pid!;
    if (typeof parsed.redisStart === "string") state.redisStart = parsed.redisStart;
    const owner = parseProcessRecord(parsed.owner);
    if (owner) state.owner = owner;
    return state;
  } catch {
    return {};
  }
}

/** Writes `dev.json`. */
export async function writeDevState(dir: string, state: DevState): Promise<void> {
  await writePrivateJson(join(dir, DEV_FILES.state), state);
}

/** True when `pid` is a running redis-server/valkey-server (Linux: checked via /proc; elsewhere: alive). */
export function isRunningRedisServer(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === "EPERM";
  }
  try {
    const cmdline = readFileSync(`/proc/${pid}/cmdline`, "utf8");
    return /(redis|valkey)-server/.test(cmdline);
  } catch {
    return process.platform !== "linux";
  }
}
