// A tiny RESP2 client for readiness checks: one connection, a fixed batch of commands, no retries.
// Kept separate from ioredis so a probe never reconnects, queues or logs on its own.
import { connect as netConnect, type Socket } from "node:net";
import { connect as tlsConnect } from "node:tls";

export type RespValue = string | number | null | Error | RespValue[];

export interface ProbeTarget {
  host: string;
  port: number;
  /** When set, connect with TLS and verify the server certificate against this CA. */
  tls?: { ca: string; servername: string };
}

function encode(args: string[]): Buffer {
  const parts = [`*${args.length}\r\n`];
  for (const arg of args) parts.push(`$${Buffer.byteLength(arg)}\r\n${arg}\r\n`);
  return Buffer.from(parts.join(""));
}

/** Parses one reply at `offset`; returns undefined when the buffer does not hold a complete reply yet. */
function parseReply(buf: Buffer, offset: number): { value: RespValue; next: number } | undefined {
  const lineEnd = buf.indexOf("\r\n", offset);
  if (lineEnd === -1) return undefined;
  const type = String.fromCharCode(buf[offset]!);
  const line = buf.toString("utf8", offset + 1, lineEnd);
  const afterLine = lineEnd + 2;
  switch (type) {
    case "+":
      return { value: line, next: afterLine };
    case "-":
      return { value: new Error(line), next: afterLine };
    case ":":
      return { value: Number(line), next: afterLine };
    case "$": {
      const length = Number(line);
      if (length < 0) return { value: null, next: afterLine };
      if (buf.length < afterLine + length + 2) return undefined;
      return { value: buf.toString("utf8", afterLine, afterLine + length), next: afterLine + length + 2 };
    }
    case "*": {
      const count = Number(line);
      if (count < 0) return { value: null, next: afterLine };
      const items: RespValue[] = [];
      let next = afterLine;
      for (let i = 0; i < count; i++) {
        const item = parseReply(buf, next);
        if (!item) return undefined;
        items.push(item.value);
        next = item.next;
      }
      return { value: items, next };
    }
    default:
      throw new Error(`unexpected RESP reply type ${JSON.stringify(type)}`);
  }
}

/** Sends `commands` on one fresh connection and resolves with one reply per command (errors as Error values). */
export function sendCommands(
  target: ProbeTarget,
  commands: string[][],
  timeoutMs: number,
): Promise<RespValue[]> {
  return new Promise((resolve, reject) => {
    let settled = false;
    let buffer = Buffer.alloc(0);
    const replies: RespValue[] = [];
    const socket: Socket = target.tls
      ? tlsConnect({
          host: target.host,
          port: target.port,
          ca: target.tls.ca,
          servername: target.tls.servername,
        })
      : netConnect({ host: target.host, port: target.port });
    const finish = (error: Error | undefined) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      socket.destroy();
      if (error) reject(error);
      else resolve(replies);
    };
    const timer = setTimeout(() => finish(new Error(`no answer within ${timeoutMs} ms`)), timeoutMs);
    socket.once(target.tls ? "secureConnect" : "connect", () => {
      socket.write(Buffer.concat(commands.map(encode)));
    });
    socket.on("data", (chunk: Buffer) => {
      buffer = Buffer.concat([buffer, chunk]);
      try {
        let offset = 0;
        for (let reply = parseReply(buffer, offset); reply; reply = parseReply(buffer, offset)) {
          replies.push(reply.value);
          offset = reply.next;
          if (replies.length === commands.length) return finish(undefined);
        }
        buffer = buffer.subarray(offset);
      } catch (error) {
        finish(error as Error);
      }
    });
    socket.once("error", (error) => finish(error));
    socket.once("close", () => finish(new Error("connection closed before all replies arrived")));
  });
}
