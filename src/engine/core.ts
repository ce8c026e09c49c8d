// EngineCore: the engine's state and the primitives every operation shares
// (map updates with reference counting, extent and segment release, group
// commit, space reservation). Callers hold the engine's mutex for anything that
// mutates; reads only use lookups. Consistency rules (DESIGN.md) live here:
//  rule 1/2: commit() writes segment data, fdatasyncs the pool, then the batch;
//  rule 3:   freed segments become allocatable only after a durable commit
//            and after reads that may still use them have finished.
// A failed commit (commit-failure.ts) puts its changes back as pending and
// stalls the engine: writes fail fast with UC_NO_SPACE / UC_IO, and a commit is
// retried at most every stallRetryMs until one goes through.
import assert from 'node:assert';
import { CodecSet, codecByName, type Codec } from '../compress/index.js';
import { xxh128, type DedupMode, type FingerprintFn } from '../dedup/index.js';
import { gKey, KEY_S, keySuccessor, lbaOfKey, lKey, PREFIX_L, prefixEnd } from '../meta/keys.js';
import { encodeMapExtent, encodeSegment, encodeState, mapExtentId, type Extent, type MetaState } from '../meta/records.js';
import type { MetaOp, MetaStore } from '../meta/store.js';
import { fragmentBytes } from '../pool/fragment.js';
import type { Superblock } from '../pool/format.js';
import { SEG_SEALED, type SegmentTable } from '../pool/segments.js';
import type { PoolStore } from '../pool/store.js';
import { SuperblockKeeper } from '../pool/superblock-keeper.js';
import { UcError } from '../util/errors.js';
import {
  COMMIT_RECORDS_MAX, UNSYNCED_BATCHES_MAX, COMPACT_LIVE_FRACTION, FLUSH_DELAY_MS_DEFAULT, RESERVED_SEGMENTS, SCAN_CHUNK_ENTRIES,
  STALL_RETRY_MS_DEFAULT,
} from '../util/limits.js';
import { isNoSpace, StageError, staged, stallError, type CommitStage } from './commit-failure.js';
import { FRAGMENT_BYTES_MAX } from '../pool/fragment.js';
import { MetaView } from './meta-view.js';
import { ReadGuard } from './read-guard.js';
import { SegmentWriter } from './segment-writer.js';
import type { EngineEvent, EngineOptions } from './types.js';
import { compactStep } from './compactor.js';
import { MappedBits } from './mapped-bits.js';

export interface Counters {
  blocksWritten: number;
  blocksRead: number;
  dedupHits: number;
  sameFillBlocks: number;
  compressedBlocks: number;
  rawBlocks: number;
  fingerprintCollisions: number;
  readVerifyFailures: number;
  commits: number;
  durableCommits: number;
  segmentsCleaned: number;
  bytesMoved: number;
}

export interface ResolvedOptions {
  dedup: DedupMode;
  fingerprint: FingerprintFn;
  flushDelayMs: number;
  backgroundCompaction: boolean;
  compactLiveFraction: number;
  commitRecordsMax: number;
  stallRetryMs: number;
  onEvent: ((event: EngineEvent) => void) | undefined;
}

export function resolveOptions(o: EngineOptions): ResolvedOptions {
  const r: ResolvedOptions = {
    dedup: o.dedup ?? 'verify',
    fingerprint: o.fingerprint ?? xxh128,
    flushDelayMs: o.flushDelayMs ?? FLUSH_DELAY_MS_DEFAULT,
    backgroundCompaction: o.backgroundCompaction ?? true,
    compactLiveFraction: o.compactLiveFraction ?? COMPACT_LIVE_FRACTION,
    commitRecordsMax: o.commitRecordsMax ?? COMMIT_RECORDS_MAX,
    stallRetryMs: o.stallRetryMs ?? STALL_RETRY_MS_DEFAULT,
    onEvent: o.onEvent,
  };
  assert(r.compactLiveFraction > 0 && r.compactLiveFraction <= 1);
  assert(r.commitRecordsMax > 0);
  assert(Number.isSafeInteger(r.stallRetryMs) && r.stallRetryMs >= 0);
  return r;
}

