/**
 * A stateful Secrets Manager behind aws-sdk-client-mock (secrets by name: value and tags), for tests
 * that run the provisioner's AWS path end to end. Not a test file itself.
 */
import {
  CreateSecretCommand,
  GetSecretValueCommand,
  ListSecretsCommand,
  PutSecretValueCommand,
  ResourceNotFoundException,
  SecretsManagerClient,
} from "@aws-sdk/client-secrets-manager";
import { mockClient } from "aws-sdk-client-mock";

/** A stateful Secrets Manager behind aws-sdk-client-mock: name -> value and tags. */
export function fakeSecretsManager() {
  const client = new SecretsManagerClient({
    region: "eu-west-1",
    credentials: { accessKeyId: "AKIDTEST", secretAccessKey: "test" },
  });
  const secrets = new Map<
    string,
    { ARN: string; SecretString: string; Tags: { Key: string; Value: string }[] }
  >();
  const mock = mockClient(client);
  const notFound = () =>
    new ResourceNotFoundException({ message: "not found", $metadata: { httpStatusCode: 400 } });
  mock.on(GetSecretValueCommand).callsFake(({ SecretId }) => {
    const s = secrets.get(SecretId);
    if (!s) throw notFound();
    return { ARN: s.ARN, Name: SecretId, SecretString: s.SecretString, CreatedDate: new Date(0) };
  });
  mock.on(PutSecretValueCommand).callsFake(({ SecretId, SecretString }) => {
    const s = secrets.get(SecretId);
    if (!s) throw notFound();
    s.SecretString = SecretString;
    return { ARN: s.ARN };
  });
  mock.on(CreateSecretCommand).callsFake(({ Name, SecretString, Tags }) => {
    const ARN = `arn:aws:secretsmanager:eu-west-1:123456789012:secret:${Name}-AbCdEf`;
    secrets.set(Name, { ARN, SecretString, Tags });
    return { ARN, Name };
  });
  mock.on(ListSecretsCommand).callsFake(() => ({
    SecretList: [...secrets].map(([Name, s]) => ({ Name, ARN: s.ARN, Tags: s.Tags })),
  }));
  return { client, secrets };
}
