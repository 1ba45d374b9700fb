#!/usr/bin/env node
/** Entry of `cdk synth`/`cdk deploy` (see cdk.json). Context: cacheplane:stage, cacheplane:engine, cacheplane:nag. */
import type { Engine } from "@cacheplane/core";
import { App } from "aws-cdk-lib";
import { buildExampleApp } from "../src/app.js";

const app = new App();
const engine = (app.node.tryGetContext("cacheplane:engine") ?? "valkey") as Engine;
buildExampleApp(app, {
  stage: app.node.tryGetContext("cacheplane:stage") ?? "dev",
  engine,
  nag: String(app.node.tryGetContext("cacheplane:nag") ?? "true") !== "false",
});
app.synth();
