// The group commit (docs/design.md, rules 1-3) and what follows it:
//  rule 1/2: segment data is written, the pool fdatasynced, then one metadata
//            batch (L/E/H/G changes, S and C records) is written;
//  rule 3:   freed segments become allocatable only after a durable commit
//            and after reads that may still use them have finished.
// A failed commit (commit-failure.ts) puts its changes back as pending and
// stalls the engine: writes fail fast with UC_NO_SPACE / UC_IO, and a commit is
// retried at most every stallRetryMs until one goes through. Every method that
// starts a commit runs under the engine mutex; the fields below are changed
// only there (or by the commit's own continuation, which the mutex orders).
import { gKey, KEY_J } from '../meta/keys.js';
import type { MetaOp, MetaStore } from '../meta/store.js';
import { encodeSegment } from '../pool/segment-record.js';
import type { SegmentTable } from '../pool/segments.js';
import type { PoolStore } from '../pool/store.js';
import type { SuperblockKeeper } from '../pool/superblock-keeper.js';
import type { UcError } from '../util/errors.js';
import { UNSYNCED_BATCHES_MAX } from '../util/limits.js';
import { CommitHealth, StageError, staged } from './commit-failure.js';
import type { MetaView } from './meta-view.js';
import type { ReadCache } from './read-cache.js';
import type { ReadGuard } from './read-guard.js';
import type { SegmentWriter } from './segment-writer.js';
import type { EngineEvent } from './types.js';
import { encodeJournalSeq, type WriteJournal } from './write-journal.js';

/** The parts of the engine core a commit reads and updates. */
export interface CommitParts {
  readonly pool: PoolStore;
  readonly meta: MetaStore;
  readonly view: MetaView;
  readonly segs: SegmentTable;
  readonly writer: SegmentWriter;
  readonly keeper: SuperblockKeeper;
  readonly guard: ReadGuard;
  readonly readCache: ReadCache;
  /** The write journal (undefined: mutations are not journaled). */
  readonly journal: WriteJournal | undefined;
  readonly stallRetryMs: number;
  readonly commitRecordsMax: number;
  /** Advances the commit sequence; returns it with the S and C records of now. */
  sealState(): { seq: number; ops: MetaOp[] };
  /** A sealed state's batch failed: its counters must be written again. */
  unsealState(): void;
  committed(sync: boolean): void;
  emit(event: EngineEvent): void;
  segmentPosition(segment: number): number;
}

export class GroupCommit {
  private readonly health: CommitHealth;
  /** Segments freed since the last batch was frozen. */
  private freedUncommitted: number[] = [];
  /** Segments freed by batches written without sync. */
  private freedUnsynced: number[] = [];
  private readonly reclaims = new Set<Promise<void>>();
  /** Something changed since the last durable commit. */
  private unsynced = false;
  private inflight: Promise<void> | undefined;
  private metaNeedsReopen = false;
  /** Segments whose records went out in batches not yet synced: rewritten after a failure. */
  private readonly segsSinceDurable = new Set<number>();
  /** Pending while the metadata store reopens; reads wait for it. */
  metaReopening: Promise<void> | undefined;
  /** Called when a commit failed, so that the engine arms a retry. */
  onStall: (() => void) | undefined;
  /** Told of every failure (stalled or broken): writes outside the mutex stop at once. */
  onFailure: (() => void) | undefined;

  constructor(private readonly p: CommitParts) {
    this.health = new CommitHealth(p.stallRetryMs, (message) => p.emit({ kind: 'no-space', message }));
    // The fields commits replace are stored once more here, as in MetaView's constructor:
    // V8 folds a field written only once into optimised code as a constant, and the
    // first commit's write would throw that code away.
    this.freedUncommitted = [];
    this.freedUnsynced = [];
    this.inflight = undefined;
    this.unsynced = false;
  }

  get stalled(): UcError | undefined {
    return this.health.stalled;
  }

  get hasPendingWork(): boolean {
    return this.unsynced || this.p.writer.hasUnwritten || this.p.view.pendingRecords > 0;
  }

