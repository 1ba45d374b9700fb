/**
 * Service secrets as local JSON files, for development and tests: `<dir>/<service>.json` holds exactly
 * the secret payload (what a client reads through `REDIS_SECRET_FILE`), and `<dir>/.cacheplane-state.json`
 * holds the bookkeeping (user id, last write, rotation start). Files are 0600, a directory this store
 * creates is 0700, and every write is atomic (temp file + rename).
 */
import { readdir, readFile, rm, stat } from "node:fs/promises";
import { join, resolve } from "node:path";
import {
  normalizeKeyspace,
  parseSecretPayload,
  type ResolvedService,
  type SecretPayload,
  SecretPayloadError,
} from "@cacheplane/core";
import { ensurePrivateDirectory, writeFileAtomic } from "./atomic-file.js";
import { SecretStoreError } from "./errors.js";
import type { SecretStore, StoredSecret } from "./types.js";

/** Name of the bookkeeping file inside the secrets directory. */
export const FILE_STORE_STATE_FILE = ".cacheplane-state.json";

interface StateEntry {
  userId: string;
  file: string;
  updatedAt: string;
  rotation?: { startedAt: string };
}

interface StateFile {
  version: 1;
  services: Record<string, StateEntry>;
}

function isMissing(error: unknown): boolean {
  return (error as NodeJS.ErrnoException | undefined)?.code === "ENOENT";
}

/** Secrets as `<dir>/<service>.json` files (the payload, nothing else) plus a sidecar state file. */
export class FileSecretStore implements SecretStore {
  readonly kind = "file" as const;
  /** Absolute path of the secrets directory. */
  readonly dir: string;

  /** @param dir the secrets directory, e.g. `.cacheplane/secrets`; created (0700) on the first write. */
  constructor(dir: string) {
    this.dir = resolve(dir);
  }

  /** The file name of a service's secret: its name normalised like a keyspace, plus `.json`. */
  fileName(service: Pick<ResolvedService, "name">): string {
    const base = normalizeKeyspace(service.name);
    if (base.length === 0)
      throw new SecretStoreError(`Service "${service.name}" has no characters usable in a file name.`);
    return `${base}.json`;
  }

  /** Absolute path of the service's secret file (for `REDIS_SECRET_FILE`). */
  locate(service: ResolvedService): string {
    return join(this.dir, this.fileName(service));
  }

  /**
   * The service's secret, or undefined when its file does not exist. `rotation` is set while the payload
   * holds a `previousPassword`.
   * @throws SecretStoreError when the file cannot be read or is not a valid secret (the message names the
   * file and the bad fields, never a password).
   */
  async get(service: ResolvedService): Promise<StoredSecret | undefined> {
    const path = this.locate(service);
    let text: string;
    try {
      text = await readFile(path, "utf8");
    } catch (error) {
      if (isMissing(error)) return undefined;
      throw new SecretStoreError(`Cannot read the secret file ${path}: ${(error as Error).message}`, path);
    }
    const payload = this.parse(text, path);
    const entry = (await this.readState()).services[service.name];
    const updatedAt = entry?.updatedAt ?? (await stat(path)).mtime.toISOString();
    const secret: StoredSecret = {
      service: service.name,
      userId: entry?.userId ?? payload.username,
      payload,
      updatedAt,
    };
    if (payload.previousPassword !== undefined)
      secret.rotation = { startedAt: entry?.rotation?.startedAt ?? updatedAt };
    return secret;
  }

  /** Writes the payload file (atomically, 0600), then the bookkeeping. */
  async put(
    service: ResolvedService,
    payload: SecretPayload,
    meta: { rotation?: { startedAt: string } } = {},
  ): Promise<void> {
    const path = this.locate(service);
    let valid: SecretPayload;
    try {
      valid = parseSecretPayload(payload, path);
    } catch (error) {
      if (error instanceof SecretPayloadError) throw new SecretStoreError(error.message, path);
      throw error;
    }
    await ensurePrivateDirectory(this.dir);
    await writeFileAtomic(path, `${JSON.stringify(valid, null, 2)}\n`);
    const state = await this.readState();
    const entry: StateEntry = {
      userId: service.userId,
      file: this.fileName(service),
      updatedAt: new Date().toISOString(),
    };
    if (meta.rotation !== undefined) entry.rotation = { startedAt: meta.rotation.startedAt };
    state.services[service.name] = entry;
    await this.writeState(state);
  }

  /** User ids of every secret file in the directory (from the state file, else the payload's username). */
  async listManagedUserIds(): Promise<string[]> {
    const ids = new Set<string>();
    for (const { userId } of await this.secretFiles()) ids.add(userId);
    return [...ids].sort();
  }

  /** Deletes every secret file of `userId` and its bookkeeping. Missing files are fine. */
  async remove(userId: string): Promise<void> {
    for (const file of await this.secretFiles()) {
      if (file.userId === userId) await rm(join(this.dir, file.file), { force: true });
    }
    const state = await this.readState();
    let changed = false;
    for (const [name, entry] of Object.entries(state.services)) {
      if (entry.userId === userId) {
        delete state.services[name];
        changed = true;
      }
    }
    if (changed) await this.writeState(state);
  }

  private parse(text: string, path: string): SecretPayload {
    try {
      return parseSecretPayload(text, path);
    } catch (error) {
      if (error instanceof SecretPayloadError)
        throw new SecretStoreError(
          `${error.message}. Fix the file, or delete it to have apply generate a new password.`,
          path,
        );
      throw error;
    }
  }

  /** Secret files (not hidden, `.json`) that hold a valid payload, with their user id. */
  private async secretFiles(): Promise<{ file: string; userId: string }[]> {
    let names: string[];
    try {
      names = await readdir(this.dir);
    } catch (error) {
      if (isMissing(error)) return [];
      throw new SecretStoreError(
        `Cannot list the secrets directory ${this.dir}: ${(error as Error).message}`,
        this.dir,
      );
    }
    const state = await this.readState();
    const userIdByFile = new Map(Object.values(state.services).map((e) => [e.file, e.userId]));
    const files: { file: string; userId: string }[] = [];
    for (const file of names.sort()) {
      if (file.startsWith(".") || !file.endsWith(".json")) continue;
      let payload: SecretPayload;
      try {
        payload = parseSecretPayload(await readFile(join(this.dir, file), "utf8"));
      } catch {
        continue; // not a secret of ours
      }
      files.push({ file, userId: userIdByFile.get(file) ?? payload.username });
    }
    return files;
  }

  private async readState(): Promise<StateFile> {
    const path = join(this.dir, FILE_STORE_STATE_FILE);
    let text: string;
    try {
      text = await readFile(path, "utf8");
    } catch (error) {
      if (isMissing(error)) return { version: 1, services: {} };
      throw new SecretStoreError(`Cannot read ${path}: ${(error as Error).message}`, path);
    }
    try {
      const parsed = JSON.parse(text) as Partial<StateFile>;
      if (
        typeof parsed !== "object" ||
        parsed === null ||
        typeof parsed.services !== "object" ||
        parsed.services === null
      )
        throw new Error("no services map");
      return { version: 1, services: parsed.services };
    } catch {
      throw new SecretStoreError(
        `${path} is not valid Cacheplane state; delete it (it only holds bookkeeping and is rebuilt on the next writes).`,
        path,
      );
    }
  }

  private async writeState(state: StateFile): Promise<void> {
    await writeFileAtomic(join(this.dir, FILE_STORE_STATE_FILE), `${JSON.stringify(state, null, 2)}\n`);
  }
}
