import assert from "node:assert/strict";
import { describe, it } from "node:test";
import fc from "fast-check";
import {
  type ActualState,
  type DesiredState,
  desiredStateFromConfig,
  formatPlan,
  type PlanAction,
  parseConfig,
  passwordHash,
  plan,
} from "../src/index.js";

const config = parseConfig({
  stage: "dev",
  region: "eu-west-1",
  services: [
    { name: "orders", access: "read-write" },
    { name: "catalog", access: "read-only" },
  ],
});

/** What a well-behaved target looks like after applying `actions` (passwords come from the secrets). */
function applyInMemory(desired: DesiredState, actual: ActualState, actions: PlanAction[]): ActualState {
  const users = new Map(actual.users.map((u) => [u.userId, { ...u }]));
  const members = new Set(actual.userGroup?.userIds ?? []);
  const libraries = new Map((actual.scriptLibraries ?? []).map((n) => [n.node, new Set(n.libraries)]));
  for (const a of actions) {
    const want = desired.users.find((u) => u.userId === ("userId" in a ? a.userId : ""));
    switch (a.type) {
      case "create-user":
      case "modify-user":
        users.set(a.userId, {
          userId: a.userId,
          userName: want!.userName,
          accessString: a.accessString,
          passwordHashes: want!.passwordHashes ?? ["generated"],
          managed: true,
        });
        break;
      case "add-to-group":
        members.add(a.userId);
        break;
      case "remove-from-group":
        members.delete(a.userId);
        break;
      case "delete-user":
        users.delete(a.userId);
        break;
      case "load-script-library":
        libraries.get(a.node)!.add(a.library);
        break;
      case "delete-script-library":
        libraries.get(a.node)!.delete(a.library);
        break;
    }
  }
  const next: ActualState = { users: [...users.values()] };
  if (actual.userGroup) next.userGroup = { groupId: actual.userGroup.groupId, userIds: [...members] };
  if (actual.scriptLibraries)
    next.scriptLibraries = [...libraries].map(([node, set]) => ({ node, libraries: [...set] }));
  return next;
}

const hashes = { orders: [passwordHash("o".repeat(40))], catalog: [passwordHash("c".repeat(40))] };

