import { createServer } from "node:net";

/** The shared development Redis lives here; never hand it out, even if the kernel would. */
const RESERVED_PORTS = new Set([6379]);

/** True for ports the testkit never uses (the shared development Redis on 6379). */
export function isReservedPort(port: number): boolean {
  return RESERVED_PORTS.has(port);
}

function bindEphemeralPort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.unref();
    server.once("error", reject);
    server.listen({ host: "127.0.0.1", port: 0, exclusive: true }, () => {
      const address = server.address();
      const port = typeof address === "object" && address !== null ? address.port : 0;
      server.close(() => {
        if (port > 0) resolve(port);
        else reject(new Error(`getFreePort: could not read the bound port (${String(address)})`));
      });
    });
  });
}

/**
 * Returns a TCP port that was free on 127.0.0.1 a moment ago (binds port 0, reads the port, closes).
 * Another process may still grab it before you bind it: callers retry on "Address already in use".
 */
export async function getFreePort(): Promise<number> {
  for (let attempt = 0; attempt < 20; attempt++) {
    const port = await bindEphemeralPort();
    if (!RESERVED_PORTS.has(port)) return port;
  }
  throw new Error("getFreePort: the kernel kept returning reserved ports");
}
