/**
 * The services of the example platform, declared once in Cacheplane's config shape. The CDK stacks
 * and `cacheplane plan/apply` (with a config that imports this list) derive the same user ids,
 * keyspaces, access strings and secret names from it.
 */
import type { ServiceInput } from "@cacheplane/core";

/** One service of the example: its Cacheplane declaration and its Lambda handler file. */
export interface ExampleService {
  /** Stack id suffix, e.g. `Orders` -> stack `CacheplaneOrders-dev`. */
  readonly id: string;
  readonly declaration: ServiceInput;
  /** Handler file under `src/handlers/`. */
  readonly handlerFile: string;
}

export const exampleServices: readonly ExampleService[] = [
  {
    id: "Orders",
    declaration: { name: "orders-api", keyspace: "orders", access: "read-write", owner: "team-orders" },
    handlerFile: "orders.ts",
  },
  {
    id: "Catalog",
    declaration: { name: "catalog", access: "read-write", owner: "team-catalog" },
    handlerFile: "catalog.ts",
  },
];
