#!/usr/bin/env node
// The `cacheplane` binary: registers tsx so the CLI (and `cacheplane.config.ts`) run from TypeScript source.
import { register } from "tsx/esm/api";

register();
const { runCli } = await import("../src/main.ts");
process.exitCode = await runCli(process.argv.slice(2));