export class EngineCore {
  readonly view: MetaView;
  readonly mapped: MappedBits;
  private loading: Promise<void> | undefined;
  readonly writer: SegmentWriter;
  readonly guard = new ReadGuard();
  readonly codecs = new CodecSet();
  readonly codec: Codec;
  readonly opts: ResolvedOptions;
  /** Writes the superblock: geometry on resize, the durable commit sequence after syncs. */
  readonly keeper: SuperblockKeeper;
  readonly counters: Counters = {
    blocksWritten: 0, blocksRead: 0, dedupHits: 0, sameFillBlocks: 0, compressedBlocks: 0,
    rawBlocks: 0, fingerprintCollisions: 0, readVerifyFailures: 0, commits: 0, durableCommits: 0, segmentsCleaned: 0,
    bytesMoved: 0,
  };
  compacting = false;
  private freedUncommitted: number[] = [];
  private freedUnsynced: number[] = [];
  private readonly reclaims = new Set<Promise<void>>();
  /** Something changed since the last durable commit. */
  private unsynced = false;
  private inflight: Promise<void> | undefined;
  /** Set while commits fail: mutations get this error until a retry commits. */
  stalled: UcError | undefined;
  private retryAtMs = 0;
  /** Set after a failed fdatasync: no commit may follow (see commit-failure.ts). */
  private broken: UcError | undefined;
  private metaNeedsReopen = false;
  /** Segments whose records went out in batches not yet synced: rewritten after a failure. */
  private readonly segsSinceDurable = new Set<number>();
  /** Pending while the metadata store reopens; reads wait for it. */
  metaReopening: Promise<void> | undefined;
  /** Called when a commit failed, so that the engine arms a retry. */
  onStall: (() => void) | undefined;

  constructor(
    readonly pool: PoolStore,
    readonly meta: MetaStore,
    sb: Superblock,
    readonly state: MetaState,
    readonly segs: SegmentTable,
    options: EngineOptions,
    sbSlot = 0,
  ) {
    this.keeper = new SuperblockKeeper(pool, sb, sbSlot, (err) => this.stall('pool-sync', err));
    this.opts = resolveOptions(options);
    this.eventHandler = this.opts.onEvent;
    this.codec = codecByName(options.compression ?? 'lz4');
    this.mapped = new MappedBits(state.logicalBytes / 4096);
    this.view = new MetaView(meta, this.mapped);
    this.writer = new SegmentWriter(pool, segs, sb.dataOffset);
  }

  get sb(): Superblock {
    return this.keeper.sb;
  }

  get logicalBlocks(): number {
    return this.state.logicalBytes / 4096;
  }

  /** Where events go: options.onEvent, replaceable by the host after open. */
  eventHandler: ((event: EngineEvent) => void) | undefined;

  /** Reports an event to the host; a throwing handler must not break I/O. */
  emit(event: EngineEvent): void {
    try {
      this.eventHandler?.(event);
    } catch {
      // The handler is a logger: losing one line is better than failing the request.
    }
  }

  segmentPosition(segment: number): number {
    return this.sb.dataOffset + segment * this.sb.segmentBytes;
  }

  /** An LBA's current map value. Callers that add a reference before setMap take it
   * first: a lookup that finds damage (it throws) must fail before anything changed. */
  mapBefore(lba: number): Buffer | undefined {
    return this.view.getMap(lba);
  }

  /** Replaces an LBA's map value, keeping the mapped-block count and references right.
   * The new value's extent must already hold its reference for this LBA; `old` is
   * mapBefore(lba) when the caller took it before adding that reference. */
  setMap(lba: number, value: Buffer | null, old = this.mapBefore(lba)): void {
    this.view.setMap(lba, value);
    this.unsynced = true;
    if (old === undefined && value !== null) this.state.mappedBlocks += 1;
    if (old !== undefined && value === null) this.state.mappedBlocks -= 1;
    if (old !== undefined) this.dropReference(old);
  }

  /** Stores a new extent for an encoded block; returns its map value. */
  addExtent(codecId: number, payload: Buffer, fingerprint: Buffer): Extent {
    const id = this.state.nextExtentId;
    this.state.nextExtentId += 1;
    const at = this.writer.append(codecId, payload, id);
    this.segs.addLive(at.segment, at.bytes);
    const e: Extent = {
      id, segment: at.segment, offset: at.offset, storedBytes: payload.length, codecId, refs: 1,
      fingerprint,
    };
    this.view.putExtent(e);
    this.state.extentCount += 1;
    this.unsynced = true;
    return e;
  }

  addReference(e: Extent): Buffer {
    e.refs += 1;
    this.view.putExtent(e);
    return encodeMapExtent(e.id);
  }

  private dropReference(old: Buffer): void {
    const id = mapExtentId(old);
    if (id < 0) return;
    const e = this.view.getExtent(id);
    if (e === undefined) throw new UcError('UC_POOL_CORRUPT', `map references missing extent ${id}`);
    assert(e.refs > 0);
    e.refs -= 1;
    if (e.refs > 0) {
      this.view.putExtent(e);
      return;
    }
    this.view.deleteExtent(id);
    this.state.extentCount -= 1;
    if (this.view.getDedup(e.fingerprint) === id) this.view.setDedup(e.fingerprint, null);
    this.subLive(e.segment, fragmentBytes(e.storedBytes));
  }

