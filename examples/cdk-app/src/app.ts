/**
 * The example app: one platform stack, one stack per service. `buildExampleApp` is what `bin/app.ts`
 * runs and what the tests synthesize in-process.
 */
import type { Engine } from "@cacheplane/core";
import { type App, Validations } from "aws-cdk-lib";
import { AwsSolutionsChecks } from "cdk-nag";
import { acknowledge, platformFindings, serviceFindings } from "./nag-suppressions.js";
import { PlatformStack } from "./platform-stack.js";
import { ServiceStack } from "./service-stack.js";
import { exampleServices } from "./services.js";

/** A fixed, fictional environment: synthesizing never needs an AWS account. */
export const EXAMPLE_ENV = { account: "123456789012", region: "eu-west-1" } as const;

export interface ExampleAppOptions {
  /** @default "dev" */
  stage?: string;
  /** @default "valkey" */
  engine?: Engine;
  /** Run cdk-nag's AwsSolutions checks during synthesis (failing it on unacknowledged findings). @default false */
  nag?: boolean;
}

export interface ExampleApp {
  platform: PlatformStack;
  services: ServiceStack[];
}

export function buildExampleApp(app: App, options: ExampleAppOptions = {}): ExampleApp {
  const stage = options.stage ?? "dev";
  const engine = options.engine ?? "valkey";
  const platform = new PlatformStack(app, `CacheplanePlatform-${stage}`, {
    env: EXAMPLE_ENV,
    stage,
    engine,
    description: `Cacheplane example: shared cache platform (${stage})`,
  });
  acknowledge(platformFindings(platform));
  const services = exampleServices.map((service) => {
    const stack = new ServiceStack(app, `Cacheplane${service.id}-${stage}`, {
      env: EXAMPLE_ENV,
      stage,
      engine,
      service,
      description: `Cacheplane example: service ${service.declaration.name} (${stage})`,
    });
    // Deploy order only; the service reads the platform's SSM exports, not its outputs.
    stack.addStackDependency(platform);
    acknowledge(serviceFindings(stack));
    return stack;
  });
  if (options.nag) Validations.of(app).addPlugins(new AwsSolutionsChecks(app, { verbose: true }));
  return { platform, services };
}
