/** `ACL SAVE` after changes, so users survive a restart of servers that load users from an aclfile. */
import type { AdminConnection } from "./admin-connection.js";
import { TargetError } from "./errors.js";

/**
 * When to run `ACL SAVE` after a change:
 * - `"auto"` (default): on nodes whose `CONFIG GET aclfile` is set; where the admin may not run
 *   CONFIG, try `ACL SAVE` and ignore "not configured to use an ACL file".
 * - `true`: always, and fail when a node has no aclfile.
 * - `false`: never (users then live in memory until saved some other way).
 */
export type AclSaveMode = "auto" | boolean;

const NO_ACL_FILE = /not configured to use an ACL file/i;

/** Remembers, per node, whether it has an aclfile, and saves accordingly. */
export class AclPersistence {
  private readonly hasAclFile = new Map<AdminConnection, boolean | "unknown">();

  constructor(private readonly mode: AclSaveMode) {}

  /** Saves the ACL on each of `nodes` according to the mode. */
  async save(nodes: readonly AdminConnection[]): Promise<void> {
    if (this.mode === false) return;
    await Promise.all(nodes.map((node) => this.saveOne(node)));
  }

  private async saveOne(node: AdminConnection): Promise<void> {
    if (this.mode === true) {
      await node.call(["ACL", "SAVE"]);
      return;
    }
    const known = this.hasAclFile.get(node) ?? (await this.probe(node));
    if (known === false) return;
    try {
      await node.call(["ACL", "SAVE"]);
    } catch (error) {
      if (error instanceof TargetError && NO_ACL_FILE.test(error.serverMessage ?? "")) {
        this.hasAclFile.set(node, false);
        return;
      }
      throw error;
    }
  }

  private async probe(node: AdminConnection): Promise<boolean | "unknown"> {
    let known: boolean | "unknown";
    try {
      const reply = await node.call(["CONFIG", "GET", "aclfile"]);
      known = Array.isArray(reply) && typeof reply[1] === "string" && reply[1].length > 0;
    } catch {
      known = "unknown";
    }
    this.hasAclFile.set(node, known);
    return known;
  }
}
