// EngineCore: the engine's state and the few mutators every operation shares:
// setMap (with reference counting), addExtent, addReference, moveExtent, the
// group commit (group-commit.ts) and the geometry change of a resize. Its state
// is private; operations read it through lookups. Fields marked [mutex] change
// only under the engine's mutex (BlockEngine.exclusive): a mutator's caller
// holds it. Lookups and counters need no mutex (JavaScript runs them whole).
import assert from 'node:assert';
import { codecByName, stagingBytes, type Codec } from '../compress/index.js';
import { xxh128 } from '../dedup/index.js';
import { KEY_C, KEY_S } from '../meta/keys.js';
import { encodeState, extentRecord, type Extent, type MapValue, type MetaState } from '../meta/records.js';
import type { MetaOp, MetaStore } from '../meta/store.js';
import { fragmentBytes } from '../pool/fragment.js';
import type { Superblock } from '../pool/format.js';
import { SEG_OPEN, SEG_SEALED, type SegmentQuery, type SegmentTable } from '../pool/segments.js';
import type { PoolStore } from '../pool/store.js';
import { SuperblockKeeper } from '../pool/superblock-keeper.js';
import { UcError } from '../util/errors.js';
import { CACHE_FILTER_SHARE } from '../util/limits.js';
import { BLOCK_BYTES } from '../util/units.js';
import { addCounters, encodeCounters, zeroCounters, type CounterName, type Counters } from './counters.js';
import { GroupCommit } from './group-commit.js';
import { MappedBits } from './mapped-bits.js';
import { confirmUnmapped } from './mapped-scan.js';
import { DedupFilter } from './dedup-filter.js';
import { MetaCache } from './meta-cache.js';
import { MetaView } from './meta-view.js';
import { NativeApply, segmentAttacher, type WriteApplyHandle } from './native-apply.js';
import { NativeWrites, type FastWriteHandle, type FastWriteParts } from './native-writes.js';
import { OpenScans } from './open-scans.js';
import type { NativeReadGeometry, NativeReadTables } from './native-reads.js';
import { resolveOptions, type ResolvedOptions } from './options.js';
import { ReadCache } from './read-cache.js';
import { ReadGuard } from './read-guard.js';
import { SegmentWriter, type FragmentEncoder } from './segment-writer.js';
import { StagingPool } from './staging-pool.js';
import type { EngineEvent, EngineOptions, MetaCacheStats } from './types.js';
import type { WriteJournal } from './write-journal.js';

export class EngineCore {
  readonly guard = new ReadGuard();
  /** Recently read pool bytes (sealed, written segments only; see read-cache.ts). */
  readonly readCache: ReadCache;
  readonly codec: Codec;
  readonly opts: ResolvedOptions;
  /** Where events go: options.onEvent, replaceable by the host after open. */
  eventHandler: ((event: EngineEvent) => void) | undefined;
  /** [mutex] The superblock (geometry, durable commit sequence) and its writer. */
  private readonly keeper: SuperblockKeeper;
  /** [mutex] Pending metadata over the store (lookups read it without the mutex). */
  private readonly view: MetaView;
  /** [mutex] Segment buffers and placement of new fragments. */
  private readonly writer: SegmentWriter;
  /** Clean L/E/H records under the view's overlays (the view keeps it right). */
  private readonly cache: MetaCache;
  /** Fingerprints the dedup index may hold (the view adds new ones; the open scan the rest). */
  private readonly filter: DedupFilter;
  /** [mutex] Which LBAs may be mapped (setMap, resize; the open scan fills it). */
  private readonly mapped: MappedBits;
  /** [mutex] The group commit and what follows it. */
  private readonly commits: GroupCommit;
  /** Counters since open (bumped synchronously by any path). */
  private readonly session = zeroCounters();
  /** Cumulative counters at open (the C record, a legacy source, or zeros). */
  private readonly base: Counters;
  /** Counters changed since the last C record was frozen into a batch. */
  private countersDirty = false;
  /** The scans and cache warm-up after open (settled at close). */
  private readonly scans: OpenScans;
  /** [mutex] Compressed payloads of the write batch being applied (see encodeStaging). */
  private staging: Buffer | undefined;
  /** Staging buffers of write batches prepared outside the mutex. */
  readonly stagingPool = new StagingPool();
  /** [mutex] The apply step of new unique blocks in the addon (undefined: JavaScript only). */
  nativeApply: NativeApply | undefined;
  /** One-block writes applied in the addon outside the mutex (native-writes.ts). */
  nativeWrites: NativeWrites | undefined;

