/**
 * A Secrets Manager with versions and staging labels (AWSCURRENT, AWSPENDING, AWSPREVIOUS) behind
 * aws-sdk-client-mock, for rotation tests: DescribeSecret, GetSecretValue by stage or version,
 * PutSecretValue with a ClientRequestToken, UpdateSecretVersionStage. `beginRotation(token)` does what
 * RotateSecret does before it calls the rotation function: a version `token`, labelled AWSPENDING,
 * with no value yet. Not a test file itself.
 */
import {
  DescribeSecretCommand,
  GetSecretValueCommand,
  InvalidParameterException,
  PutSecretValueCommand,
  ResourceNotFoundException,
  SecretsManagerClient,
  UpdateSecretVersionStageCommand,
} from "@aws-sdk/client-secrets-manager";
import { mockClient } from "aws-sdk-client-mock";

const meta = { $metadata: { httpStatusCode: 400 } };

export function versionedSecretsManager(name: string, initial: string) {
  const client = new SecretsManagerClient({
    region: "eu-west-1",
    credentials: { accessKeyId: "AKIDTEST", secretAccessKey: "test" },
  });
  const arn = `arn:aws:secretsmanager:eu-west-1:123456789012:secret:${name}-AbCdEf`;
  const versions = new Map<string, { value: string | undefined; stages: string[] }>([
    ["v0", { value: initial, stages: ["AWSCURRENT"] }],
  ]);
  let rotationEnabled = true;
  const mock = mockClient(client);
  const check = (id: string | undefined) => {
    if (id !== name && id !== arn) throw new ResourceNotFoundException({ message: "not found", ...meta });
  };
  const find = (stage?: string, versionId?: string) => {
    for (const [id, v] of versions) {
      if (versionId !== undefined && id !== versionId) continue;
      if (stage !== undefined && !v.stages.includes(stage)) continue;
      return { id, ...v };
    }
    return undefined;
  };
  mock.on(DescribeSecretCommand).callsFake(({ SecretId }) => {
    check(SecretId);
    return {
      ARN: arn,
      Name: name,
      RotationEnabled: rotationEnabled,
      VersionIdsToStages: Object.fromEntries([...versions].map(([id, v]) => [id, [...v.stages]])),
    };
  });
  mock.on(GetSecretValueCommand).callsFake(({ SecretId, VersionStage, VersionId }) => {
    check(SecretId);
    const found = find(VersionStage ?? (VersionId === undefined ? "AWSCURRENT" : undefined), VersionId);
    if (!found || found.value === undefined)
      throw new ResourceNotFoundException({ message: "version not found", ...meta });
    return {
      ARN: arn,
      Name: name,
      VersionId: found.id,
      SecretString: found.value,
      VersionStages: found.stages,
    };
  });
  mock
    .on(PutSecretValueCommand)
    .callsFake(({ SecretId, ClientRequestToken, SecretString, VersionStages }) => {
      check(SecretId);
      const existing = versions.get(ClientRequestToken!);
      if (existing?.value !== undefined && existing.value !== SecretString) {
        throw new InvalidParameterException({
          message: "a version with this token and another value exists",
          ...meta,
        });
      }
      for (const stage of VersionStages ?? ["AWSCURRENT"]) {
        for (const v of versions.values()) v.stages = v.stages.filter((s) => s !== stage);
      }
      versions.set(ClientRequestToken!, {
        value: SecretString!,
        stages: [...(VersionStages ?? ["AWSCURRENT"])],
      });
      return { ARN: arn, Name: name, VersionId: ClientRequestToken };
    });
  mock
    .on(UpdateSecretVersionStageCommand)
    .callsFake(({ SecretId, VersionStage, MoveToVersionId, RemoveFromVersionId }) => {
      check(SecretId);
      const from = RemoveFromVersionId !== undefined ? versions.get(RemoveFromVersionId) : undefined;
      if (from && !from.stages.includes(VersionStage!)) {
        throw new InvalidParameterException({ message: "the stage is not on RemoveFromVersionId", ...meta });
      }
      for (const v of versions.values())
        v.stages = v.stages.filter(
          (s) => s !== VersionStage && (VersionStage !== "AWSCURRENT" || s !== "AWSPREVIOUS"),
        );
      if (from && VersionStage === "AWSCURRENT") from.stages.push("AWSPREVIOUS");
      const to = versions.get(MoveToVersionId!);
      if (!to) throw new ResourceNotFoundException({ message: "version not found", ...meta });
      to.stages = [...to.stages.filter((s) => s !== "AWSPENDING"), VersionStage!];
      return { ARN: arn, Name: name };
    });
  return {
    client,
    mock,
    versions,
    arn,
    current: () => find("AWSCURRENT")!.value!,
    beginRotation: (token: string) => {
      if (versions.has(token)) return;
      for (const v of versions.values()) v.stages = v.stages.filter((s) => s !== "AWSPENDING");
      versions.set(token, { value: undefined, stages: ["AWSPENDING"] });
    },
    setRotationEnabled: (on: boolean) => {
      rotationEnabled = on;
    },
  };
}
