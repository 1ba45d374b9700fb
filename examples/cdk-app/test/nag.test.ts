/**
 * cdk-nag's AwsSolutions checks over the whole example app. cdk-nag v3 runs as a CDK policy
 * validation plugin: unacknowledged findings fail synthesis and land in the validation report. Every
 * acknowledgement must carry a reason.
 */
import assert from "node:assert/strict";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, it } from "node:test";
import { App, Validations } from "aws-cdk-lib";
import { Annotations, Match } from "aws-cdk-lib/assertions";
import type { IConstruct } from "constructs";
import { buildExampleApp } from "../src/app.js";

const outdir = mkdtempSync(join(tmpdir(), "cacheplane-nag-"));
const app = new App({
  outdir,
  builtinCloudFormationValidation: false,
  context: { "aws:cdk:bundling-stacks": [] },
});
const built = buildExampleApp(app, { nag: true });
let synthError: unknown;
try {
  app.synth();
} catch (error) {
  synthError = error;
}
after(() => rmSync(outdir, { recursive: true, force: true }));

interface Report {
  pluginReports: { pluginName: string; summary?: { status?: string }; violations?: { ruleName: string }[] }[];
}

/** Every acknowledgement recorded in the tree (metadata: `{ "<plugin>::<rule>": "<reason>" }`). */
function acknowledgements(root: IConstruct): { path: string; id: string; reason: string }[] {
  return root.node.findAll().flatMap((c) =>
    c.node.metadata
      .filter((m) => m.type === Validations.ACKNOWLEDGED_RULES_METADATA_KEY)
      .flatMap((m) => Object.entries(m.data as Record<string, string>))
      .map(([id, reason]) => ({ path: c.node.path, id, reason })),
  );
}

describe("cdk-nag AwsSolutions on the example app", () => {
  it("synthesizes with no unacknowledged finding", () => {
    assert.equal(synthError, undefined, String(synthError));
    const report = JSON.parse(readFileSync(join(outdir, "validation-report.json"), "utf8")) as Report;
    const nag = report.pluginReports.filter((r) => /AwsSolutions/i.test(r.pluginName));
    assert.equal(
      nag.length,
      1,
      `the AwsSolutions pack ran: ${JSON.stringify(report.pluginReports.map((r) => r.pluginName))}`,
    );
    const violations = nag.flatMap((r) => r.violations ?? []).map((v) => v.ruleName);
    assert.deepEqual(violations, []);
  });

  it("leaves no error or warning annotations on any stack", () => {
    for (const stack of [built.platform, ...built.services]) {
      assert.deepEqual(Annotations.fromStack(stack).findError("*", Match.anyValue()), [], stack.stackName);
      const warnings = Annotations.fromStack(stack)
        .findWarning("*", Match.anyValue())
        .filter((w) => !String(w.entry.data).includes("[ack:"));
      assert.deepEqual(
        warnings.map((w) => `${w.id}: ${w.entry.data}`).filter((w) => !w.includes("noSubnetRouteTableId")),
        [],
        stack.stackName,
      );
    }
  });

  it("explains every acknowledgement", () => {
    const acks = acknowledgements(app);
    assert.ok(acks.length > 0);
    for (const ack of acks) {
      assert.ok(ack.reason.trim().length >= 30, `${ack.path} acknowledges ${ack.id} without a real reason`);
    }
    const nagAcks = [
      ...new Set(acks.map((a) => a.id.replace(/\[.*$/, "")).filter((id) => id.startsWith("AwsSolutions"))),
    ];
    assert.deepEqual(
      nagAcks.sort(),
      ["AwsSolutions::AwsSolutions-IAM4"],
      "only this rule is accepted (SMG4 is met: the services' secrets rotate)",
    );
  });
});
