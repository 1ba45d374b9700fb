/** Building a service's secret payload and hashing passwords the way Redis reports them. */
import { createHash } from "node:crypto";
import type { PlatformConfig, ResolvedService } from "./config.js";
import type { SecretPayload } from "./secret-payload.js";

/** SHA-256 hex, the form `ACL GETUSER` lists passwords in. */
export function passwordHash(password: string): string {
  return createHash("sha256").update(password, "utf8").digest("hex");
}

/** Characters Cacheplane generates passwords from: accepted by Redis, Valkey and ElastiCache alike. */
export const PASSWORD_ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
/** ElastiCache accepts 16-128 characters; we generate 40. */
export const PASSWORD_LENGTH = 40;

/** True for a password ElastiCache would accept: 16-128 printable ASCII, none of space , " / @. */
export function isAcceptablePassword(password: string): boolean {
  return /^[!-~]{16,128}$/.test(password) && !/[,"/@]/.test(password);
}

export interface SecretTarget {
  host: string;
  port: number;
  tls: boolean;
  cluster?: boolean;
}

/** The payload stored for a service: `{host, port, username, password, keyspace, tls, ...}`. */
export function buildSecretPayload(
  config: Pick<PlatformConfig, "engine">,
  service: ResolvedService,
  target: SecretTarget,
  passwords: { current: string; previous?: string },
): SecretPayload {
  const payload: SecretPayload = {
    host: target.host,
    port: target.port,
    username: service.userName,
    password: passwords.current,
    keyspace: service.keyspace,
    tls: target.tls,
    engine: config.engine,
  };
  if (target.cluster) payload.cluster = true;
  if (service.sharedKeyspaces.length > 0) payload.sharedKeyspaces = [...service.sharedKeyspaces];
  if (passwords.previous !== undefined) payload.previousPassword = passwords.previous;
  return payload;
}
