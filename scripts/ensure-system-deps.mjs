#!/usr/bin/env node
// Checks the system programs the tests need and says how to get the missing ones.
// `.ci/run` installs them on CI; on a developer machine we only explain.
import { findExecutable, systemDeps } from "./system-deps.mjs";

const missing = [];
for (const dep of systemDeps) {
  const found = findExecutable(dep.candidates);
  if (found) continue;
  if (dep.required) missing.push(dep);
  else console.warn(`note: ${dep.name} not found; ${dep.why} will be skipped. ${dep.hint}`);
}
if (missing.length > 0) {
  for (const dep of missing) console.error(`error: ${dep.name} is required (${dep.why}). ${dep.hint}`);
  process.exit(1);
}
