/**
 * 20 service stacks deploy at once: 20 membership custom resources (each its own Lambda invocation,
 * with its own ElastiCache target and a 15-minute Lambda deadline) add their users to the one user
 * group. The fake ElastiCache keeps the group `modifying` for a while after each change and refuses
 * changes meanwhile (InvalidUserGroupStateFault), on a virtual clock shared by all 20. Every one of
 * them must succeed.
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import type { CloudFormationCustomResourceCreateEvent } from "aws-lambda";
import { ElastiCacheTarget } from "../../provisioner/src/elasticache-target.js";
import { FakeElastiCache } from "../../provisioner/test/elasticache-fake.js";
import { handleMembershipEvent } from "../src/handler/membership.js";

const GROUP = "dev-shared-users";
const LAMBDA_TIMEOUT_MS = 15 * 60_000;
const RESPONSE_MARGIN_MS = 30_000;

/**
 * Virtual time: `sleep` parks the caller until the driver advances the clock to its wake-up time. The
 * driver advances only when every actor is parked (nothing else runs before the next macrotask), so
 * the outcome does not depend on the real speed of the machine.
 */
class VirtualTime {
  now = 1_700_000_000_000;
  private seq = 0;
  private readonly timers: { at: number; seq: number; wake: () => void }[] = [];
  private seed: number;

  constructor(seed: number) {
    this.seed = seed;
  }

  sleep = (ms: number): Promise<void> =>
    new Promise((wake) => {
      this.timers.push({ at: this.now + Math.max(0, ms), seq: this.seq++, wake });
    });

  /** A seeded PRNG (mulberry32): the run is reproducible. */
  random = (): number => {
    this.seed = (this.seed + 0x6d2b79f5) | 0;
    let t = this.seed;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };

  async run<T>(work: Promise<T>): Promise<T> {
    let done = false;
    const result = work.finally(() => {
      done = true;
    });
    while (!done) {
      await new Promise<void>((resolve) => setImmediate(resolve));
      if (done || this.timers.length === 0) continue;
      this.timers.sort((a, b) => a.at - b.at || a.seq - b.seq);
      const next = this.timers.shift()!;
      this.now = Math.max(this.now, next.at);
      next.wake();
    }
    return result;
  }
}

function createEvent(userId: string): CloudFormationCustomResourceCreateEvent {
  return {
    RequestType: "Create",
    ServiceToken: "arn:aws:lambda:eu-west-1:123456789012:function:handler",
    ResponseURL: "https://example.invalid/response",
    StackId: `arn:aws:cloudformation:eu-west-1:123456789012:stack/${userId}/0`,
    RequestId: `request-${userId}`,
    LogicalResourceId: "CacheGroupMembership",
    ResourceType: "Custom::CacheplaneUserGroupMembership",
    ResourceProperties: {
      ServiceToken: "arn:aws:lambda:eu-west-1:123456789012:function:handler",
      UserGroupId: GROUP,
      UserId: userId,
      Engine: "valkey",
      Service: userId,
      Keyspace: userId,
      AccessString: `on ~${userId}:* resetchannels -@all +@read`,
      ManageUser: "false",
    },
  };
}

async function deployAtOnce(stacks: number, seed: number) {
  const time = new VirtualTime(seed);
  const fake = new FakeElastiCache();
  fake.clock = { now: () => time.now };
  // Each ModifyUserGroup keeps the group `modifying` for 20 s of (virtual) time.
  fake.transitionMs = 20_000;
  // Each API call takes 50-250 ms: two deployments can both see the group `active` and both write.
  fake.latency = () => time.sleep(50 + Math.floor(time.random() * 200));
  fake.addGroup({ UserGroupId: GROUP });
  const ids = Array.from({ length: stacks }, (_, i) => `svc${i}`);
  for (const id of ids) fake.addUser({ UserId: id, AccessString: `on ~${id}:* resetchannels -@all +@read` });
  const started = time.now;
  const responses = await time.run(
    Promise.all(
      ids.map((id) => {
        const deadline = started + LAMBDA_TIMEOUT_MS - RESPONSE_MARGIN_MS;
        const target = new ElastiCacheTarget({
          client: fake.client,
          clock: { sleep: time.sleep, now: () => time.now, random: time.random },
          deadline,
          ownerTag: "cloudformation",
        });
        return handleMembershipEvent(createEvent(id), { target, readPasswords: async () => [] });
      }),
    ),
  );
  return { fake, responses, ids, elapsedMs: time.now - started };
}

describe("20 stacks deploying their memberships at once", () => {
  for (const seed of [1, 2, 3]) {
    it(`all succeed within the Lambda's time (seed ${seed})`, async () => {
      const { fake, responses, ids, elapsedMs } = await deployAtOnce(20, seed);
      const failed = responses.filter((r) => r.Status !== "SUCCESS").map((r) => r.Reason);
      assert.deepEqual(failed, [], "no membership failed");
      assert.deepEqual([...fake.groups.get(GROUP)!.UserIds].sort(), [...ids].sort());
      assert.ok(
        fake.callsOf("ModifyUserGroup").length > 20,
        "the group was contended (some ModifyUserGroup calls were refused)",
      );
      assert.ok(
        elapsedMs <= LAMBDA_TIMEOUT_MS - RESPONSE_MARGIN_MS,
        `finished in ${elapsedMs} ms of virtual time`,
      );
    });
  }
});
