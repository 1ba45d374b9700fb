/** Small file-system helpers: atomic writes with a mode, JSON files that may be absent (the lock file is in `file-lock.ts`). */
import { randomBytes } from "node:crypto";
import { mkdir, readFile, rename, rm, writeFile } from "node:fs/promises";
import { dirname } from "node:path";

/**
 * Writes `text` to `path` through a temp file in the same directory and a rename, so readers see the
 * old or the new content, never half of it. The file gets `mode` (default 0600).
 */
export async function writeFileAtomic(path: string, text: string, mode = 0o600): Promise<void> {
  await mkdir(dirname(path), { recursive: true, mode: 0o700 });
  const temp = `${path}.${process.pid}.${randomBytes(6).toString("hex")}.tmp`;
  try {
    await writeFile(temp, text, { mode, flag: "wx" });
    await rename(temp, path);
  } catch (error) {
    await rm(temp, { force: true });
    throw error;
  }
}

/**
 * The parsed JSON of the file at `path`, or undefined when there is none.
 * @throws Error naming the file and `remedy` when it is not valid JSON.
 */
export async function readJsonFileIfPresent(path: string, what: string, remedy: string): Promise<unknown> {
  let text: string;
  try {
    text = await readFile(path, "utf8");
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "ENOENT") return undefined;
    throw error;
  }
  try {
    return JSON.parse(text);
  } catch {
    throw new Error(`${what} ${path} is not valid JSON; ${remedy}`);
  }
}
