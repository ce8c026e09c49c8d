// The engine's timers: the delayed (non-durable) commit after a mutation, the
// retry of a stalled commit, and background compaction. Each runs its work
// through the engine's mutex (`exclusive`) and never outlives close().
import { COMPACT_LOW_FREE_FRACTION } from '../util/limits.js';
import type { Compactor } from './compactor.js';
import type { EngineCore } from './core.js';
import type { SectionKind } from './engine-mutex.js';

/** The background retry of a stalled commit never spins faster than this. */
const STALL_RETRY_TIMER_MS_MIN = 10;

export type Exclusive = <T>(kind: SectionKind, fn: () => Promise<T>) => Promise<T>;

export class Background {
  private closed = false;
  private timer: NodeJS.Timeout | undefined;
  private retryTimer: NodeJS.Timeout | undefined;
  private compactScheduled = false;
  /** commitSoon() is waiting for the commit in flight. */
  private commitQueued = false;
  /** When the last mutation happened (ms, performance.now), and the check waiting for a pause. */
  private lastMutation = -Infinity;
  private idleTimer: NodeJS.Timeout | undefined;

  constructor(
    private readonly core: EngineCore,
    private readonly compactor: Compactor,
    private readonly exclusive: Exclusive,
  ) {
    core.onStall = () => this.armRetry();
  }

  /** Stops every timer; nothing new is scheduled afterwards. */
  close(): void {
    this.closed = true;
    if (this.timer !== undefined) clearTimeout(this.timer);
    if (this.retryTimer !== undefined) clearTimeout(this.retryTimer);
    if (this.idleTimer !== undefined) clearTimeout(this.idleTimer);
  }

  /** Arms the delayed commit after a mutation. */
  afterMutation(): void {
    const c = this.core;
    this.lastMutation = performance.now();
    if (c.opts.flushDelayMs > 0 && this.timer === undefined && !this.closed && c.hasPendingWork) {
      this.timer = setTimeout(() => {
        this.timer = undefined;
        this.commitSoon();
      }, c.opts.flushDelayMs);
      this.timer.unref();
    }
  }

  /** A non-durable commit once the one in flight, if any, has settled; one at a time. */
  commitSoon(): void {
    if (this.closed || this.commitQueued) return;
    const c = this.core;
    // The commit in flight is waited for before taking the mutex: commit() would
    // wait for it under the mutex, holding up every writer (and keeping the addon's
    // one-block writes shut out) for a whole pool write, fdatasync and LevelDB batch.
    this.commitQueued = true;
    c.commitAfterInFlight(false, (fn) => {
      this.commitQueued = false;
      return this.closed ? Promise.resolve(true) : this.exclusive('commit', fn);
    }).then(() => this.maybeCompact(), () => undefined);
  }

  /** Schedules one background compaction step when a segment qualifies, once writes
   * have paused (or free segments run short: COMPACT_LOW_FREE_FRACTION). */
  maybeCompact(): void {
    const c = this.core;
    if (!c.opts.backgroundCompaction || this.closed || this.compactScheduled) return;
    if (c.segments.candidates(c.opts.compactLiveFraction, 1).length === 0) return;
    const wait = this.lastMutation + c.opts.compactIdleMs - performance.now();
    if (wait > 0 && c.segments.freeCount > c.segments.count * COMPACT_LOW_FREE_FRACTION) {
      if (this.idleTimer !== undefined) return;
      this.idleTimer = setTimeout(() => {
        this.idleTimer = undefined;
        this.maybeCompact();
      }, wait);
      this.idleTimer.unref();
      return;
    }
    this.compactScheduled = true;
    setImmediate(() => {
      // close() may have begun since this was scheduled: a piece after its final
      // commit would write to a pool being closed. The previous step's commit is
      // waited for first, outside the mutex (as commitSoon does).
      const run = (): Promise<number> =>
        this.compactor.stepInPieces(c.opts.compactLiveFraction, (fn) => this.exclusive('compact', fn), () => this.closed);
      c.settleCommit().then(run, run).then(
        (n) => {
          this.compactScheduled = false;
          if (n > 0) this.maybeCompact();
        },
        () => {
          this.compactScheduled = false;
        },
      );
    }).unref();
  }

  /** After a failed commit: retries it in the background until one goes through. */
  private armRetry(): void {
    if (this.closed || this.retryTimer !== undefined) return;
    this.retryTimer = setTimeout(() => {
      this.retryTimer = undefined;
      if (this.closed || this.core.stalled === undefined) return;
      this.exclusive('retry', () => this.core.commit(true, true)).then(() => this.maybeCompact(), () => undefined);
    }, Math.max(this.core.opts.stallRetryMs, STALL_RETRY_TIMER_MS_MIN));
    this.retryTimer.unref();
  }
}