  /** A mutation happened: the next durable commit has something to write. */
  noteChange(): void {
    this.unsynced = true;
  }

  /** A segment was released: the next batch records it free, rule 3 does the rest. */
  noteFreed(segment: number): void {
    this.freedUncommitted.push(segment);
  }

  /**
   * Group commit. The overlay is frozen synchronously; a durable commit resolves
   * when its batch is synced, a non-durable one runs in the background (commits
   * stay in order: each waits for the previous) so writes continue meanwhile.
   * While stalled, a commit fails at once with the stall error unless a retry
   * is due or `force` is set. `wait` false: a durable commit runs in the
   * background too (its freed segments are reused once it is synced either way).
   */
  async commit(sync: boolean, force = false, wait = true): Promise<void> {
    const { view, segs, writer, journal } = this.p;
    await this.settleCommit();
    const idle = sync
      ? !this.unsynced && !writer.hasUnwritten && view.pendingRecords === 0
      : view.pendingRecords === 0 && segs.dirty.size === 0 && !writer.hasUnwritten;
    if (idle) {
      // The written state already holds every mutation applied: the journal's are covered.
      if (this.health.stalled === undefined) journal?.covered(journal.lastSeq);
      return;
    }
    this.health.checkRetry(force);
    if (this.metaNeedsReopen) await this.reopenMeta();
    // A file emptied in the background may take appends again once this freeze rotates.
    await journal?.ready();
    // Batches applied without sync stay in RAM until a durable commit (meta-view.ts): bound them.
    if (!sync && view.unsyncedRecords >= UNSYNCED_BATCHES_MAX * this.p.commitRecordsMax) sync = true;
    const frozen = view.freeze();
    const ops: MetaOp[] = [];
    const dirty = [...segs.dirty];
    for (const s of dirty) ops.push({ type: 'put', key: gKey(s), value: encodeSegment(segs.record(s)) });
    segs.dirty.clear();
    const sealed = this.p.sealState();
    ops.push(...sealed.ops);
    // The J record: every journal record up to here is in this batch's state.
    const journalSeq = journal?.lastSeq ?? 0;
    if (journal !== undefined) {
      ops.push({ type: 'put', key: KEY_J, value: encodeJournalSeq(journalSeq) });
      journal.rotate();
    }
    const freed = this.freedUncommitted;
    this.freedUncommitted = [];
    if (sync) this.unsynced = false;
    const run = this.runCommit(chain(frozen, ops), freed, dirty, sync, sealed.seq, journalSeq).catch((err: unknown) => {
      // Nothing of this batch is known durable: make it pending again for the retry.
      view.thaw();
      for (const seg of dirty) segs.dirty.add(seg);
      for (const seg of this.segsSinceDurable) segs.dirty.add(seg);
      this.segsSinceDurable.clear();
      this.freedUncommitted = freed.concat(this.freedUncommitted);
      this.unsynced = true;
      this.p.unsealState();
      throw err instanceof StageError ? this.stall(err) : this.stall(new StageError('pool-write', err));
    });
    if (sync && wait) {
      await run;
      return;
    }
    const tracked: Promise<void> = run.then(
      () => {
        if (this.inflight === tracked) this.inflight = undefined;
      },
      () => {
        // stall() recorded it; the next mutation sees this.stalled.
        if (this.inflight === tracked) this.inflight = undefined;
      },
    );
    this.inflight = tracked;
  }

  private async runCommit(
    ops: Iterable<MetaOp>, freed: number[], dirty: number[], sync: boolean, seq: number, journalSeq: number,
  ): Promise<void> {
    const { writer, pool, meta } = this.p;
    if (this.health.broken !== undefined) throw this.health.broken;
    await staged('pool-write', () => writer.writeOut());
    if (writer.takeWritten() > 0) await staged('pool-sync', () => pool.fdatasync());
    try {
      await meta.batch(ops, sync);
    } catch (err) {
      // LevelDB may refuse every later write, and its log may end torn: reopen first.
      this.metaNeedsReopen = meta.reopen !== undefined;
      throw new StageError('meta-write', err);
    }
    await this.p.view.dropFrozen(sync);
    this.p.journal?.covered(journalSeq);
    if (sync) this.segsSinceDurable.clear();
    else for (const seg of dirty) this.segsSinceDurable.add(seg);
    this.p.committed(sync);
    this.freedUnsynced.push(...freed);
    if (sync) {
      this.p.keeper.noteDurable(seq);
      const reusable = this.freedUnsynced;
      this.freedUnsynced = [];
      if (reusable.length > 0) this.reclaim(reusable);
    }
    if (this.health.succeeded()) this.p.emit({ kind: 'no-space-cleared' });
  }

