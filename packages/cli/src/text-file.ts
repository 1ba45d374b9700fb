/** Writing small state files atomically (a crash leaves the old or the new file, never half of one). */
import { rename, writeFile } from "node:fs/promises";

export async function writeTextFileAtomic(path: string, text: string): Promise<void> {
  const temporary = `${path}.${process.pid}.tmp`;
  await writeFile(temporary, text, { mode: 0o600 });
  await rename(temporary, path);
}
