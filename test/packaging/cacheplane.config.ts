// The platform config of the packaging test's fresh project. Type annotations on purpose: the installed
// `cacheplane` binary has to load real TypeScript, not JavaScript that happens to be valid TypeScript.
import { defineConfig, type PlatformConfigInput } from "@cacheplane/core";

const services: PlatformConfigInput["services"] = [
  { name: "orders-api", keyspace: "orders", access: "read-write" },
];

export default defineConfig({ stage: "test", region: "local", services });