  /** The superblock keeper's fdatasync failed. It shares the pool's file, and Linux
   * reports a writeback error to one fdatasync only: treated as our own. */
  poolSyncFailed(err: unknown): void {
    this.stall(new StageError('pool-sync', err));
  }

  private stall(err: StageError): UcError {
    const e = this.health.fail(err.stage, err.original);
    this.onFailure?.();
    if (e !== this.health.broken) this.onStall?.();
    return e;
  }

  /** Reopens the metadata store after a failed batch (before any new batch). */
  private async reopenMeta(): Promise<void> {
    const reopen = this.p.meta.reopen?.();
    if (reopen === undefined) {
      this.metaNeedsReopen = false;
      return;
    }
    this.metaReopening = reopen.then(() => undefined, () => undefined);
    try {
      await reopen;
      this.metaNeedsReopen = false;
    } catch (err) {
      throw this.stall(new StageError('meta-reopen', err));
    } finally {
      this.metaReopening = undefined;
    }
  }

  /** Waits for a background commit (its failure, if any, is in this.stalled). */
  /**
   * [no mutex held] A commit that does not wait for the one in flight under the
   * mutex: waits for it first, then commits in a turn of `run` (the mutex)
   * unless another started meanwhile (then waits again). `wait`: as commit().
   */
  async commitAfterInFlight(sync: boolean, run: (fn: () => Promise<boolean>) => Promise<boolean>, wait = true): Promise<void> {
    for (;;) {
      await this.settleCommit();
      const done = await run(async () => {
        if (this.inflight !== undefined) return false;
        await this.commit(sync, false, wait);
        return true;
      });
      if (done) return;
    }
  }

  async settleCommit(): Promise<void> {
    await this.inflight;
  }

  /** True when checkWritable() would return at once. */
  writableNow(): boolean {
    return this.health.broken === undefined && this.health.stalled === undefined;
  }

  /** Before a mutation: fails fast while stalled, retrying the commit when one is due. */
  async checkWritable(): Promise<void> {
    if (this.health.broken !== undefined) throw this.health.broken;
    if (this.health.stalled === undefined) return;
    await this.commit(true);
  }

  /** Writes `ops` alone, synced, when commits work (a clean close's last records). */
  async writeAlone(ops: MetaOp[]): Promise<void> {
    if (this.health.stalled !== undefined) return;
    await this.p.meta.batch(ops, true);
  }

  /** Punches freed segments once no read can still use them, then makes them allocatable. */
  private reclaim(segments: number[]): void {
    const { guard, pool, segs, keeper, readCache } = this.p;
    const task = (async () => {
      await guard.drain();
      for (const s of segments) {
        // Reads that were filling a chunk of s when it was freed have ended now.
        readCache.forget(s);
        // Best effort (PoolStore contract): a failed punch only keeps the space allocated.
        await pool.punchHole(this.p.segmentPosition(s), keeper.sb.segmentBytes).catch(() => undefined);
        segs.makeReusable(s);
      }
    })();
    const tracked: Promise<void> = task.finally(() => this.reclaims.delete(tracked));
    this.reclaims.add(tracked);
  }

  async settleReclaims(): Promise<void> {
    while (this.reclaims.size > 0) await Promise.all([...this.reclaims]);
  }

  async settle(): Promise<void> {
    await this.inflight;
    await this.settleReclaims();
  }
}

/** The ops of `a`, then those of `b` (read as the store reads them). */
function* chain(a: Iterable<MetaOp>, b: Iterable<MetaOp>): Generator<MetaOp> {
  yield* a;
  yield* b;
}
