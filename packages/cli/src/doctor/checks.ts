/**
 * The doctor's checks. It connects exactly as the service would, through the same connection code as
 * the client and the gateway (`@cacheplane/client/connection`: the secret's user, TLS per the secret,
 * cluster mode when the secret says so, IAM tokens for `auth: "iam"` secrets), and verifies, one check at a time, that the service can do
 * what it should and cannot do what it must not. Nothing it does can damage the cache: the probe key
 * lives in the service's own keyspace with a TTL, and FLUSHALL is sent with an invalid argument, so a
 * server that wrongly allows it answers a syntax error instead of flushing.
 */
import { randomBytes } from "node:crypto";
import type { TLSSocket } from "node:tls";
import {
  type ConnectionContext,
  type ConnectionSettings,
  connectionHint,
  createRedisClient,
  describeConnectionError,
  errorMessage,
  iamAuthFromEnv,
  lastConnectionError,
  type RedisClient,
} from "@cacheplane/client/connection";
import { parseSecretPayload, redactSecret, type SecretPayload } from "@cacheplane/core";
import type { Cluster, Redis } from "ioredis";
import { errorOf, isCommandRefusal, isNoPerm } from "./redis-replies.js";

/** One line of the report. */
export interface DoctorCheck {
  /** Short id: secret, tls, auth, ping, cluster, keyspace, isolation, flushall, keys, scan. */
  name: string;
  ok: boolean;
  /** What was found, in one line. Never contains a password. */
  detail: string;
  /** True when the check did not run because an earlier one failed. */
  skipped?: boolean;
}

/** The whole report: `ok` when every check passed. */
export interface DoctorReport {
  ok: boolean;
  /** Where the secret came from (a path, `--secret-json` or `$REDIS_SECRET`). */
  source: string;
  /** The secret with its passwords masked, when it parsed. */
  secret?: ReturnType<typeof redactSecret>;
  checks: DoctorCheck[];
}

/** How to reach the server beyond what the secret says. */
export interface DoctorOptions {
  /** PEM of the CA that signed the server certificate (`--tls-ca`). Default: Node's trusted CAs. */
  tlsCa?: string;
  /** Do not verify the server certificate (`--insecure`). @default false */
  insecure?: boolean;
  /** Connect and command timeout. @default 5000 */
  timeoutMs?: number;
  /** Called with every password the doctor learns, so callers can mask them in any output. */
  onSecret?: (secret: string) => void;
}

/** Every check in report order, for marking the rest as skipped. */
const LATER_CHECKS = ["tls", "auth", "ping", "keyspace", "isolation", "flushall", "keys", "scan"];

/**
 * How the doctor connects: the shared settings with its own timeout, the CA from `--tls-ca`, and one
 * attempt only (it reports a failure instead of reconnecting).
 */
function doctorSettings(options: DoctorOptions): ConnectionSettings {
  const timeout = options.timeoutMs ?? 5_000;
  return {
    tls: {
      ...(options.tlsCa !== undefined ? { ca: options.tlsCa } : {}),
      ...(options.insecure ? { rejectUnauthorized: false } : {}),
    },
    commandTimeoutMs: timeout,
    connectTimeoutMs: timeout,
    maxRetriesPerRequest: 0,
    redisOptions: { retryStrategy: () => null },
    clusterOptions: { clusterRetryStrategy: () => null, maxRedirections: 4, enableReadyCheck: false },
  };
}

/** How the doctor's hints name the settings (`--tls-ca`, the secret's `tls` field). */
function hintContext(secret: SecretPayload): ConnectionContext {
  return {
    tls: secret.tls,
    caSetting: "--tls-ca <file>",
    tlsSetting: "tls: true in the secret (the secret says tls: false; rediss:// in URLs)",
  };
}

/** A random suffix so concurrent doctors never share a key. */
function nonce(): string {
  return randomBytes(6).toString("hex");
}

