/**
 * `upstash-sync-token` (read-your-writes). `@upstash/redis` sends the token of its last answer with
 * every request and keeps the one each answer carries. On Upstash the token is a replication
 * position: a request waits until the replica that serves it has caught up.
 *
 * Behind this gateway every command runs on a primary (one server, or the primary of the key's slot
 * on a cluster; reads are never sent to replicas), and a command is answered only after that primary
 * ran it. So a client that saw its write acknowledged sees it in every later request, through any
 * gateway instance: there is nothing to wait for, and the gateway never waits. The token is what keeps
 * clients that carry it working: a string of decimal digits that only grows along a client's
 * session: each answer's token is larger than the token the request carried, larger than any token
 * this gateway process answered before, and at least the current time in microseconds (so a client
 * moving between gateway instances still sees it grow). A token that is not a number of at most 20
 * digits is ignored. Requests without the header get no token (no work for plain HTTP clients).
 */

/** Request and response header. */
export const SYNC_TOKEN_HEADER = "upstash-sync-token";

const DIGITS = /^\d{1,20}$/;

/** Issues monotonically increasing sync tokens (one per gateway). */
export class SyncTokenClock {
  private last = 0n;

  constructor(private readonly nowMicros: () => bigint = () => BigInt(Date.now()) * 1000n) {}

  /** The token to answer a request that carried `received` (the header's value, maybe empty). */
  next(received: string): string {
    let value = this.nowMicros();
    if (value <= this.last) value = this.last + 1n;
    const trimmed = received.trim();
    if (DIGITS.test(trimmed)) {
      const theirs = BigInt(trimmed);
      if (value <= theirs) value = theirs + 1n;
    }
    this.last = value;
    return value.toString();
  }
}