describe("plan", () => {
  it("creates every user and adds it to the group on an empty target", () => {
    const desired = desiredStateFromConfig(config, { withUserGroup: true });
    const actions = plan(desired, {
      users: [],
      userGroup: { groupId: "dev-shared-users", userIds: ["default"] },
    });
    assert.deepEqual(
      actions.map((a) => `${a.type}:${"userId" in a ? a.userId : ""}`),
      ["create-user:catalog", "create-user:orders", "add-to-group:catalog", "add-to-group:orders"],
    );
  });

  it("is empty when nothing differs, and never contains a password", () => {
    const desired = desiredStateFromConfig(config, { passwordHashes: hashes });
    const actual: ActualState = {
      users: desired.users.map((u) => ({ ...u, passwordHashes: u.passwordHashes!, managed: true })),
    };
    assert.deepEqual(plan(desired, actual), []);
    assert.equal(formatPlan([]), "No changes. The target matches the config.");
  });

  it("shows a hand-edited access string as modify-user with the diff", () => {
    const desired = desiredStateFromConfig(config, { passwordHashes: hashes });
    const actual: ActualState = {
      users: desired.users.map((u) => ({
        ...u,
        accessString: u.userId === "catalog" ? "on ~* +@all" : u.accessString,
        passwordHashes: u.passwordHashes!,
        managed: true,
      })),
    };
    const actions = plan(desired, actual);
    assert.equal(actions.length, 1);
    const [modify] = actions;
    assert.equal(modify!.type, "modify-user");
    assert.ok(modify!.type === "modify-user" && modify!.changes.join() === "access");
    const text = formatPlan(actions);
    assert.match(text, /~ modify user catalog/);
    assert.match(text, /- on ~\* \+@all/);
    assert.match(text, /Plan: 1 modify-user\./);
  });

  it("resets passwords when the server's differ from the secret's or no secret exists", () => {
    const desired = desiredStateFromConfig(config, { passwordHashes: { orders: hashes.orders } });
    const actual: ActualState = {
      users: desired.users.map((u) => ({ ...u, passwordHashes: ["someone-else"], managed: true })),
    };
    const actions = plan(desired, actual);
    assert.deepEqual(
      actions.map((a) => (a.type === "modify-user" ? `${a.userId}:${a.changes}` : a.type)),
      ["catalog:passwords", "orders:passwords"],
    );
  });

  it("leaves unmanaged and undeclared users alone; prunes managed ones only with prune", () => {
    const desired = desiredStateFromConfig(config, { passwordHashes: hashes, withUserGroup: true });
    const actual: ActualState = {
      users: [
        ...desired.users.map((u) => ({ ...u, passwordHashes: u.passwordHashes!, managed: true })),
        { userId: "legacy", userName: "legacy", accessString: "on ~legacy:* +@all", managed: true },
        { userId: "default", userName: "default", accessString: "off", managed: false },
      ],
      userGroup: { groupId: "g", userIds: ["default", "orders", "catalog", "legacy"] },
    };
    assert.deepEqual(plan(desired, actual), []);
    assert.deepEqual(
      plan(desired, actual, { prune: true }).map((a) => a.type),
      ["remove-from-group", "delete-user"],
    );
  });

  it("loads the script library on every master that lacks it; deletes older versions only when asked", () => {
    const desired = desiredStateFromConfig(config, {
      passwordHashes: hashes,
      scriptLibrary: "cacheplane_new",
    });
    const actual: ActualState = {
      users: desired.users.map((u) => ({ ...u, passwordHashes: u.passwordHashes!, managed: true })),
      scriptLibraries: [
        { node: "10.0.0.2:6379", libraries: ["cacheplane_old", "cacheplane_new", "mylib"] },
        { node: "10.0.0.1:6379", libraries: ["cacheplane_old"] },
      ],
    };
    assert.deepEqual(plan(desired, actual), [
      { type: "load-script-library", node: "10.0.0.1:6379", library: "cacheplane_new" },
    ]);
    const pruned = plan(desired, actual, { pruneScriptLibraries: true });
    assert.deepEqual(
      pruned.map((a) => `${a.type} ${"node" in a ? a.node : ""} ${"library" in a ? a.library : ""}`),
      [
        "load-script-library 10.0.0.1:6379 cacheplane_new",
        "delete-script-library 10.0.0.1:6379 cacheplane_old",
        "delete-script-library 10.0.0.2:6379 cacheplane_old",
      ],
      "other libraries (mylib) are never touched",
    );
    assert.match(formatPlan(pruned), /\+ load script library cacheplane_new on 10\.0\.0\.1:6379/);
    assert.match(formatPlan(pruned), /- delete script library cacheplane_old on 10\.0\.0\.2:6379/);
    assert.deepEqual(plan({ ...desired, scriptLibrary: undefined }, actual), [], "targets without functions");
  });

  it("applying a plan then planning again gives an empty plan (any starting state)", () => {
    const userIds = ["orders", "catalog", "legacy", "other"];
    const arbActual = fc.record({
      users: fc.uniqueArray(
        fc.record({
          userId: fc.constantFrom(...userIds),
          accessString: fc.constantFrom("on ~* +@all", "off", config.services[0]!.accessString),
          passwordHashes: fc.option(fc.constantFrom<string[]>([hashes.orders[0]!], ["x"]), {
            nil: undefined,
          }),
          managed: fc.boolean(),
        }),
        { selector: (u) => u.userId },
      ),
      members: fc.subarray(userIds),
      libraries: fc.array(fc.subarray(["cacheplane_new", "cacheplane_old", "mylib"]), { maxLength: 3 }),
    });
    fc.assert(
      fc.property(arbActual, fc.boolean(), fc.boolean(), (a, prune, withHashes) => {
        const desired = desiredStateFromConfig(config, {
          withUserGroup: true,
          scriptLibrary: "cacheplane_new",
          ...(withHashes ? { passwordHashes: hashes } : {}),
        });
        const actual: ActualState = {
          users: a.users.map((u) => ({ ...u, userName: u.userId })),
          userGroup: { groupId: "g", userIds: a.members },
          scriptLibraries: a.libraries.map((libraries, i) => ({ node: `10.0.0.${i}:6379`, libraries })),
        };
        const first = plan(desired, actual, { prune, pruneScriptLibraries: prune });
        const after = applyInMemory(desired, actual, first);
        const second = plan(
          withHashes
            ? desired
            : { ...desired, users: desired.users.map((u) => ({ ...u, passwordHashes: ["generated"] })) },
          after,
          { prune, pruneScriptLibraries: prune },
        );
        assert.deepEqual(second, [], JSON.stringify({ first, second }));
        assert.doesNotMatch(JSON.stringify(first), /o{40}|c{40}/);
      }),
    );
  });
});