/** Runs every check against the secret's server and returns the report (never throws for a failed check). */
export async function runDoctorChecks(
  secretText: string,
  source: string,
  options: DoctorOptions = {},
): Promise<DoctorReport> {
  const checks: DoctorCheck[] = [];
  const finish = (): DoctorReport => ({ ok: checks.every((c) => c.ok), source, checks });
  const skipRest = (reason: string) => {
    for (const name of LATER_CHECKS) {
      if (!checks.some((c) => c.name === name))
        checks.push({ name, ok: false, skipped: true, detail: reason });
    }
  };

  // 1. Secret shape.
  let secret: SecretPayload;
  try {
    const raw: unknown = JSON.parse(secretText);
    if (raw && typeof raw === "object") {
      const r = raw as Record<string, unknown>;
      if (typeof r.password === "string") options.onSecret?.(r.password);
      if (typeof r.previousPassword === "string") options.onSecret?.(r.previousPassword);
    }
    secret = parseSecretPayload(raw, source);
  } catch (error) {
    const message = error instanceof SyntaxError ? `not valid JSON (${source})` : (error as Error).message;
    checks.push({ name: "secret", ok: false, detail: message });
    skipRest("skipped: the secret is unusable");
    return finish();
  }
  const report = (): DoctorReport => ({ ...finish(), secret: redactSecret(secret) });
  checks.push({
    name: "secret",
    ok: true,
    detail: `valid: user ${secret.username}, keyspace ${secret.keyspace}:*, ${secret.host}:${secret.port}, tls ${
      secret.tls ? "on" : "off"
    }${secret.cluster ? ", cluster" : ""}${secret.previousPassword ? ", rotation in progress" : ""}`,
  });

  // 2. Transport (TLS as the secret says), unauthenticated: one node, whatever the secret's mode.
  const settings = doctorSettings(options);
  const context = hintContext(secret);
  const node = (await createRedisClient(
    { ...secret, cluster: false },
    { ...settings, redisOptions: { ...settings.redisOptions, username: undefined, password: undefined } },
  )) as Redis;
  node.on("error", () => undefined);
  let keyClient: RedisClient | undefined;
  try {
    try {
      await node.connect();
      // One round trip: a server that wants TLS accepts the TCP connection and drops it at the first
      // bytes. Any reply, even NOAUTH, proves the transport works.
      await node.call("PING").catch((error: unknown) => {
        if (!(error instanceof Error && error.name === "ReplyError")) throw error;
      });
    } catch (error) {
      // ioredis rejects connect() with a bare "Connection is closed."; the cause (e.g. a certificate
      // error) arrived as an "error" event first.
      const why = describeConnectionError(lastConnectionError(node) ?? error, context);
      checks.push({
        name: "tls",
        ok: false,
        detail: `cannot connect to ${secret.host}:${secret.port} ${secret.tls ? "with TLS" : "over plain TCP"}: ${why}`,
      });
      skipRest("skipped: no connection");
      return report();
    }
    const stream = node.stream as Partial<TLSSocket>;
    if (secret.tls) {
      const verified = stream.authorized === true;
      const protocol = stream.getProtocol?.() ?? "";
      const how = verified ? "certificate verified" : "certificate NOT verified (--insecure)";
      checks.push(
        stream.encrypted === true
          ? {
              name: "tls",
              ok: true,
              detail: `TLS${protocol ? ` (${protocol})` : ""} as the secret says, ${how}`,
            }
          : {
              name: "tls",
              ok: false,
              detail: "the secret says tls: true but the connection is not encrypted",
            },
      );
    } else {
      checks.push({
        name: "tls",
        ok: true,
        detail: "plain TCP as the secret says (tls: false; fine for local dev only)",
      });
    }

    // 3. AUTH as the service (with an IAM token for `auth: "iam"`, as the client would).
    let credentials: { username: string; password: string; how: string };
    try {
      const iam = iamAuthFromEnv(process.env, secret);
      if (iam) {
        const token = await iam.getToken();
        options.onSecret?.(token);
        credentials = { username: iam.userId, password: token, how: " with an IAM token" };
      } else {
        credentials = { username: secret.username, password: secret.password, how: "" };
      }
    } catch (error) {
      checks.push({ name: "auth", ok: false, detail: `IAM auth: ${errorMessage(error)}` });
      skipRest("skipped: not authenticated");
      return report();
    }
    const auth = await errorOf(node.call("AUTH", credentials.username, credentials.password));
    if (auth.error !== undefined) {
      checks.push({
        name: "auth",
        ok: false,
        detail: `AUTH as ${credentials.username} refused: ${auth.error}${connectionHint(auth.error, context)}`,
      });
      skipRest("skipped: not authenticated");
      return report();
    }
    checks.push({
      name: "auth",
      ok: true,
      detail: `authenticated as ${credentials.username}${credentials.how}`,
    });

    // 4. PING.
    const ping = await errorOf(node.call("PING"));
    checks.push(
      ping.error === undefined
        ? { name: "ping", ok: ping.value === "PONG", detail: `PING answered ${String(ping.value)}` }
        : { name: "ping", ok: false, detail: `PING failed: ${ping.error}` },
    );

    // 5. Keyspace: through a cluster client when the secret says cluster, so keys reach their slot.
    if (secret.cluster) {
      const cluster = (await createRedisClient(secret, {
        ...settings,
        credentials: { username: credentials.username, password: credentials.password },
      })) as Cluster;
      cluster.on("error", () => undefined);
      cluster.on("node error", () => undefined);
      keyClient = cluster;
      const connected = await errorOf(cluster.connect());
      if (connected.error !== undefined) {
        checks.push({
          name: "cluster",
          ok: false,
          detail: `cluster client could not connect: ${connected.error}`,
        });
        skipRest("skipped: no cluster connection");
        return report();
      }
      checks.push({
        name: "cluster",
        ok: true,
        detail: `cluster mode: ${cluster.nodes("master").length} master(s) discovered`,
      });
    } else {
      keyClient = node;
    }
    await keyspaceChecks(keyClient, secret, checks);
  } finally {
    if (keyClient && keyClient !== node) keyClient.disconnect();
    node.disconnect();
  }
  return report();
}