  constructor(
    readonly pool: PoolStore,
    readonly meta: MetaStore,
    sb: Superblock,
    /** [mutex] The S record's fields. */
    private readonly state: MetaState,
    /** [mutex] Segment states, live and fill bytes. */
    private readonly segs: SegmentTable,
    options: EngineOptions,
    sbSlot = 0,
    /** Cumulative counters to start from (zeros when undefined). */
    totals?: Counters,
    /** The pool holds a C record; without one it is written at the next commit or at close. */
    countersRecorded = true,
    /** Where mutations are recorded before they complete (undefined: nowhere). */
    readonly journal?: WriteJournal,
  ) {
    this.keeper = new SuperblockKeeper(pool, sb, sbSlot, (err) => this.commits.poolSyncFailed(err));
    this.opts = resolveOptions(options);
    this.eventHandler = this.opts.onEvent;
    this.codec = codecByName(options.compression ?? 'lz4');
    this.mapped = new MappedBits(state.logicalBytes / BLOCK_BYTES);
    const budget = this.opts.cacheMib * 1024 * 1024;
    this.cache = new MetaCache(budget * (1 - CACHE_FILTER_SHARE));
    this.filter = new DedupFilter(budget * CACHE_FILTER_SHARE, state.extentCount);
    this.view = new MetaView(meta, this.mapped, this.cache, this.filter);
    this.scans = new OpenScans(meta, this.mapped, this.filter, this.view, (event) => this.emit(event));
    this.writer = new SegmentWriter(pool, segs, sb.dataOffset);
    this.readCache = new ReadCache(this.opts.readCacheBytes, sb.segmentBytes);
    this.base = { ...(totals ?? zeroCounters()) };
    this.countersDirty = !countersRecorded;
    this.commits = new GroupCommit({
      pool, meta, view: this.view, segs, writer: this.writer, keeper: this.keeper, guard: this.guard,
      readCache: this.readCache,
      journal,
      stallRetryMs: this.opts.stallRetryMs,
      commitRecordsMax: this.opts.commitRecordsMax,
      sealState: () => this.sealState(),
      unsealState: () => {
        this.countersDirty = true;
      },
      committed: (sync) => {
        // Not marked dirty: counting a commit must not itself call for another write at close.
        this.session.commits += 1;
        if (sync) this.session.durableCommits += 1;
      },
      emit: (e) => this.emit(e),
      segmentPosition: (s) => this.segmentPosition(s),
    });
  }

  // ---- lookups (no mutex) ----

  get sb(): Readonly<Superblock> {
    return this.keeper.sb;
  }

  get logicalBytes(): number {
    return this.state.logicalBytes;
  }

  get logicalBlocks(): number {
    return this.state.logicalBytes / BLOCK_BYTES;
  }

  get mappedBlocks(): number {
    return this.state.mappedBlocks;
  }

  get extentCount(): number {
    return this.state.extentCount;
  }

  get segments(): SegmentQuery {
    return this.segs;
  }

  /** Counters since open. */
  get counters(): Readonly<Counters> {
    return this.session;
  }

  /** Counters since the pool was formatted (what the C record holds after the next commit). */
  totals(): Counters {
    return addCounters(this.base, this.session);
  }

  count(name: CounterName, n = 1): void {
    this.session[name] += n;
    this.countersDirty = true;
  }

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

  /** Shares the clean-record tables, the segments in RAM and the read guard with a native reader
   * (native-reads.ts); undefined with an injected fingerprint function. poolFd -1: a pool without one. */
  shareNativeReads(tables: NativeReadTables): NativeReadGeometry | undefined {
    if (this.opts.fingerprint !== xxh128) return undefined;
    const fd = (this.pool as { fd?: unknown }).fd;
    this.guard.attachNative(tables);
    this.writer.shareResident((segment, buf) => tables.setResident(segment, buf));
    this.mapped.share((bits, blocks, complete) => tables.attachMapped(bits, blocks, complete));
    this.cache.share(tables);
    const poolFd = typeof fd === 'number' && fd >= 0 ? fd : -1;
    return { poolFd, dataOffset: this.sb.dataOffset, segmentBytes: this.sb.segmentBytes };
  }

