/**
 * `ServiceCacheAccess`: everything one service needs on the shared cache, in the service's own stack.
 * Its Redis user (id and access string from core), a generated secret in the one Cacheplane shape,
 * membership of the platform's user group (a custom resource, since the group is another stack's),
 * and for each consuming Lambda: read access to that secret only, `REDIS_SECRET_ARN`, and network access.
 */
import {
  AccessControl,
  IamUser,
  PasswordUser,
  type UserBase,
  UserEngine,
} from "@aws-cdk/aws-elasticache-alpha";
import {
  ConfigError,
  type Engine,
  parseConfig,
  type ResolvedService,
  type ServiceInput,
} from "@cacheplane/core";
import { Annotations, CustomResource, type Duration, RemovalPolicy, Stack, Tags, Token } from "aws-cdk-lib";
import type * as ec2 from "aws-cdk-lib/aws-ec2";
import * as iam from "aws-cdk-lib/aws-iam";
import type * as kms from "aws-cdk-lib/aws-kms";
import * as lambda from "aws-cdk-lib/aws-lambda";
import * as secretsmanager from "aws-cdk-lib/aws-secretsmanager";
import { Construct } from "constructs";
import { type ICachePlatform, platformKey } from "./cache-platform-interface.js";
import { registerMember } from "./group-capacity.js";
import { MEMBERSHIP_RESOURCE_TYPE } from "./handler/properties.js";
import { elastiCacheArn } from "./imported-cache-platform.js";
import { claimNames } from "./keyspace-registry.js";
import { MEMBERSHIP_SERVICE_TIMEOUT, MembershipHandler } from "./membership-handler.js";
import { RotationHandler } from "./rotation-handler.js";
import { invalid } from "./validation.js";

/** How the service's functions authenticate to the cache. */
export type ServiceAuthentication = "password" | "iam";

/** Who owns the service's ElastiCache user. */
export type UserManagement = "cloudformation" | "custom-resource";

/** Characters ElastiCache refuses in passwords (core's `isAcceptablePassword`), excluded explicitly. */
export const PASSWORD_EXCLUDED_CHARACTERS = ' ,"/@';
/** Length of generated passwords (core's `PASSWORD_LENGTH`). */
export const GENERATED_PASSWORD_LENGTH = 40;

/** Properties of {@link ServiceCacheAccess}. */
export interface ServiceCacheAccessProps {
  /** The platform, usually `CachePlatform.fromSsmParameters(...)` in a service stack. */
  readonly platform: ICachePlatform;
  /**
   * The service, as declared in a Cacheplane config (`{ name, keyspace?, access, sharedKeyspaces? }`) or
   * already resolved (`parseConfig(config).services[i]`).
   */
  readonly service: ServiceInput | ResolvedService;
  /**
   * Lambda functions that use the cache (defined here or imported, any `IFunction`): each gets read
   * access to this secret only, the environment variables (`REDIS_SECRET_ARN`, ...) when it is a
   * function of this app, and ingress to the cache from its security groups. They must be in the
   * platform's VPC. More can be added with `grantAccess`; other consumers (ECS tasks, instances)
   * with `grantConnect`.
   * @default none
   */
  readonly functions?: lambda.IFunction[];
  /**
   * `password`: the user authenticates with the generated password. `iam`: the user authenticates with
   * IAM auth tokens; functions get `elasticache:Connect` on the cache and the user.
   * @default "password"
   */
  readonly authentication?: ServiceAuthentication;
  /**
   * `cloudformation`: the user is an `AWS::ElastiCache::User` resource of this stack, its password a
   * dynamic reference to the secret. `custom-resource`: the membership handler creates and deletes the
   * user and reads the password from the secret at run time (the template never names it at all).
   * @default "cloudformation"
   */
  readonly userManagement?: UserManagement;
  /** Engine of the user. Must suit the platform's user group. @default the user group's engine */
  readonly userEngine?: Engine;
  /** Name of the secret. @default core's `/services/<service>/redis/<keyspace>` */
  readonly secretName?: string;
  /** KMS key of the secret. @default the account's `aws/secretsmanager` key */
  readonly encryptionKey?: kms.IKey;
  /** What happens to the secret when it leaves the stack. @default RemovalPolicy.DESTROY */
  readonly secretRemovalPolicy?: RemovalPolicy;
  /**
   * Rotate the password automatically this often (Secrets Manager rotation, 4 hours to 1,000 days),
   * with Cacheplane's two-password rotation: the user accepts the new and the previous password, so
   * running clients are never cut off; the previous one stays valid until the next rotation. Password
   * authentication only.
   * @default no automatic rotation (rotate with `cacheplane rotate`)
   */
  readonly rotation?: Duration;
}

