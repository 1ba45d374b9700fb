/**
 * An advisory lock file for read-modify-write of files shared between processes (the token registry).
 *
 * `<path>.lock` is created with its content in one step (a hard link from a temp file), so a lock is
 * never seen empty. It records its owner (PID, host, start identity, a random nonce). A waiting
 * process takes a lock over at once when its owner is gone (no such PID, or the PID was reused by a
 * process that started later); a lock written on another host, or one whose content cannot be read,
 * is taken over once it is older than 30 s. A lock held by a live process on this host is never taken
 * over: after 10 s of waiting the error names that process.
 *
 * Taking over is serialised through `<path>.lock.break` (created the same way): the breaker re-reads
 * the lock under it and removes it only if it is still the dead owner's, so two processes that both
 * found the same dead owner cannot remove each other's fresh lock. A release removes the lock only if
 * it is still the releaser's.
 */
import { randomBytes } from "node:crypto";
import { link, mkdir, open, readdir, readFile, rm, stat, writeFile } from "node:fs/promises";
import { basename, dirname, join } from "node:path";
import {
  currentProcessRecord,
  type ProcessRecord,
  parseProcessRecord,
  processState,
} from "./process-record.js";

/** Tuning of {@link withFileLock}; the defaults suit the token registry. */
export interface FileLockOptions {
  /** How long to wait for a lock held by a live process before failing. @default 10000 */
  waitMs?: number;
  /** Age after which a lock of another host (or unreadable) counts as abandoned. @default 30000 */
  staleMs?: number;
}

const DEFAULT_WAIT_MS = 10_000;
const DEFAULT_STALE_MS = 30_000;
const POLL_MS = 25;
const inProcess = new Map<string, Promise<unknown>>();

interface LockContent extends ProcessRecord {
  nonce: string;
  acquiredAt: string;
}

interface Holder {
  /** The raw content, compared byte for byte before removing a stale lock. */
  text: string;
  owner: ProcessRecord | undefined;
  nonce?: string;
  mtimeMs: number;
}

/** Nonces of the locks this process holds right now. */
const held = new Set<string>();

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

function isCode(error: unknown, ...codes: string[]): boolean {
  return codes.includes((error as NodeJS.ErrnoException | undefined)?.code ?? "");
}

/**
 * Creates `path` holding `text`, atomically and exclusively: false when it exists already. A hard
 * link from a temp file makes the content appear with the name; where hard links are not supported,
 * an exclusive create followed by a write is used instead.
 */
async function createWithContent(path: string, text: string): Promise<boolean> {
  const temp = `${path}.${process.pid}.${randomBytes(6).toString("hex")}.tmp`;
  await writeFile(temp, text, { mode: 0o600, flag: "wx" });
  try {
    await link(temp, path);
    return true;
  } catch (error) {
    if (isCode(error, "EEXIST")) return false;
    if (!isCode(error, "EPERM", "ENOTSUP", "EOPNOTSUPP", "ENOSYS", "EXDEV")) throw error;
  } finally {
    await rm(temp, { force: true });
  }
  try {
    const handle = await open(path, "wx", 0o600);
    try {
      await handle.writeFile(text);
    } finally {
      await handle.close();
    }
    return true;
  } catch (error) {
    if (isCode(error, "EEXIST")) return false;
    throw error;
  }
}

/** The lock's content and age; undefined when it does not exist (any more). */
async function readHolder(path: string): Promise<Holder | undefined> {
  try {
    const [text, info] = await Promise.all([readFile(path, "utf8"), stat(path)]);
    const holder: Holder = { text, owner: undefined, mtimeMs: info.mtimeMs };
    if (/^\d+\s*$/.test(text))
      holder.owner = { pid: Number(text) }; // an earlier version's lock: a bare PID
    else {
      try {
        const parsed = JSON.parse(text) as { nonce?: unknown };
        holder.owner = parseProcessRecord(parsed);
        if (typeof parsed.nonce === "string") holder.nonce = parsed.nonce;
      } catch {
        // unreadable: judged by its age
      }
    }
    return holder;
  } catch (error) {
    if (isCode(error, "ENOENT")) return undefined;
    throw error;
  }
}

/** True when the holder is gone (at once) or its lock is old and its owner cannot be checked. */
function abandoned(holder: Holder, staleMs: number): boolean {
  const old = Date.now() - holder.mtimeMs > staleMs;
  const owner = holder.owner;
  if (!owner) return old;
  const state = processState(owner);
  if (state === "unknown") return old;
  if (state === "gone") return true;
  // Our own PID on a lock this process does not hold: an earlier process had the same PID.
  return owner.pid === process.pid && !(holder.nonce !== undefined && held.has(holder.nonce));
}

