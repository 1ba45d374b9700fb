/**
 * The platform config: one typed description of a platform and its services, validated with zod and
 * then checked as a whole (duplicates, collisions, overlaps). `parseConfig` either returns a fully
 * resolved config (every derived name filled in) or throws one ConfigError listing every problem.
 */
import { z } from "zod";
import { type AccessSpec, buildAccessString, explicitGrantProblem, parseCommandRule } from "./access.js";
import { ConfigError, type ConfigIssue } from "./errors.js";
import { type PlatformExports, platformExports } from "./exports.js";
import {
  keyspaceProblem,
  normalizeKeyspace,
  normalizeResourceName,
  RESERVED_USER_IDS,
  secretNameFor,
  serviceNameProblem,
  userIdFor,
} from "./naming.js";
import { SCANNER_NAME, scannerUserId } from "./scanner.js";

export type Engine = "valkey" | "redis";
export const ENGINES: readonly Engine[] = ["valkey", "redis"];

const accessSchema = z.union([
  z.enum(["read-write", "read-only"]),
  z.strictObject({
    preset: z.enum(["read-write", "read-only", "none"]).optional(),
    commands: z.array(z.string()).min(1, 'list at least one command rule, e.g. ["+get"]'),
  }),
]);

const serviceSchema = z.strictObject({
  name: z.string().min(1, "a service needs a name"),
  keyspace: z.string().optional(),
  access: accessSchema,
  sharedKeyspaces: z.array(z.string()).optional(),
  allowDangerous: z.boolean().optional(),
  scripting: z.boolean().optional(),
  enabled: z.boolean().optional(),
  owner: z.string().optional(),
  description: z.string().optional(),
  passwordRotation: z
    .strictObject({
      intervalDays: z.number().int().min(1).max(365),
    })
    .optional(),
});

const slug = /^[a-z0-9][a-z0-9-]*$/;

const configSchema = z.strictObject({
  stage: z.string().regex(slug, 'use lowercase letters, digits and hyphens, e.g. "dev" or "prod"'),
  region: z.string().regex(slug, 'use an AWS region such as "eu-west-1" (or "local")'),
  engine: z.enum(ENGINES, { error: 'engine must be "valkey" or "redis"' }).optional(),
  cacheName: z.string().regex(slug, "use lowercase letters, digits and hyphens").max(40).optional(),
  userGroupId: z.string().regex(slug, "use lowercase letters, digits and hyphens").max(40).optional(),
  userPrefix: z
    .string()
    .regex(/^[a-z0-9]*$/, "use lowercase letters and digits only")
    .max(10)
    .optional(),
  endpoint: z
    .strictObject({
      host: z.string().min(1),
      port: z.number().int().min(1).max(65535).optional(),
      tls: z.boolean().optional(),
      cluster: z.boolean().optional(),
    })
    .optional(),
  /**
   * Provision the platform's scanner identity (a Redis user that may only SCAN, secret
   * `cacheplane-scanner`): namespaced gateway tokens need it for KEYS, SCAN, DBSIZE and FLUSHDB.
   */
  scanner: z.boolean().optional(),
  services: z.array(serviceSchema),
});

/** What a config file declares (see `defineConfig`). */
export type PlatformConfigInput = z.input<typeof configSchema>;
/** One service as declared. */
export type ServiceInput = z.input<typeof serviceSchema>;

/** A service with every derived name filled in. */
export interface ResolvedService {
  name: string;
  /** Redis user id; also the user name. */
  userId: string;
  userName: string;
  keyspace: string;
  sharedKeyspaces: string[];
  access: AccessSpec;
  accessString: string;
  secretName: string;
  enabled: boolean;
  allowDangerous: boolean;
  /** May run its own Lua (EVAL, EVALSHA, EVAL_RO, EVALSHA_RO, SCRIPT LOAD). */
  scripting: boolean;
  owner?: string;
  description?: string;
  passwordRotation?: { intervalDays: number };
}

/** A validated platform: defaults applied, names derived. */
export interface PlatformConfig {
  stage: string;
  region: string;
  engine: Engine;
  cacheName: string;
  userGroupId: string;
  userPrefix: string;
  endpoint?: { host: string; port: number; tls: boolean; cluster: boolean };
  /** Whether the scanner identity is provisioned (see `scannerIdentity`). */
  scanner: boolean;
  services: ResolvedService[];
  exports: PlatformExports;
}

/** Typed identity for `cacheplane.config.ts`: `export default defineConfig({ ... })`. */
export function defineConfig(config: PlatformConfigInput): PlatformConfigInput {
  return config;
}

function pathOf(path: readonly PropertyKey[]): string {
  return path
    .map((p, i) => (typeof p === "number" ? `[${p}]` : `${i === 0 ? "" : "."}${String(p)}`))
    .join("");
}

