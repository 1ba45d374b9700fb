// Splits a console line into arguments the way redis-cli does (sdssplitargs):
//   - arguments are separated by white space;
//   - "double quotes" allow \" \\ \n \r \t \b \a and \xHH escapes;
//   - 'single quotes' allow \' only;
//   - a closing quote must be followed by white space or the end of the line.
// Escaped bytes are collected as bytes; an argument is decoded as UTF-8 when it is valid UTF-8
// (so "\xe2\x82\xac" is the euro sign), else byte by byte (Latin-1).

const SPACE = /[ \n\r\t\v\f]/;
const ESCAPES = { n: 10, r: 13, t: 9, b: 8, a: 7 };

function isHex(c) {
  return c !== undefined && /^[0-9a-fA-F]$/.test(c);
}

function pushText(bytes, text) {
  for (const b of new TextEncoder().encode(text)) bytes.push(b);
}

function decodeArgument(bytes) {
  const array = Uint8Array.from(bytes);
  try {
    return new TextDecoder("utf-8", { fatal: true }).decode(array);
  } catch {
    return String.fromCharCode(...array);
  }
}

/**
 * Splits `line` into arguments.
 * @param {string} line
 * @returns {{ ok: true, args: string[] } | { ok: false, error: string }}
 */
export function splitArgs(line) {
  const args = [];
  let i = 0;
  const chars = Array.from(line);
  for (;;) {
    while (i < chars.length && SPACE.test(chars[i])) i++;
    if (i >= chars.length) return { ok: true, args };
    const bytes = [];
    let inDouble = false;
    let inSingle = false;
    let done = false;
    while (!done) {
      const c = chars[i];
      if (inDouble) {
        if (c === undefined) return { ok: false, error: "Invalid argument(s): unbalanced double quotes" };
        if (c === "\\" && chars[i + 1] === "x" && isHex(chars[i + 2]) && isHex(chars[i + 3])) {
          bytes.push(Number.parseInt(`${chars[i + 2]}${chars[i + 3]}`, 16));
          i += 3;
        } else if (c === "\\" && chars[i + 1] !== undefined) {
          i++;
          const e = chars[i];
          if (e in ESCAPES) bytes.push(ESCAPES[e]);
          else pushText(bytes, e);
        } else if (c === '"') {
          if (chars[i + 1] !== undefined && !SPACE.test(chars[i + 1])) {
            return { ok: false, error: "Invalid argument(s): closing quote must be followed by a space" };
          }
          done = true;
        } else {
          pushText(bytes, c);
        }
      } else if (inSingle) {
        if (c === undefined) return { ok: false, error: "Invalid argument(s): unbalanced single quotes" };
        if (c === "\\" && chars[i + 1] === "'") {
          i++;
          bytes.push(39);
        } else if (c === "'") {
          if (chars[i + 1] !== undefined && !SPACE.test(chars[i + 1])) {
            return { ok: false, error: "Invalid argument(s): closing quote must be followed by a space" };
          }
          done = true;
        } else {
          pushText(bytes, c);
        }
      } else if (c === undefined || SPACE.test(c)) {
        done = true;
      } else if (c === '"') {
        inDouble = true;
      } else if (c === "'") {
        inSingle = true;
      } else {
        pushText(bytes, c);
      }
      if (c !== undefined) i++;
    }
    args.push(decodeArgument(bytes));
  }
}
