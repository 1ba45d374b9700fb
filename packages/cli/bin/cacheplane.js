#!/usr/bin/env node
// The `cacheplane` binary. Installed from a package it runs the built JavaScript (`dist/`); tsx is
// then only used to load a `cacheplane.config.ts`. In a checkout of the Cacheplane repository (this
// file is not inside node_modules) it runs the TypeScript sources with no build step: it registers tsx
// and the `@cacheplane/source` export condition, which resolves every Cacheplane package to its `src/`.
// See docs/decisions/0006-built-packages-source-condition.md.
import { existsSync } from "node:fs";
import { register } from "node:module";
import { sep } from "node:path";
import { fileURLToPath } from "node:url";

const fromCheckout = !fileURLToPath(import.meta.url)
  .split(sep)
  .includes("node_modules");
let main = new URL("../dist/main.js", import.meta.url);
if (fromCheckout) {
  const { register: registerTsx } = await import("tsx/esm/api");
  registerTsx();
  register(new URL("./source-condition.mjs", import.meta.url));
  main = new URL("../src/main.ts", import.meta.url);
} else if (!existsSync(main)) {
  console.error(`cacheplane: ${fileURLToPath(main)} is missing; reinstall @cacheplane/cli`);
  process.exit(1);
}
if (process.env.CACHEPLANE_GATEWAY_WORKER === "1" && process.send !== undefined) {
  // A worker of `cacheplane gateway --workers N`: loads only the gateway, exits once drained.
  const worker = new URL(`commands/gateway-workers.${fromCheckout ? "ts" : "js"}`, main);
  const { runGatewayWorker } = await import(worker.href);
  process.exit(await runGatewayWorker());
}
const { runCli } = await import(main.href);
process.exitCode = await runCli(process.argv.slice(2));
