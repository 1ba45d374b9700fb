/** Splits a console line into arguments like redis-cli (quotes, escapes); see command-line.js. */
export function splitArgs(line: string): { ok: true; args: string[] } | { ok: false; error: string };