  /** Lets the addon apply new unique blocks (native-apply.ts), and with `writes` one-block
   * writes outside the mutex (native-writes.ts); false when it could not be used here
   * (an injected fingerprint function). */
  shareNativeApply(handle: WriteApplyHandle & FastWriteHandle, writes: { hasSpace(blocks: number): boolean } | undefined): boolean {
    if (this.opts.fingerprint !== xxh128) return false;
    const parts: FastWriteParts = {
      view: this.view, cache: this.cache, mapped: this.mapped, filter: this.filter, segs: this.segs, writer: this.writer,
      state: this.state, index: this.opts.dedup !== 'off', codecId: this.codec.id, noteChange: () => this.commits.noteChange(),
      count: (name, n) => this.count(name, n), emptied: (segment) => this.subLive(segment, 0), journal: this.journal,
      hasSpace: (blocks) => writes?.hasSpace(blocks) ?? false, writable: () => this.writableNow() && this.metaReopening === undefined,
      attachSegments: segmentAttacher(handle, this.segs), verify: this.opts.dedup === 'verify',
    };
    this.nativeApply = new NativeApply(handle, parts);
    if (writes === undefined) return true;
    const fast = new NativeWrites(handle, parts);
    this.nativeWrites = fast;
    this.commits.onFailure = () => fast.close();
    return true;
  }

  cacheStats(): MetaCacheStats {
    const f = this.filter;
    return { ...this.cache.stats(), filterBytes: f.bytes, filterNew: f.certainlyNew, filterReady: f.complete, warmedRecords: this.scans.warmedRecords };
  }

  /** Map value of an LBA; undefined = reads zeros. */
  getMap(lba: number): MapValue | undefined {
    return this.view.getMap(lba);
  }

  /** The open scan of the map finished: a getMap miss is certain. */
  get mapScanComplete(): boolean {
    return this.mapped.complete;
  }

  /** Confirms a getMap miss while the open scan still runs (see mapped-scan.ts). */
  confirmUnmapped(lba: number): Promise<undefined> {
    return confirmUnmapped(this.meta, this.mapped, lba);
  }

  /** The extent record (a copy: changing it changes nothing). */
  getExtent(id: number): Extent | undefined {
    return this.view.getExtent(id);
  }

  getDedup(fingerprint: Buffer): number | undefined {
    return this.view.getDedup(fingerprint);
  }

  /** Changes whenever metadata entries leave the overlays (see MetaView.epoch). */
  get metaEpoch(): number {
    return this.view.epoch;
  }

  /** The overlay's dedup entry: an id, null (deleted), or undefined (not pending). */
  pendingDedup(fingerprint: Buffer): number | null | undefined {
    return this.view.pendingDedup(fingerprint);
  }

  /** A segment's bytes while they are still in RAM (open, or not yet written). */
  unwritten(segment: number): Buffer | undefined {
    return this.writer.lookup(segment);
  }

  /** LBAs with a pending (uncommitted) map value in [from, to). */
  pendingMappedIn(from: number, to: number): number[] {
    return this.view.pendingMappedIn(from, to);
  }

  get stalled(): UcError | undefined {
    return this.commits.stalled;
  }

  /** Pending while the metadata store reopens after a failed batch; reads wait for it. */
  get metaReopening(): Promise<void> | undefined {
    return this.commits.metaReopening;
  }

  set onStall(fn: (() => void) | undefined) {
    this.commits.onStall = fn;
  }

  needsCommit(): boolean {
    return this.view.pendingRecords >= this.opts.commitRecordsMax;
  }

  get hasPendingWork(): boolean {
    return this.commits.hasPendingWork;
  }

  // ---- mutators ([mutex]) ----

  /** [mutex] The staging buffer for a write batch of `blocks`, kept from batch to
   * batch: a fresh one per batch cost its allocation and a page fault per 4 KiB
   * touched. Valid until the next call (one write batch runs at a time). */
  encodeStaging(blocks: number): Buffer {
    const bytes = stagingBytes(blocks);
    if (this.staging === undefined || this.staging.length < bytes) this.staging = Buffer.allocUnsafe(bytes);
    return this.staging;
  }

  /** Replaces an LBA's map value, keeping the mapped-block count and references right.
   * The new value's extent must already hold its reference for this LBA. A caller that
   * adds that reference first passes `old`, the getMap(lba) it took before: a lookup
   * that finds damage (it throws) must fail before anything changed. */
  setMap(lba: number, value: MapValue | null, old = this.view.getMap(lba)): void {
    this.view.setMap(lba, value);
    this.commits.noteChange();
    if (old === undefined && value !== null) this.state.mappedBlocks += 1;
    if (old !== undefined && value === null) this.state.mappedBlocks -= 1;
    if (old?.kind === 'extent') this.dropReference(old.id);
  }

  /** Stores block i of `enc`'s batch as a new extent (one reference), its payload
   * encoded straight into the open segment. With `index` the dedup index points at it. */
  addExtent(enc: FragmentEncoder, i: number, fingerprint: Buffer, index = false): Extent {
    const id = this.state.nextExtentId;
    const at = this.writer.appendEncoded(enc, i, id);
    this.state.nextExtentId += 1;
    const e = extentRecord(id, at.segment, at.offset, at.storedBytes, at.codecId, 1, fingerprint);
    this.segs.addLive(at.segment, at.bytes);
    this.view.putExtent(e);
    this.state.extentCount += 1;
    if (index) this.view.setDedup(fingerprint, id);
    this.commits.noteChange();
    return e;
  }

