/** Free local TCP ports for the dev server. */
import { createServer } from "node:net";

/** Ports the dev server never picks by itself (a shared Redis usually lives on 6379). */
const AVOIDED_PORTS = new Set([6379]);

/** Resolves to the port actually bound when listening on `port` (0 = any) on 127.0.0.1 works, else undefined. */
function tryBind(port: number): Promise<number | undefined> {
  return new Promise((resolve) => {
    const server = createServer();
    server.unref();
    server.once("error", () => resolve(undefined));
    server.listen({ host: "127.0.0.1", port, exclusive: true }, () => {
      const address = server.address();
      const bound = typeof address === "object" && address !== null ? address.port : undefined;
      server.close(() => resolve(bound));
    });
  });
}

/** True when nothing listens on `port` on 127.0.0.1 right now. */
export async function isPortFree(port: number): Promise<boolean> {
  return (await tryBind(port)) === port;
}

/** A port that was free a moment ago (never 6379). Someone may still take it: callers retry on EADDRINUSE. */
export async function getFreePort(): Promise<number> {
  for (let attempt = 0; attempt < 20; attempt++) {
    const port = await tryBind(0);
    if (port !== undefined && !AVOIDED_PORTS.has(port)) return port;
  }
  throw new Error("could not find a free TCP port on 127.0.0.1");
}
