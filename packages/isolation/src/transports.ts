/**
 * How an attacker reaches the server: directly with its own secret (standalone, or every master of a
 * cluster), or through the gateway with its read-write or read-only token. Every transport turns a
 * command into outcomes the judge reads: a reply, or an error with its message (and HTTP status).
 */
import type { ResolvedService } from "@cacheplane/core";
import type { SecretPayload } from "@cacheplane/core/secret";
import { Redis } from "ioredis";

/** One answer to one command (a transport that sends to several nodes returns one per node). */
export interface Outcome {
  ok: boolean;
  value?: unknown;
  error?: string;
  /** HTTP status (gateway only). */
  status?: number;
  /** `host:port` for direct transports. */
  node?: string;
}

/** Where a command goes: the node that holds the canaries, or every node (server-wide commands). */
export type Scope = "keyed" | "server";

/** An attacker: a service, with its gateway token kind (direct connections use the service's user). */
export interface Identity {
  service: ResolvedService;
  token: "read-write" | "read-only";
  /** A namespaced gateway token: every name it sends is put inside its own keyspace. */
  namespaced?: boolean;
  /** `alpha`, `alpha (read-only token)`, `alpha (namespaced token)`. */
  label: string;
}

export interface Transport {
  readonly name: "standalone" | "cluster" | "gateway" | "gateway-namespaced";
  identities(services: readonly ResolvedService[]): Identity[];
  exec(id: Identity, args: readonly string[], scope: Scope): Promise<Outcome[]>;
  /** Opens a subscription (and closes it again): ok when the server accepted it. */
  subscribe(id: Identity, kind: "subscribe" | "psubscribe" | "ssubscribe", name: string): Promise<Outcome>;
  /** Starts MONITOR on a fresh connection (and closes it): ok when the server accepted it. */
  monitor(id: Identity): Promise<Outcome>;
  /** Drops the attacker's connections (after an attack that may have changed their state). */
  reset(id: Identity): Promise<void>;
  close(): Promise<void>;
}

/**
 * True when the outcome is a refusal by a guard: NOPERM (also inside scripts), HTTP 401/403 from the
 * gateway, or a command the server's configuration disables for every client (`enable-module-command
 * no`, `enable-debug-command no`: checked before the ACL).
 */
export function isDenial(outcome: Outcome): boolean {
  if (outcome.ok) return false;
  if (outcome.status === 401 || outcome.status === 403) return true;
  return /^NOPERM\b|no permissions to|can.t run this command|can.t access at least one of the keys|user executing the script can.t|command not allowed\. If the enable-[a-z]+-command option/i.test(
    outcome.error ?? "",
  );
}

