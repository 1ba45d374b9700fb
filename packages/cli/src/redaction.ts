/**
 * Keeps secrets out of everything the CLI prints. Commands register every password they learn (from
 * target URLs, secret files, the dev admin file); the CLI's output streams pass through `redact`, so a
 * password cannot reach stdout or stderr even inside a library's error message.
 */

const URL_CREDENTIALS = /\b(rediss?:\/\/[^:@/\s]*:)([^@\s/]+)@/gi;
const MASK = "***";

/** Masks the password of every Redis URL in `text`, except placeholders such as `<password>` in hints. */
function maskUrls(text: string): string {
  return text.replace(URL_CREDENTIALS, (match, head: string, password: string) =>
    /^<[a-z-]+>$/.test(password) ? match : `${head}${MASK}@`,
  );
}

/** A set of secret strings and a function that masks them (and any `redis://user:pw@` password) in text. */
export class Redactor {
  private readonly secrets = new Set<string>();

  /** Remembers a secret; it is masked in all later output. Empty and very short strings are ignored. */
  add(secret: string | undefined): void {
    if (secret === undefined || secret.length < 4) return;
    this.secrets.add(secret);
    for (const variant of [encodeURIComponent(secret), safeDecode(secret)]) {
      if (variant.length >= 4) this.secrets.add(variant);
    }
  }

  /** `text` with every registered secret and every password in a Redis URL replaced by `***`. */
  redact(text: string): string {
    let out = maskUrls(text);
    const longestFirst = [...this.secrets].sort((a, b) => b.length - a.length);
    for (const secret of longestFirst) out = out.split(secret).join(MASK);
    return out;
  }
}

function safeDecode(value: string): string {
  try {
    return decodeURIComponent(value);
  } catch {
    return value;
  }
}

/** A Redis URL with its password replaced by `***`, safe to print: `redis://admin:***@host:6379`. */
export function redactUrl(url: string): string {
  return maskUrls(url);
}