  /** Removes bytes from a segment's live count; frees it when a sealed one empties. */
  subLive(segment: number, bytes: number): void {
    this.segs.subLive(segment, bytes);
    if (this.segs.liveBytes[segment] === 0 && this.segs.state[segment] === SEG_SEALED) {
      this.segs.release(segment);
      this.freedUncommitted.push(segment);
    }
  }

  needsCommit(): boolean {
    return this.view.pendingRecords >= this.opts.commitRecordsMax;
  }

  get hasPendingWork(): boolean {
    return this.unsynced || this.writer.hasUnwritten || this.view.pendingRecords > 0;
  }

  /**
   * Group commit: segment data, fdatasync, then one metadata batch (rule 2). The
   * overlay is frozen synchronously; a durable commit resolves when its batch is
   * synced, a non-durable one runs in the background (commits stay in order: each
   * waits for the previous) so writes continue meanwhile. While stalled, a commit
   * fails at once with the stall error unless a retry is due or `force` is set.
   */
  async commit(sync: boolean, force = false): Promise<void> {
    await this.settleCommit();
    if (!sync && this.view.pendingRecords === 0 && this.segs.dirty.size === 0 && !this.writer.hasUnwritten) return;
    if (sync && !this.unsynced && !this.writer.hasUnwritten && this.view.pendingRecords === 0) return;
    if (this.stalled !== undefined && !force && Date.now() < this.retryAtMs) throw this.stalled;
    if (this.metaNeedsReopen) await this.reopenMeta();
    // Batches applied without sync stay in RAM until a durable commit (meta-view.ts): bound them.
    if (!sync && this.view.unsyncedRecords >= UNSYNCED_BATCHES_MAX * this.opts.commitRecordsMax) sync = true;
    const ops: MetaOp[] = this.view.freeze();
    const dirty = [...this.segs.dirty];
    for (const s of dirty) ops.push({ type: 'put', key: gKey(s), value: encodeSegment(this.segs.record(s)) });
    this.segs.dirty.clear();
    this.state.commitSeq += 1;
    const seq = this.state.commitSeq;
    ops.push({ type: 'put', key: KEY_S, value: encodeState(this.state) });
    const freed = this.freedUncommitted;
    this.freedUncommitted = [];
    if (sync) this.unsynced = false;
    const run = this.runCommit(ops, freed, dirty, sync, seq).catch((err: unknown) => {
      // Nothing of this batch is known durable: make it pending again for the retry.
      this.view.thaw();
      for (const seg of dirty) this.segs.dirty.add(seg);
      for (const seg of this.segsSinceDurable) this.segs.dirty.add(seg);
      this.segsSinceDurable.clear();
      this.freedUncommitted = freed.concat(this.freedUncommitted);
      this.unsynced = true;
      throw err instanceof StageError ? this.stall(err.stage, err.original) : this.stall('pool-write', err);
    });
    if (sync) {
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

  private async runCommit(ops: MetaOp[], freed: number[], dirty: number[], sync: boolean, seq: number): Promise<void> {
    if (this.broken !== undefined) throw this.broken;
    await staged('pool-write', () => this.writer.writeOut());
    if (this.writer.takeWritten() > 0) await staged('pool-sync', () => this.pool.fdatasync());
    try {
      await this.meta.batch(ops, sync);
    } catch (err) {
      // LevelDB may refuse every later write, and its log may end torn: reopen first.
      this.metaNeedsReopen = this.meta.reopen !== undefined;
      throw new StageError('meta-write', err);
    }
    this.view.dropFrozen(sync);
    if (sync) this.segsSinceDurable.clear();
    else for (const seg of dirty) this.segsSinceDurable.add(seg);
    this.counters.commits += 1;
    this.freedUnsynced.push(...freed);
    if (sync) {
      this.keeper.noteDurable(seq);
      this.counters.durableCommits += 1;
      const reusable = this.freedUnsynced;
      this.freedUnsynced = [];
      if (reusable.length > 0) this.reclaim(reusable);
    }
    if (this.stalled !== undefined) {
      const wasNoSpace = this.stalled.code === 'UC_NO_SPACE';
      this.stalled = undefined;
      if (wasNoSpace) this.emit({ kind: 'no-space-cleared' });
    }
  }

  /** Records a failed commit; returns the error mutations get from now on. */
  private stall(stage: CommitStage, err: unknown): UcError {
    if (this.broken !== undefined && err === this.broken) return this.broken;
    const e = stallError(stage, err);
    if (stage === 'pool-sync') {
      this.broken = new UcError('UC_IO', `fdatasync of the pool failed; restart to recover: ${e.message}`, { cause: err });
      this.stalled = this.broken;
      return this.broken;
    }
    if (isNoSpace(err) && this.stalled?.code !== 'UC_NO_SPACE') this.emit({ kind: 'no-space', message: e.message });
    this.stalled = e;
    this.retryAtMs = Date.now() + this.opts.stallRetryMs;
    this.onStall?.();
    return e;
  }

  /** Reopens the metadata store after a failed batch (before any new batch). */
  private async reopenMeta(): Promise<void> {
    const reopen = this.meta.reopen?.();
    if (reopen === undefined) {
      this.metaNeedsReopen = false;
      return;
    }
    this.metaReopening = reopen.then(() => undefined, () => undefined);
    try {
      await reopen;
      this.metaNeedsReopen = false;
    } catch (err) {
      throw this.stall('meta-reopen', err);
    } finally {
      this.metaReopening = undefined;
    }
  }

  /** Waits for a background commit (its failure, if any, is in this.stalled). */
  async settleCommit(): Promise<void> {
    await this.inflight;
  }

  /** Before a mutation: fails fast while stalled, retrying the commit when one is due. */
  async checkWritable(): Promise<void> {
    if (this.broken !== undefined) throw this.broken;
    if (this.stalled === undefined) return;
    await this.commit(true);
  }

  /** Punches freed segments once no read can still use them, then makes them allocatable. */
  private reclaim(segments: number[]): void {
    const task = (async () => {
      await this.guard.drain();
      for (const s of segments) {
        // Best effort (PoolStore contract): a failed punch only keeps the space allocated.
        await this.pool.punchHole(this.segmentPosition(s), this.sb.segmentBytes).catch(() => undefined);
        this.segs.makeReusable(s);
      }
    })();
    const tracked: Promise<void> = task.finally(() => this.reclaims.delete(tracked));
    this.reclaims.add(tracked);
  }

  async settleReclaims(): Promise<void> {
    while (this.reclaims.size > 0) await Promise.all([...this.reclaims]);
  }

  /** Makes sure `blocks` new fragments fit, committing and compacting if needed. */
  async ensureSpace(blocks: number): Promise<void> {
    const need = Math.ceil((blocks * FRAGMENT_BYTES_MAX) / this.sb.segmentBytes) + 1 + RESERVED_SEGMENTS;
    if (this.segs.freeCount >= need) return;
    await this.commit(true);
    await this.settleReclaims();
    for (let round = 0; this.segs.freeCount < need && round < this.segs.count; round++) {
      const cleaned = await compactStep(this, { liveFraction: 0.95, maxSegments: 1 });
      await this.settleReclaims();
      if (cleaned === 0) break;
    }
    if (this.segs.freeCount < need) {
      throw new UcError('UC_NO_SPACE', `pool is full (${this.segs.freeCount} free segments, ${need} needed)`);
    }
  }

  /** Fills the mapped-block bitmap from the store in the background (see MappedBits). */
  startMappedScan(fresh: boolean): void {
    if (fresh) {
      this.mapped.complete = true;
      return;
    }
    this.loading = (async () => {
      let from = lKey(0);
      for (;;) {
        const entries = await this.meta.scan(from, prefixEnd(PREFIX_L), SCAN_CHUNK_ENTRIES);
        for (const [k] of entries) this.mapped.seen(lbaOfKey(k));
        if (entries.length < SCAN_CHUNK_ENTRIES) break;
        from = keySuccessor(entries[entries.length - 1][0]);
      }
      this.mapped.complete = true;
    })().catch(() => undefined); // on failure the bitmap stays incomplete: lookups still work
  }

  /**
   * A point lookup found no map entry while the mapped-block scan still runs, so
   * MappedBits cannot vouch for the miss: confirm it with an iterator seek, which
   * does not use table filters. A damaged filter must never read as zeros.
   */
  async confirmUnmapped(lba: number): Promise<undefined> {
    if (this.mapped.complete || this.mapped.wasTouched(lba)) return undefined;
    const hit = await this.meta.scan(lKey(lba), lKey(lba + 1), 1);
    if (hit.length > 0 && !this.mapped.wasTouched(lba)) {
      throw new UcError('UC_META_CORRUPT', `lba ${lba}: a seek finds its map entry but a point lookup misses it (damaged table)`);
    }
    return undefined;
  }

  async settleBackground(): Promise<void> {
    await this.inflight;
    await this.loading;
    await this.settleReclaims();
  }

  /** Default compaction threshold from the options. */
  get compactLiveFraction(): number {
    return this.opts.compactLiveFraction;
  }
}
