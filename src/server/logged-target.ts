// Wraps a BlockTarget so that every failed request, and every request slower
// than SLOW_OP_MS, leaves one structured log line (op, lba, blocks, errno,
// latencyMs). The hot path costs two clock reads per request. On a full
// backing filesystem only the first ENOSPC failure is logged until a write
// succeeds again (no-space-episode.ts; the 1:1 native path shares the episode).

import { performance } from 'node:perf_hooks';
import type { BlockTarget } from '../device/target.js';
import { ENOSPC } from '../util/errno.js';
import { toErrno } from '../util/errors.js';
import type { Logger } from './logger.js';
import { NO_SPACE_NOTE, NoSpaceEpisode } from './no-space-episode.js';
import type { LatencyOp, RequestLatency } from './latency.js';

/** A request slower than this is worth a warning (a stalled backing disk). */
export const SLOW_OP_MS = 1000;

/** The histogram each logged op name counts in. */
const LATENCY_OP_OF: Record<string, LatencyOp> = {
  read: 'read', write: 'write', 'write-fua': 'write', flush: 'flush', discard: 'discard', 'write-zeroes': 'write_zeroes',
};

/** `latency`: where every request's duration is counted (failed ones too). */
export function loggedTarget(
  inner: BlockTarget, log: Logger, noSpace = new NoSpaceEpisode(), latency?: RequestLatency,
): BlockTarget {
  // No async frame and no thunk: one extra promise reaction per request, whose
  // two handlers are the only objects this wrapper allocates for it.
  const timed = (op: string, lba: number, blocks: number, started: number, work: Promise<void>): Promise<void> => {
    const histogram = LATENCY_OP_OF[op];
    return work.then(
      () => {
        if (op !== 'read') noSpace.wrote();
        const latencyMs = performance.now() - started;
        latency?.observe(histogram, latencyMs / 1000);
        if (latencyMs > SLOW_OP_MS) log.warn({ op, lba, blocks, latencyMs: Math.round(latencyMs) }, 'slow request');
      },
      (err: unknown) => {
        const elapsedMs = performance.now() - started;
        latency?.observe(histogram, elapsedMs / 1000);
        const latencyMs = Math.round(elapsedMs);
        const errno = -toErrno(err);
        if (errno !== ENOSPC || noSpace.failed()) {
          const note = errno === ENOSPC ? NO_SPACE_NOTE : undefined;
          log.error({ op, lba, blocks, errno, latencyMs, err, note }, 'request failed');
        }
        throw err;
      },
    );
  };
  // Each method reads the clock before it calls the inner target (the order
  // the duration needs), so the call is an argument of timed().
  return {
    read: (lba, blocks, buf) => timed('read', lba, blocks, performance.now(), inner.read(lba, blocks, buf)),
    write: (lba, blocks, buf, fua) =>
      timed(fua ? 'write-fua' : 'write', lba, blocks, performance.now(), inner.write(lba, blocks, buf, fua)),
    flush: () => timed('flush', 0, 0, performance.now(), inner.flush()),
    discard: (lba, blocks) => timed('discard', lba, blocks, performance.now(), inner.discard(lba, blocks)),
    writeZeroes: (lba, blocks, noUnmap) =>
      timed('write-zeroes', lba, blocks, performance.now(), inner.writeZeroes(lba, blocks, noUnmap)),
    close: () => inner.close(),
  };
}