/** The allowed forms of `access`, read from the schema so the message never drifts from it. */
function accessForms(): string {
  const [levels, custom] = accessSchema.options;
  const quoted = (values: readonly string[]) => values.map((v) => JSON.stringify(v));
  const presets = custom.shape.preset.unwrap().options;
  return `${quoted(levels.options).join(" or ")}, or { preset?: ${quoted(presets).join(" | ")}, commands: ["+get", ...] }`;
}

/** The value at `path` inside `input` (undefined when the path does not exist). */
function valueAt(input: unknown, path: readonly PropertyKey[]): unknown {
  let value = input;
  for (const key of path) {
    if (typeof value !== "object" || value === null) return undefined;
    value = (value as Record<PropertyKey, unknown>)[key];
  }
  return value;
}

/** A schema issue as one line; an `access` matching no allowed form lists the forms. */
function schemaIssue(issue: z.core.$ZodIssue, input: unknown): ConfigIssue {
  const path = pathOf(issue.path);
  if (issue.code === "invalid_union" && issue.path[issue.path.length - 1] === "access") {
    const value = valueAt(input, issue.path);
    const shown = typeof value === "string" ? `"${value.slice(0, 40)}"` : "must be one of the allowed forms";
    const message =
      typeof value === "string"
        ? `access ${shown} is not an access level; use ${accessForms()}`
        : `access ${shown}: ${accessForms()}`;
    return { path, message };
  }
  return { path, message: issue.message };
}

/**
 * Validates and resolves a platform config.
 * @throws ConfigError with one line per problem; nothing is derived from a config that has any.
 */
