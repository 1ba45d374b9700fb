// A raw RESP2 connection to redis-server (no client library in between), to compare the bytes the
// gateway answers with `Upstash-Response-Format: resp2` with what Redis itself sends.
import { connect, type Socket } from "node:net";

/** The end offset of the RESP2 frame starting at `offset`, or -1 when `buffer` does not hold all of it. */
export function frameEnd(buffer: Buffer, offset: number): number {
  if (offset >= buffer.length) return -1;
  const lineEnd = buffer.indexOf("\r\n", offset);
  if (lineEnd < 0) return -1;
  const type = String.fromCharCode(buffer[offset]!);
  if (type === "+" || type === "-" || type === ":") return lineEnd + 2;
  const n = Number(buffer.toString("latin1", offset + 1, lineEnd));
  if (type === "$") {
    if (n < 0) return lineEnd + 2;
    const end = lineEnd + 2 + n + 2;
    return end <= buffer.length ? end : -1;
  }
  if (type === "*") {
    let at = lineEnd + 2;
    for (let i = 0; i < Math.max(0, n); i++) {
      at = frameEnd(buffer, at);
      if (at < 0) return -1;
    }
    return at;
  }
  throw new Error(`not RESP2: ${JSON.stringify(buffer.toString("latin1", offset, offset + 20))}`);
}

function encodeCommand(args: readonly (string | Buffer)[]): Buffer {
  const parts: Buffer[] = [Buffer.from(`*${args.length}\r\n`)];
  for (const arg of args) {
    const bytes = typeof arg === "string" ? Buffer.from(arg, "utf8") : arg;
    parts.push(Buffer.from(`$${bytes.length}\r\n`), bytes, Buffer.from("\r\n"));
  }
  return Buffer.concat(parts);
}

export interface RawRedis {
  /** Sends one command and resolves with the exact bytes of its reply. */
  send(args: readonly (string | Buffer)[]): Promise<Buffer>;
  close(): void;
}

/** Opens a raw connection and authenticates as `username`. */
export async function rawRedis(
  host: string,
  port: number,
  username: string,
  password: string,
): Promise<RawRedis> {
  const socket: Socket = connect({ host, port });
  await new Promise<void>((resolve, reject) => socket.once("connect", resolve).once("error", reject));
  let pending = Buffer.alloc(0);
  let waiter: ((reply: Buffer) => void) | undefined;
  socket.on("data", (chunk: Buffer) => {
    pending = Buffer.concat([pending, chunk]);
    const end = frameEnd(pending, 0);
    if (end >= 0 && waiter) {
      const reply = pending.subarray(0, end);
      pending = pending.subarray(end);
      const done = waiter;
      waiter = undefined;
      done(Buffer.from(reply));
    }
  });
  const send = (args: readonly (string | Buffer)[]) =>
    new Promise<Buffer>((resolve) => {
      waiter = resolve;
      socket.write(encodeCommand(args));
    });
  const auth = await send(["AUTH", username, password]);
  if (auth.toString() !== "+OK\r\n") throw new Error("AUTH failed");
  return { send, close: () => socket.destroy() };
}
