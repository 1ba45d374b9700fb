/**
 * Stand-ins for the service's real dependencies: a sessions table (the source of truth for
 * sessions, e.g. DynamoDB) and a slow upstream API whose responses are worth caching.
 */
import { setTimeout as sleep } from "node:timers/promises";

export interface SessionData {
  userId: string;
  createdAt: Date;
}

export interface Product {
  id: string;
  name: string;
  price: bigint;
  fetchedAt: Date;
}

/** The durable sessions table (the cache sits in front of it). */
export const sessionsTable = new Map<string, SessionData>();

/** How many times the upstream API was called (the example's test reads it). */
export const upstream = { calls: 0 };

export async function fetchProduct(id: string): Promise<Product | undefined> {
  upstream.calls++;
  await sleep(25);
  if (!/^\d+$/.test(id)) return undefined;
  return { id, name: `Product ${id}`, price: BigInt(id) * 100n, fetchedAt: new Date() };
}