/**
 * One service's access to the shared cache.
 *
 * ```ts
 * const platform = CachePlatform.fromSsmParameters(this, "Platform", { stage: "dev" });
 * new ServiceCacheAccess(this, "Cache", {
 *   platform,
 *   service: { name: "orders", access: "read-write" },
 *   functions: [ordersFn],
 * });
 * ```
 */
export class ServiceCacheAccess extends Construct {
  /** The service with every derived name (user id, keyspace, access string, secret name). */
  readonly service: ResolvedService;
  /**
   * The generated secret `{host, port, username, password, keyspace, tls, cluster, engine}`, plus
   * `user_arn` (password auth) or `auth: "iam"`.
   */
  readonly secret: secretsmanager.Secret;
  /** The ElastiCache user (undefined when `userManagement` is `custom-resource`). */
  readonly user: UserBase | undefined;
  /** ARN of the ElastiCache user. */
  readonly userArn: string;
  /** The user-group membership custom resource. */
  readonly membership: CustomResource;
  /** Engine of the user. */
  readonly userEngine: Engine;
  /** The rotation schedule, with `rotation`. */
  readonly rotationSchedule: secretsmanager.CfnRotationSchedule | undefined;

  private readonly platform: ICachePlatform;
  private readonly authentication: ServiceAuthentication;

  constructor(scope: Construct, id: string, props: ServiceCacheAccessProps) {
    super(scope, id);
    this.platform = props.platform;
    this.authentication = props.authentication ?? "password";
    const userManagement = props.userManagement ?? "cloudformation";
    this.service = resolveService(this, props.platform, props.service);
    const service = this.service;
    const account = Stack.of(this).account;
    const where = `${Token.isUnresolved(account) ? "this account" : account}/${props.platform.platformRegion}`;
    claimNames(
      this,
      { kind: "keyspace", where: `platform ${platformKey(props.platform)}`, value: service.keyspace },
      { kind: "user id", where, value: service.userId },
      { kind: "secret name", where, value: props.secretName ?? service.secretName },
    );

    this.userEngine = props.userEngine ?? props.platform.userGroupEngine;
    if (props.platform.userGroupEngine === "redis" && this.userEngine !== "redis") {
      invalid(
        this,
        `the platform's user group has engine "redis", which only accepts "redis" users; ` +
          `remove userEngine: "${this.userEngine}" or set it to "redis"`,
      );
    }
    if (this.authentication === "iam" && userManagement === "custom-resource") {
      invalid(this, 'authentication "iam" needs userManagement "cloudformation"');
    }
    if (this.authentication === "iam" && props.rotation !== undefined) {
      invalid(
        this,
        'rotation needs authentication "password": IAM tokens expire by themselves; remove `rotation`',
      );
    }
    if (!isImported(props.platform) && Stack.of(props.platform) !== Stack.of(this)) {
      Annotations.of(this).addWarningV2(
        "@cacheplane/cdk:cross-stack-platform",
        "The platform is defined in another stack; import it with CachePlatform.fromSsmParameters in this stack " +
          "to avoid hard cross-stack references (Fn::ImportValue) between the platform and its services",
      );
    }

    registerMember(this, props.platform);

    this.userArn = elastiCacheArn(this, "user", service.userId, props.platform.platformRegion);
    const secretTemplate = Stack.of(this).toJsonString(this.secretTemplate());
    this.secret = new secretsmanager.Secret(this, "Secret", {
      secretName: props.secretName ?? service.secretName,
      description: `Redis credentials of service ${service.name} (user ${service.userId}, keyspace ${service.keyspace}:*)`,
      ...(props.encryptionKey ? { encryptionKey: props.encryptionKey } : {}),
      removalPolicy: props.secretRemovalPolicy ?? RemovalPolicy.DESTROY,
      generateSecretString: {
        secretStringTemplate: secretTemplate,
        generateStringKey: "password",
        passwordLength: GENERATED_PASSWORD_LENGTH,
        // Letters and digits only (core's PASSWORD_ALPHABET): nothing ElastiCache, URLs or shells mind.
        excludePunctuation: true,
        includeSpace: false,
        excludeCharacters: PASSWORD_EXCLUDED_CHARACTERS,
        requireEachIncludedType: true,
      },
    });
    this.tag(this.secret);

    if (userManagement === "cloudformation") {
      const common = {
        userId: service.userId,
        userName: service.userName,
        engine: this.userEngine === "redis" ? UserEngine.REDIS : UserEngine.VALKEY,
        accessControl: AccessControl.fromAccessString(service.accessString),
      };
      this.user =
        this.authentication === "iam"
          ? new IamUser(this, "User", common)
          : new PasswordUser(this, "User", {
              ...common,
              // A dynamic reference ({{resolve:secretsmanager:...}}): CloudFormation resolves it at deploy time.
              passwords: [this.secret.secretValueFromJson("password")],
            });
      this.tag(this.user);
    } else {
      this.user = undefined;
    }

    const handler = MembershipHandler.of(this);
    handler.grant({
      userGroupArn: props.platform.userGroupArn,
      userArn: this.userArn,
      manageUser: userManagement === "custom-resource",
      ...(this.authentication === "password" ? { secret: this.secret } : {}),
    });
    this.membership = new CustomResource(this, "GroupMembership", {
      serviceToken: handler.function.functionArn,
      resourceType: MEMBERSHIP_RESOURCE_TYPE,
      serviceTimeout: MEMBERSHIP_SERVICE_TIMEOUT,
      properties: {
        UserGroupId: props.platform.userGroupId,
        UserId: service.userId,
        Engine: this.userEngine,
        Service: service.name,
        Keyspace: service.keyspace,
        AccessString: service.accessString,
        ManageUser: String(userManagement === "custom-resource"),
        Authentication: this.authentication,
        ...(this.authentication === "password"
          ? { SecretArn: this.secret.secretArn, SecretTemplate: secretTemplate }
          : {}),
      },
    });
    if (this.user) this.membership.node.addDependency(this.user);

    if (props.rotation !== undefined) {
      const rotator = RotationHandler.of(this);
      rotator.grantRotation(this.userArn, this.secret, props.encryptionKey);
      this.rotationSchedule = new secretsmanager.CfnRotationSchedule(this, "Rotation", {
        secretId: this.secret.secretArn,
        rotationLambdaArn: rotator.function.functionArn,
        rotationRules: { scheduleExpression: rotationRate(this, props.rotation) },
      });
      this.rotationSchedule.node.addDependency(rotator.invokePermission);
      // The first rotation must find the user in the group it was added to.
      this.rotationSchedule.node.addDependency(this.membership);
    } else {
      this.rotationSchedule = undefined;
    }

    for (const fn of props.functions ?? []) this.grantAccess(fn);
  }

