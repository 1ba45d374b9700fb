/** Reads a request body up to a byte limit (413 beyond it), without trusting Content-Length alone. */
import { tooLarge } from "./errors.js";

/** Bodies adapters already hold as bytes (Node, Lambda): read without going through a stream. */
const knownBodies = new WeakMap<Request, Buffer>();

/** Records the bytes of a request an adapter built from a buffer it already had. */
export function rememberBody(request: Request, body: Buffer): Request {
  knownBodies.set(request, body);
  return request;
}

/** The body of `request` as bytes; empty for GET/HEAD. Throws 413 when it exceeds `maxBytes`. */
export async function readBody(request: Request, maxBytes: number): Promise<Buffer> {
  const known = knownBodies.get(request);
  if (known && !request.bodyUsed) {
    if (known.length > maxBytes)
      throw tooLarge(`body of ${known.length} bytes exceeds the limit of ${maxBytes} bytes`);
    return known;
  }
  const declared = request.headers.get("content-length");
  if (declared !== null && /^\d+$/.test(declared) && Number(declared) > maxBytes) {
    throw tooLarge(`body of ${declared} bytes exceeds the limit of ${maxBytes} bytes`);
  }
  if (!request.body) return Buffer.alloc(0);
  const reader = request.body.getReader();
  const chunks: Uint8Array[] = [];
  let total = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    total += value.byteLength;
    if (total > maxBytes) {
      await reader.cancel().catch(() => undefined);
      throw tooLarge(`body exceeds the limit of ${maxBytes} bytes`);
    }
    chunks.push(value);
  }
  return Buffer.concat(chunks, total);
}