/** Probe write/read/delete, isolation, and refusal of FLUSHALL and KEYS. */
async function keyspaceChecks(
  client: Redis | Cluster,
  secret: SecretPayload,
  checks: DoctorCheck[],
): Promise<void> {
  const key = `${secret.keyspace}:cacheplane:doctor:${nonce()}`;
  const value = nonce();
  const set = await errorOf(client.call("SET", key, value, "PX", "60000"));
  if (set.error === undefined) {
    const got = await errorOf(client.call("GET", key));
    const del = await errorOf(client.call("DEL", key));
    const ok = got.value === value && del.value === 1;
    checks.push({
      name: "keyspace",
      ok,
      detail: ok
        ? `wrote, read and deleted ${key}`
        : `wrote ${key} but ${got.error ?? (got.value !== value ? "read back a different value" : (del.error ?? "DEL did not delete it"))}`,
    });
  } else if (isCommandRefusal(set.error)) {
    const got = await errorOf(client.call("GET", key));
    checks.push({
      name: "keyspace",
      ok: got.error === undefined,
      detail:
        got.error === undefined
          ? `read-only user: GET ${key} works, writes are refused`
          : `cannot read in its own keyspace: ${got.error}`,
    });
  } else {
    checks.push({ name: "keyspace", ok: false, detail: `SET ${key} failed: ${set.error}` });
  }

  const outside = `cacheplane-doctor-outside-${nonce()}:probe`;
  const read = await errorOf(client.call("GET", outside));
  checks.push(
    isNoPerm(read.error)
      ? {
          name: "isolation",
          ok: true,
          detail: `key outside the keyspace refused (${read.error?.split(" ")[0]})`,
        }
      : read.error === undefined
        ? {
            name: "isolation",
            ok: false,
            detail: `read ${outside} outside the keyspace: the user is not confined to ${secret.keyspace}:*`,
          }
        : { name: "isolation", ok: false, detail: `GET ${outside} failed unexpectedly: ${read.error}` },
  );

  // An invalid argument: a server that allows FLUSHALL answers a syntax error and flushes nothing.
  const flush = await errorOf(client.call("FLUSHALL", "CACHEPLANE-DOCTOR-PROBE"));
  checks.push(
    isNoPerm(flush.error)
      ? { name: "flushall", ok: true, detail: "FLUSHALL refused (NOPERM)" }
      : {
          name: "flushall",
          ok: false,
          detail: `FLUSHALL is allowed for ${secret.username} (probe flushed nothing)`,
        },
  );

  const keys = await errorOf(client.call("KEYS", `${secret.keyspace}:cacheplane:doctor:none:*`));
  checks.push(
    isNoPerm(keys.error)
      ? { name: "keys", ok: true, detail: "KEYS refused (NOPERM)" }
      : {
          name: "keys",
          ok: false,
          detail: `KEYS is allowed for ${secret.username}: it lists every service's key names`,
        },
  );

  // ACL key patterns do not filter SCAN: allowed, it would list every service's key names.
  const scan = await errorOf(
    client.call("SCAN", "0", "MATCH", `${secret.keyspace}:cacheplane:doctor:none:*`, "COUNT", "1"),
  );
  checks.push(
    isNoPerm(scan.error)
      ? { name: "scan", ok: true, detail: "SCAN refused (NOPERM): other services' key names stay hidden" }
      : {
          name: "scan",
          ok: false,
          detail: `SCAN is allowed for ${secret.username}: it lists every service's key names; apply the config again with this release`,
        },
  );
}