  /**
   * The environment a consumer needs for `createCache()`: `REDIS_SECRET_ARN`, plus `REDIS_AUTH_MODE`,
   * `REDIS_IAM_CACHE_NAME` and `REDIS_IAM_USER_ID` with `authentication: "iam"`. `grantAccess` sets it
   * on functions of this app; pass it to other consumers (ECS container `environment`, imported
   * functions) yourself.
   */
  get environmentVariables(): Record<string, string> {
    const env: Record<string, string> = { REDIS_SECRET_ARN: this.secret.secretArn };
    if (this.authentication === "iam") {
      env.REDIS_AUTH_MODE = "iam";
      env.REDIS_IAM_CACHE_NAME = this.platform.serverlessCacheName;
      env.REDIS_IAM_USER_ID = this.service.userId;
    }
    return env;
  }

  /**
   * Lets `fn` (a function of this app or an imported one) use the cache as this service: read access
   * to this secret only, the environment variables (functions of this app; for an imported function
   * set {@link environmentVariables} yourself: a warning says so), and ingress from its security groups
   * to the cache ports. The function must be in the platform's VPC.
   */
  grantAccess(fn: lambda.IFunction): void {
    if (!fn.isBoundToVpc) {
      invalid(
        this,
        `function ${fn.node.path} is not in a VPC; the cache is only reachable inside the platform's VPC ` +
          "(set `vpc` and `securityGroups` on the function)",
      );
    }
    this.grantConnect(fn, `${this.service.name} functions to the shared cache`);
    const settable = fn as lambda.IFunction & { addEnvironment?: (key: string, value: string) => unknown };
    if (typeof settable.addEnvironment === "function" && fn instanceof lambda.Function) {
      for (const [key, value] of Object.entries(this.environmentVariables))
        settable.addEnvironment(key, value);
    } else {
      Annotations.of(this).addWarningV2(
        "@cacheplane/cdk:imported-function-environment",
        `${fn.node.path} is imported: its environment cannot be set from here; give it ` +
          `${Object.keys(this.environmentVariables).join(", ")} (see ServiceCacheAccess.environmentVariables)`,
      );
    }
  }