  /** One more LBA shares extent e; returns the map value pointing at it. */
  addReference(e: Extent): MapValue {
    e.refs += 1;
    this.view.putExtent(e);
    return { kind: 'extent', id: e.id };
  }

  /** Copies a live extent's fragment into the open segment (compaction); the old
   * copy's bytes leave its segment's live count. Returns the bytes moved. */
  moveExtent(e: Extent, payload: Buffer): number {
    const from = e.segment;
    const bytes = fragmentBytes(e.storedBytes);
    this.place(e, payload);
    this.count('bytesMoved', bytes);
    this.subLive(from, bytes);
    return bytes;
  }

  /** Appends e's fragment to the open segment and records where it went. */
  private place(e: Extent, payload: Buffer): void {
    const at = this.writer.append(e.codecId, payload, e.id);
    this.segs.addLive(at.segment, at.bytes);
    e.segment = at.segment;
    e.offset = at.offset;
    this.view.putExtent(e);
  }

  private dropReference(id: number): void {
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
  private subLive(segment: number, bytes: number): void {
    this.segs.subLive(segment, bytes);
    if (this.segs.liveBytes[segment] === 0 && this.segs.state[segment] === SEG_SEALED) {
      this.segs.release(segment);
      this.readCache.forget(segment);
      this.commits.noteFreed(segment);
    }
  }

  /** At open: a segment left open by the previous run may end in bytes nobody
   * references, so it is never appended to again: sealed (freed if empty). */
  sealLeftOpen(): void {
    for (let s = 0; s < this.segs.count; s++) {
      if (this.segs.state[s] !== SEG_OPEN) continue;
      this.segs.seal(s);
      if (this.segs.liveBytes[s] === 0) this.subLive(s, 0);
    }
  }

  /** Applies a new geometry: superblock first, then S (the superblock wins after a crash between). */
  async applyGeometry(logicalBytes: number, segmentCount: number): Promise<void> {
    await this.commit(true);
    await this.keeper.rewrite({ logicalBytes, segmentCount });
    this.segs.grow(segmentCount);
    this.mapped.resize(logicalBytes / BLOCK_BYTES);
    this.state.logicalBytes = logicalBytes;
    this.state.segmentCount = segmentCount;
    await this.meta.batch([{ type: 'put', key: KEY_S, value: encodeState(this.state) }], true);
  }

  commit(sync: boolean, force = false, wait = true): Promise<void> {
    return this.commits.commit(sync, force, wait);
  }

  /** Advances the commit sequence and returns the S and C records for its batch. */
  private sealState(): { seq: number; ops: MetaOp[] } {
    this.state.commitSeq += 1;
    this.countersDirty = false;
    return {
      seq: this.state.commitSeq,
      ops: [
        { type: 'put', key: KEY_S, value: encodeState(this.state) },
        { type: 'put', key: KEY_C, value: encodeCounters(this.totals()) },
      ],
    };
  }

  /** At a clean close, after the last commit: writes counters that changed since (reads). */
  async persistCounters(): Promise<void> {
    if (!this.countersDirty) return;
    this.countersDirty = false;
    await this.commits.writeAlone([{ type: 'put', key: KEY_C, value: encodeCounters(this.totals()) }]);
  }

  /** [no mutex held] GroupCommit.commitAfterInFlight. */
  commitAfterInFlight(sync: boolean, run: (fn: () => Promise<boolean>) => Promise<boolean>, wait = true): Promise<void> {
    return this.commits.commitAfterInFlight(sync, run, wait);
  }

  settleCommit(): Promise<void> {
    return this.commits.settleCommit();
  }

  checkWritable(): Promise<void> {
    return this.commits.checkWritable();
  }

  /** True when checkWritable() has nothing to do (no stall, no broken store). */
  writableNow(): boolean {
    return this.commits.writableNow();
  }

  settleReclaims(): Promise<void> {
    return this.commits.settleReclaims();
  }

  /** Starts the background scans after open (open-scans.ts). */
  startScans(fresh: boolean): void {
    this.scans.start(fresh);
  }

  whenLoaded(): Promise<void> {
    return this.scans.loaded();
  }

  stopScans(): void {
    this.scans.stop();
  }

  async settleBackground(): Promise<void> {
    await this.commits.settle();
    await this.scans.loaded();
  }

  /** Writes the durable commit sequence a last time (clean close). */
  closeKeeper(): Promise<void> {
    return this.keeper.close();
  }
}