/** Removes `lockPath` if it still holds `staleText`, under the break guard. */
async function breakLock(lockPath: string, staleText: string, staleMs: number): Promise<void> {
  const guard = `${lockPath}.break`;
  const content = JSON.stringify({ ...currentProcessRecord(), nonce: randomBytes(8).toString("hex") });
  if (!(await createWithContent(guard, content))) {
    // Someone else is breaking it; clear their guard only if they died doing so.
    const other = await readHolder(guard);
    if (other && abandoned(other, staleMs)) await rm(guard, { force: true });
    return;
  }
  try {
    const now = await readHolder(lockPath);
    if (now && now.text === staleText) await rm(lockPath, { force: true });
  } finally {
    await rm(guard, { force: true });
  }
}

function describeOwner(holder: Holder): string {
  const owner = holder.owner;
  if (!owner) return "of unknown origin";
  const where =
    owner.host !== undefined && owner.host !== currentProcessRecord().host ? ` on ${owner.host}` : "";
  return `held by process ${owner.pid}${where}`;
}

async function acquire(lockPath: string, options: FileLockOptions): Promise<string> {
  const waitMs = options.waitMs ?? DEFAULT_WAIT_MS;
  const staleMs = options.staleMs ?? DEFAULT_STALE_MS;
  const deadline = Date.now() + waitMs;
  const nonce = randomBytes(12).toString("hex");
  const content: LockContent = { ...currentProcessRecord(), nonce, acquiredAt: new Date().toISOString() };
  const text = `${JSON.stringify(content)}\n`;
  for (;;) {
    if (await createWithContent(lockPath, text)) {
      held.add(nonce);
      return text;
    }
    const holder = await readHolder(lockPath);
    if (!holder) continue; // released in between: try again
    if (abandoned(holder, staleMs)) {
      await breakLock(lockPath, holder.text, staleMs);
      continue;
    }
    if (Date.now() > deadline) {
      throw new Error(
        `Timed out after ${Math.round(waitMs / 1000)} s waiting for lock file ${lockPath} (${describeOwner(holder)}, still running); let it finish, or stop it`,
      );
    }
    await sleep(POLL_MS);
  }
}

/** Removes the lock if it is still ours (a lock taken over from us is left to its new owner). */
async function release(lockPath: string, text: string): Promise<void> {
  try {
    if ((await readFile(lockPath, "utf8")) === text) await rm(lockPath, { force: true });
  } catch (error) {
    if (!isCode(error, "ENOENT")) throw error;
  } finally {
    try {
      held.delete((JSON.parse(text) as LockContent).nonce);
    } catch {
      // not ours to parse: nothing to forget
    }
  }
}

/** Temp files that processes which are gone left next to files written under `lockPath`. */
async function removeLeftoverTemps(lockPath: string, names: (name: string) => boolean): Promise<void> {
  const dir = dirname(lockPath);
  let entries: string[];
  try {
    entries = await readdir(dir);
  } catch {
    return;
  }
  const own = basename(lockPath);
  for (const entry of entries) {
    const match = /^(.*)\.(\d+)\.[0-9a-f]{12}\.tmp$/.exec(entry);
    if (!match || !(match[1] === own || match[1] === `${own}.break` || names(match[1]!))) continue;
    if (processState({ pid: Number(match[2]) }) === "gone") await rm(join(dir, entry), { force: true });
  }
}

/**
 * Runs `fn` while holding `<path>.lock` (see the module comment for how abandoned locks are taken
 * over). Calls in the same process for the same path are queued as well. `leftovers` names the files
 * written under this lock; temp files of theirs left by processes that are gone (a crash between a
 * temp write and its rename) are removed once the lock is held.
 */
export async function withFileLock<T>(
  path: string,
  fn: () => Promise<T>,
  options: FileLockOptions & { leftovers?: (name: string) => boolean } = {},
): Promise<T> {
  const previous = inProcess.get(path) ?? Promise.resolve();
  const run = previous
    .catch(() => undefined)
    .then(async () => {
      const lockPath = `${path}.lock`;
      await mkdir(dirname(path), { recursive: true, mode: 0o700 });
      const text = await acquire(lockPath, options);
      try {
        await removeLeftoverTemps(lockPath, options.leftovers ?? ((name) => name === basename(path)));
        return await fn();
      } finally {
        await release(lockPath, text);
      }
    });
  inProcess.set(path, run);
  try {
    return await run;
  } finally {
    if (inProcess.get(path) === run) inProcess.delete(path);
  }
}