  /**
   * Lets any consumer that has an IAM principal and security groups (an ECS task definition's task
   * role with its service's connections, an EC2 instance, ...) use the cache as this service: read
   * access to this secret only, `elasticache:Connect` with IAM auth, and ingress from its security
   * groups. Give it {@link environmentVariables}.
   */
  grantConnect(consumer: iam.IGrantable & ec2.IConnectable, description?: string): void {
    this.secret.grantRead(consumer);
    if (this.authentication === "iam") {
      iam.Grant.addToPrincipal({
        grantee: consumer,
        actions: ["elasticache:Connect"],
        resourceArns: [this.platform.serverlessCacheArn, this.userArn],
      });
    }
    this.platform.connections.allowFrom(
      consumer.connections,
      this.platform.connections.defaultPort!,
      description ?? `${this.service.name} to the shared cache`,
    );
  }

  private secretTemplate(): Record<string, unknown> {
    const template: Record<string, unknown> = {
      host: this.platform.endpointAddress,
      // A number token renders unquoted: the secret holds "port": 6379, not "6379".
      port: Token.isUnresolved(this.platform.endpointPort)
        ? Token.asNumber(this.platform.endpointPort)
        : Number(this.platform.endpointPort),
      username: this.service.userName,
      keyspace: this.service.keyspace,
      tls: true,
      cluster: true,
      engine: this.platform.engine,
    };
    if (this.service.sharedKeyspaces.length > 0) template.sharedKeyspaces = [...this.service.sharedKeyspaces];
    if (this.authentication === "iam") template.auth = "iam";
    // Rotation (Cacheplane's, or Secrets Manager's own template for ElastiCache users) needs the user's ARN.
    else template.user_arn = this.userArn;
    return template;
  }

  private tag(construct: Construct): void {
    Tags.of(construct).add("cacheplane:managed", "cloudformation");
    Tags.of(construct).add("cacheplane:userId", this.service.userId);
    Tags.of(construct).add("cacheplane:service", this.service.name);
  }
}

/** `rate(...)` of a rotation interval Secrets Manager accepts (4 hours to 1,000 days). */
function rotationRate(scope: Construct, every: Duration): string {
  const hours = every.toHours({ integral: false });
  if (hours < 4 || hours > 24_000) {
    invalid(
      scope,
      `rotation must be from 4 hours to 1000 days (Secrets Manager's range), got ${every.toHumanString()}`,
    );
  }
  return Number.isInteger(hours / 24) ? `rate(${hours / 24} days)` : `rate(${Math.round(hours)} hours)`;
}

function isImported(platform: ICachePlatform): boolean {
  return !("cache" in platform);
}

/** The service with derived names, validated by core's config schema (errors name the construct). */
function resolveService(
  scope: Construct,
  platform: ICachePlatform,
  service: ServiceInput | ResolvedService,
): ResolvedService {
  const resolved =
    "accessString" in service && "userId" in service ? (service as ResolvedService) : undefined;
  const input: ServiceInput = resolved
    ? {
        name: resolved.name,
        keyspace: resolved.keyspace,
        access: resolved.access,
        sharedKeyspaces: resolved.sharedKeyspaces,
        allowDangerous: resolved.allowDangerous,
        scripting: resolved.scripting,
        enabled: resolved.enabled,
      }
    : (service as ServiceInput);
  try {
    const config = parseConfig({
      stage: platform.stage,
      region: platform.platformRegion,
      userPrefix: platform.userPrefix,
      services: [input],
    });
    const parsed = config.services[0]!;
    if (resolved && (resolved.userId !== parsed.userId || resolved.accessString !== parsed.accessString)) {
      invalid(
        scope,
        `service "${resolved.name}" was resolved with another user prefix or access (user ${resolved.userId}, ` +
          `expected ${parsed.userId} on this platform); pass the service as declared, not resolved`,
      );
    }
    return parsed;
  } catch (error) {
    if (error instanceof ConfigError) {
      invalid(
        scope,
        `invalid service: ${error.issues.map((i) => `${i.path.replace(/^services\[0\]\.?/, "") || "service"}: ${i.message}`).join("; ")}`,
      );
    }
    throw error;
  }
}