function errorText(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

/** Direct connections as the service user to a standalone server or to each master of a cluster. */
export class DirectTransport implements Transport {
  private readonly connections = new Map<string, Redis[]>();

  /**
   * @param nodes every node attacks reach (`server` scope); `keyedNode` is the index of the one
   *   holding the canaries' slot.
   */
  constructor(
    readonly name: "standalone" | "cluster",
    private readonly nodes: readonly { host: string; port: number }[],
    private readonly keyedNode: number,
    private readonly secrets: Readonly<Record<string, SecretPayload>>,
  ) {}

  identities(services: readonly ResolvedService[]): Identity[] {
    return services.map((service) => ({ service, token: "read-write", label: service.name }));
  }

  private connect(id: Identity, node: { host: string; port: number }): Redis {
    const secret = this.secrets[id.service.name];
    if (!secret) throw new Error(`no secret for ${id.service.name}`);
    const client = new Redis({
      host: node.host,
      port: node.port,
      username: secret.username,
      password: secret.password,
      enableReadyCheck: false,
      maxRetriesPerRequest: 0,
      retryStrategy: () => null,
      autoResubscribe: false,
      commandTimeout: 15_000,
    });
    client.on("error", () => undefined);
    return client;
  }

  private clients(id: Identity): Redis[] {
    let list = this.connections.get(id.label);
    if (!list) {
      list = this.nodes.map((node) => this.connect(id, node));
      this.connections.set(id.label, list);
    }
    return list;
  }

  async exec(id: Identity, args: readonly string[], scope: Scope): Promise<Outcome[]> {
    const clients = this.clients(id);
    const targets = scope === "keyed" ? [this.keyedNode] : this.nodes.map((_, i) => i);
    return Promise.all(
      targets.map(async (i) => {
        const node = `${this.nodes[i]!.host}:${this.nodes[i]!.port}`;
        try {
          const [command, ...rest] = args;
          return { ok: true, value: await clients[i]!.call(command!, ...rest), node };
        } catch (error) {
          return { ok: false, error: errorText(error), node };
        }
      }),
    );
  }

  async subscribe(
    id: Identity,
    kind: "subscribe" | "psubscribe" | "ssubscribe",
    name: string,
  ): Promise<Outcome> {
    const client = this.connect(id, this.nodes[this.keyedNode]!);
    try {
      const value = await client[kind](name);
      return { ok: true, value };
    } catch (error) {
      return { ok: false, error: errorText(error) };
    } finally {
      client.disconnect();
    }
  }

  async monitor(id: Identity): Promise<Outcome> {
    const client = this.connect(id, this.nodes[this.keyedNode]!);
    try {
      return { ok: true, value: await client.call("MONITOR") };
    } catch (error) {
      return { ok: false, error: errorText(error) };
    } finally {
      client.disconnect();
    }
  }

  async reset(id: Identity): Promise<void> {
    for (const client of this.connections.get(id.label) ?? []) client.disconnect();
    this.connections.delete(id.label);
  }

  async close(): Promise<void> {
    for (const list of this.connections.values()) for (const client of list) client.disconnect();
    this.connections.clear();
  }
}

/** The tokens of a service as the transport needs them. */
export interface GatewayTokens {
  readWrite: string;
  readOnly: string;
  namespacedReadWrite?: string;
  namespacedReadOnly?: string;
}

/**
 * The gateway over HTTP with each service's read-write and read-only tokens, or (`namespaced`) with
 * its namespaced read-write and read-only tokens.
 */
export class GatewayTransport implements Transport {
  readonly name: "gateway" | "gateway-namespaced";

  constructor(
    private readonly url: string,
    private readonly tokens: Readonly<Record<string, GatewayTokens>>,
    private readonly namespaced = false,
  ) {
    this.name = namespaced ? "gateway-namespaced" : "gateway";
  }

  identities(services: readonly ResolvedService[]): Identity[] {
    const tag = this.namespaced ? "namespaced " : "";
    return services.flatMap((service) => [
      {
        service,
        token: "read-write" as const,
        label: this.namespaced ? `${service.name} (namespaced token)` : service.name,
        ...(this.namespaced ? { namespaced: true } : {}),
      },
      {
        service,
        token: "read-only" as const,
        label: `${service.name} (${tag}read-only token)`,
        ...(this.namespaced ? { namespaced: true } : {}),
      },
    ]);
  }

  private token(id: Identity): string {
    const tokens = this.tokens[id.service.name];
    if (!tokens) throw new Error(`no gateway tokens for ${id.service.name}`);
    const token = this.namespaced
      ? id.token === "read-only"
        ? tokens.namespacedReadOnly
        : tokens.namespacedReadWrite
      : id.token === "read-only"
        ? tokens.readOnly
        : tokens.readWrite;
    if (!token)
      throw new Error(`no ${this.namespaced ? "namespaced " : ""}gateway token for ${id.service.name}`);
    return token;
  }

  async exec(id: Identity, args: readonly string[]): Promise<Outcome[]> {
    const response = await fetch(`${this.url}/`, {
      method: "POST",
      headers: { authorization: `Bearer ${this.token(id)}`, "content-type": "application/json" },
      body: JSON.stringify(args),
    });
    const text = await response.text();
    let json: { result?: unknown; error?: string } = {};
    try {
      json = JSON.parse(text) as typeof json;
    } catch {
      json = { error: text };
    }
    if (response.status === 200 && json.error === undefined)
      return [{ ok: true, value: json.result, status: 200 }];
    return [{ ok: false, error: json.error ?? text, status: response.status }];
  }

  async subscribe(
    id: Identity,
    kind: "subscribe" | "psubscribe" | "ssubscribe",
    name: string,
  ): Promise<Outcome> {
    // The gateway offers channel and pattern subscriptions as Server-Sent Events only.
    const path = kind === "psubscribe" ? "psubscribe" : "subscribe";
    const abort = new AbortController();
    try {
      const response = await fetch(`${this.url}/${path}/${encodeURIComponent(name)}`, {
        headers: { authorization: `Bearer ${this.token(id)}` },
        signal: abort.signal,
      });
      if (response.status === 200) return { ok: true, status: 200 };
      return { ok: false, status: response.status, error: await response.text() };
    } catch (error) {
      return { ok: false, error: errorText(error) };
    } finally {
      abort.abort();
    }
  }

  async monitor(id: Identity): Promise<Outcome> {
    return (await this.exec(id, ["MONITOR"]))[0]!;
  }

  async reset(): Promise<void> {}

  async close(): Promise<void> {}
}
