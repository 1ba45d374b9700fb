/**
 * Counting the writes a socket hands to the kernel, for tests of write batching: each call of the
 * stream's `_write` or `_writev` is one write. Counts synchronously, so a test can tell a command
 * written at once from one held until the end of the turn, without timing anything.
 */

/** The count so far, and `restore()` to put the socket's own methods back. */
export interface SocketWriteCounter {
  readonly count: number;
  restore(): void;
}

type Writer = (...args: unknown[]) => unknown;

/** Starts counting the writes of `socket` (a net.Socket or tls.TLSSocket, e.g. ioredis's `stream`). */
export function countSocketWrites(socket: unknown): SocketWriteCounter {
  const s = socket as { _write: Writer; _writev?: Writer };
  const write = s._write;
  const writev = s._writev;
  const counter = {
    count: 0,
    restore() {
      s._write = write;
      s._writev = writev;
    },
  };
  s._write = function (this: unknown, ...args: unknown[]) {
    counter.count++;
    return write.apply(this, args);
  };
  if (writev) {
    s._writev = function (this: unknown, ...args: unknown[]) {
      counter.count++;
      return writev.apply(this, args);
    };
  }
  return counter;
}