export function parseConfig(input: unknown): PlatformConfig {
  const parsed = configSchema.safeParse(input);
  if (!parsed.success) {
    throw new ConfigError(parsed.error.issues.map((issue) => schemaIssue(issue, input)));
  }
  const raw = parsed.data;
  const issues: ConfigIssue[] = [];
  const userPrefix = raw.userPrefix ?? "";
  /** Services whose keyspace was refused: left out of the duplicate check (one message each). */
  const refusedKeyspace = new Set<number>();

  const services: ResolvedService[] = raw.services.map((svc, index) => {
    const at = `services[${index}]`;
    const nameProblem = serviceNameProblem(svc.name);
    if (nameProblem !== undefined) issues.push({ path: `${at}.name`, message: nameProblem });
    // An explicit keyspace must be written in canonical form; one derived from the name is normalised.
    const keyspace = normalizeKeyspace(svc.keyspace ?? svc.name);
    const explicitProblem = svc.keyspace === undefined ? undefined : keyspaceProblem(svc.keyspace);
    if (explicitProblem !== undefined) {
      issues.push({ path: `${at}.keyspace`, message: explicitProblem });
      refusedKeyspace.add(index);
    } else if (keyspace.length === 0 && nameProblem === undefined) {
      issues.push({
        path: `${at}.keyspace`,
        message: `service "${svc.name}" has an empty keyspace after normalisation; use letters or digits`,
      });
    }
    const userId = userIdFor(svc.name, userPrefix);
    if (nameProblem !== undefined) {
      // reported above
    } else if (userId.length === 0) {
      issues.push({
        path: `${at}.name`,
        message: `"${svc.name}" has no letters or digits to make a Redis user name`,
      });
    } else if (svc.name.toLowerCase() === SCANNER_NAME || userId === scannerUserId(userPrefix)) {
      issues.push({
        path: `${at}.name`,
        message: `"${svc.name}" is reserved for the platform's scanner identity (user "${scannerUserId(userPrefix)}"); rename the service`,
      });
    } else if (RESERVED_USER_IDS.has(userId)) {
      issues.push({
        path: `${at}.name`,
        message: `"${svc.name}" would become the reserved user "${userId}"; rename it`,
      });
    }
    const sharedKeyspaces = (svc.sharedKeyspaces ?? []).map((s, j) => {
      const problem = keyspaceProblem(s);
      if (problem !== undefined) issues.push({ path: `${at}.sharedKeyspaces[${j}]`, message: problem });
      return normalizeKeyspace(s);
    });
    if (typeof svc.access !== "string") {
      svc.access.commands.forEach((rule, j) => {
        const parsedRule = parseCommandRule(rule);
        if (!parsedRule) {
          issues.push({
            path: `${at}.access.commands[${j}]`,
            message: `"${rule}" is not an ACL command rule; write e.g. "+get", "-del", "+@hash" or "+client|setname"`,
          });
        } else if (parsedRule.sign === "+") {
          const problem = explicitGrantProblem(parsedRule.name, svc);
          if (problem?.kind === "dangerous") {
            const fix =
              parsedRule.name === "@scripting"
                ? `set scripting: true on "${svc.name}" to let it run its own Lua`
                : `remove it (the safety tail would deny it anyway) or set allowDangerous: true on "${svc.name}"`;
            issues.push({ path: `${at}.access.commands[${j}]`, message: `${problem.message}; ${fix}` });
          } else if (problem?.kind === "scripting") {
            issues.push({
              path: `${at}.access.commands[${j}]`,
              message: `${problem.message}; set scripting: true on "${svc.name}" instead (a long script stalls every service; see docs/operations.md)`,
            });
          }
        }
      });
    }
    const resolved: ResolvedService = {
      name: svc.name,
      userId,
      userName: userId,
      keyspace,
      sharedKeyspaces,
      access: svc.access,
      accessString: "",
      secretName: secretNameFor(svc.name, keyspace),
      enabled: svc.enabled ?? true,
      allowDangerous: svc.allowDangerous ?? false,
      scripting: svc.scripting ?? false,
    };
    if (svc.owner !== undefined) resolved.owner = svc.owner;
    if (svc.description !== undefined) resolved.description = svc.description;
    if (svc.passwordRotation !== undefined) resolved.passwordRotation = svc.passwordRotation;
    return resolved;
  });

  const lowerNames = services.map((s) => s.name.toLowerCase());
  const firstOfName = (i: number) => lowerNames.indexOf(lowerNames[i]!) === i;
  reportDuplicates(
    lowerNames,
    (first, second, value) => ({
      path: `services[${second}].name`,
      message: `service name "${value}" is used twice (services[${first}] and services[${second}])`,
    }),
    issues,
  );
  reportDuplicates(
    services.map((s) => s.userId),
    (first, second, value) => ({
      path: `services[${second}].name`,
      message: `"${services[first]!.name}" and "${services[second]!.name}" both become Redis user "${value}"; rename one`,
    }),
    issues,
    (i) =>
      services[i]!.userId.length > 0 &&
      services.map((s) => s.name.toLowerCase()).indexOf(services[i]!.name.toLowerCase()) === i,
  );
  reportDuplicates(
    services.map((s) => s.keyspace),
    (first, second, value) => ({
      path: `services[${second}].keyspace`,
      message: `keyspace "${value}" belongs to "${services[first]!.name}" already; give "${services[second]!.name}" its own`,
    }),
    issues,
    (i) => services[i]!.keyspace.length > 0 && firstOfName(i) && !refusedKeyspace.has(i),
  );
  const owners = new Map<string, string>();
  for (const s of services) if (!owners.has(s.keyspace)) owners.set(s.keyspace, s.name);
  services.forEach((svc, index) => {
    svc.sharedKeyspaces.forEach((shared, j) => {
      const owner = owners.get(shared);
      if (owner !== undefined && owner !== svc.name) {
        issues.push({
          path: `services[${index}].sharedKeyspaces[${j}]`,
          message: `"${shared}" is the private keyspace of "${owner}"; a shared keyspace must not belong to a service`,
        });
      }
    });
  });

  if (issues.length > 0) throw new ConfigError(issues);

  for (const svc of services) {
    svc.accessString = buildAccessString({
      keyspace: svc.keyspace,
      sharedKeyspaces: svc.sharedKeyspaces,
      access: svc.access,
      enabled: svc.enabled,
      scripting: svc.scripting,
      allowDangerous: svc.allowDangerous,
    });
  }
  const cacheName = raw.cacheName ?? "shared";
  const base = {
    stage: raw.stage,
    region: raw.region,
    engine: raw.engine ?? "valkey",
    cacheName,
    userGroupId: raw.userGroupId ?? normalizeResourceName(`${raw.stage}-${cacheName}-users`),
    userPrefix,
  };
  const config: PlatformConfig = {
    ...base,
    scanner: raw.scanner ?? false,
    services,
    exports: platformExports(base),
  };
  if (raw.endpoint) {
    config.endpoint = {
      host: raw.endpoint.host,
      port: raw.endpoint.port ?? 6379,
      tls: raw.endpoint.tls ?? true,
      cluster: raw.endpoint.cluster ?? false,
    };
  }
  return config;
}

function reportDuplicates(
  values: string[],
  describe: (first: number, second: number, value: string) => ConfigIssue,
  issues: ConfigIssue[],
  include: (index: number) => boolean = () => true,
): void {
  const seen = new Map<string, number>();
  values.forEach((value, index) => {
    if (!include(index)) return;
    const first = seen.get(value);
    if (first === undefined) seen.set(value, index);
    else issues.push(describe(first, index, value));
  });
}

/** The resolved service called `name` (exact or case-insensitive), or a ConfigError naming the choices. */
export function findService(config: PlatformConfig, name: string): ResolvedService {
  const found =
    config.services.find((s) => s.name === name) ??
    config.services.find((s) => s.name.toLowerCase() === name.toLowerCase() || s.userId === name);
  if (!found) {
    throw new ConfigError([
      {
        path: "services",
        message: `no service "${name}"; the config has ${config.services.map((s) => `"${s.name}"`).join(", ") || "none"}`,
      },
    ]);
  }
  return found;
}
