/** Classifying Redis error replies the doctor expects (NOPERM) and the ones that mean "allowed". */

/** The error text of a failed command, or `undefined` when it succeeded. */
export async function errorOf(call: Promise<unknown>): Promise<{ value?: unknown; error?: string }> {
  try {
    return { value: await call };
  } catch (error) {
    return { error: (error as Error).message };
  }
}

/** True for an ACL refusal (`NOPERM ...`). */
export function isNoPerm(message: string | undefined): boolean {
  return message !== undefined && /^NOPERM\b/.test(message);
}

/** True when the refusal is about the command itself (not the keys): the user lacks that command. */
export function isCommandRefusal(message: string | undefined): boolean {
  return isNoPerm(message) && /command/i.test(message ?? "");
}
