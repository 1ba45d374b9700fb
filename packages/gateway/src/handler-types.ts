/**
 * What the gateway's one handler core reads and answers. Every adapter builds a
 * {@link GatewayRequest} from what it already holds (a Web `Request`, a `node:http` request whose body
 * was read into a Buffer, ...) and turns the {@link GatewayResponse} into its own kind of answer (a
 * Web `Response`, or `res.writeHead` + `res.end`), so all of them share routing, tokens, policy,
 * errors, CORS and logging, and answer alike.
 */

import type { RequestUrl } from "./request-target.js";

/** A request as the handler core reads it. */
export interface GatewayRequest {
  /** The method as received (the core upper-cases it). */
  readonly method: string;
  /** Path and query of the request (a `URL` will do); scheme and host are not used. */
  readonly url: RequestUrl;
  /** A header by lower-case name, `null` when absent; several values joined with ", ". */
  header(name: string): string | null;
  /** The body (empty when there is none); a 413 `GatewayError` when it exceeds `maxBytes`. */
  body(maxBytes: number): Buffer | Promise<Buffer>;
}

/** An answer of the handler core. */
export interface GatewayResponse {
  status: number;
  /** Header names are lower-case. Adapters write them in sorted order, as a Web `Headers` lists them. */
  headers: Record<string, string>;
  /** JSON text, file bytes, a Server-Sent Events stream, or no body (HEAD, 204, 308). */
  body: string | Uint8Array | ReadableStream<Uint8Array> | null;
}
