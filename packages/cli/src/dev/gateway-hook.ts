/**
 * Where `cacheplane dev` starts the HTTP gateway next to the local redis-server. A no-op until the
 * gateway package provides a Node server entry point; the dev platform already calls it and stops what
 * it returns.
 */
import type { PlatformConfig } from "@cacheplane/core";

/** What the gateway needs to serve the dev platform. */
export interface DevGatewayContext {
  config: PlatformConfig;
  /** The local server. */
  redis: { host: string; port: number };
  /** Service name -> secret file path. */
  secrets: Record<string, string>;
  /** The dev directory (for token files and the like). */
  dir: string;
  /** Writes a progress line to stderr. */
  log(line: string): void;
}

/** A running gateway. */
export interface DevGateway {
  /** Base URL, e.g. `http://127.0.0.1:8080`; the console is at `<url>/console`. */
  url: string;
  /** Lines to print with the dev instructions (tokens as file paths, never their values). */
  instructions: string[];
  stop(): Promise<void>;
}

/** Starts the gateway for the dev platform when available; resolves to `undefined` for now. */
export async function startGatewayIfAvailable(_context: DevGatewayContext): Promise<DevGateway | undefined> {
  return undefined;
}
