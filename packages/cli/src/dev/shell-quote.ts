/** Quoting for the shell commands `cacheplane dev` prints, so they paste safely whatever the paths hold. */

/** `value` as one POSIX shell word: unchanged when it is plain, else single-quoted. */
export function shellWord(value: string): string {
  if (/^[A-Za-z0-9_./:=@%+-]+$/.test(value)) return value;
  return `'${value.replace(/'/g, `'\\''`)}'`;
}

/**
 * A shell expression that prints the `password` field of a JSON file without a JSON tool:
 * `"$(node -p 'require("/path/secret.json").password')"`. The password itself never appears.
 */
export function passwordFromFile(file: string): string {
  return fieldFromFile(file, "password");
}

/** Like {@link passwordFromFile}, for any top-level string field (`readWrite`, `readOnly` of a token file). */
export function fieldFromFile(file: string, field: string): string {
  const script = `require(${JSON.stringify(file)})[${JSON.stringify(field)}]`;
  return `"$(node -p ${shellWord(script)})"`;
}
