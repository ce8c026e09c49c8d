// BlockEngine: the packed, compressing, deduplicating block store. Implements
// the BlockTarget contract (src/device/target.ts) structurally; it never
// imports src/device or native/. See index.ts for the API summary.
//
// Mutating operations (write, discard, writeZeroes, flush, compaction, resize)
// run one at a time through a promise-chain mutex; each is batch-oriented and
// awaits I/O a bounded number of times. Reads run concurrently with them.
import assert from 'node:assert';
import type { MetaStore } from '../meta/store.js';
import { uuidText } from '../pool/format.js';
import type { PoolStore } from '../pool/store.js';
import { UcError } from '../util/errors.js';
import { BLOCK_BYTES } from '../util/units.js';
import { Background } from './background.js';
import { Compactor } from './compactor.js';
import { EngineMutex, type SectionKind } from './engine-mutex.js';
import type { EngineCore } from './core.js';
import { unmapRange } from './discard.js';
import { journalFits, journalRoom, recordMutation } from './mutation-journal.js';
import { changeGeometry } from './geometry.js';
import { compactionStats, engineStats } from './engine-stats.js';
import type { WriteApplyHandle } from './native-apply.js';
import type { FastWriteHandle } from './native-writes.js';
import type { NativeReadGeometry, NativeReadTables } from './native-reads.js';
import { readBlocks } from './read-path.js';
import { ensureSpace, hasSpace } from './space.js';
import type { CompactionStats, EngineEvent, EngineStats } from './types.js';
import { PREPARED_BLOCKS_MAX } from './staging-pool.js';
import { settleWrites, SmallWrites, splitByWaits, type SmallWrite } from './small-writes.js';
import type { NativeWrites } from './native-writes.js';
import { JOURNAL_HEADER_BYTES, type JournalOp } from './write-journal.js';
import {
  applyBlocks, applyWrite, classifyWrite, prepareWrite, scannedHash, verifyReads, writeBlocks, type PreparedWrite,
} from './write-path.js';

/** Times a one-block write waits for the gate to reopen before JavaScript serves it. */
const GATE_WAITS_MAX = 8;
/** Blocks handled per internal step of one large write (bounds per-step memory). */
const WRITE_CHUNK_BLOCKS = 1024;

export class BlockEngine {
  private readonly mutex = new EngineMutex(
    () => this.core.nativeWrites?.close(),
    () => {
      if (!this.closed) this.core.nativeWrites?.open();
      else this.core.nativeWrites?.wakeWaiters();
    },
  );
  /** Writes being prepared (classified, candidates read) before they queue for the mutex. */
  private readonly preparing = new Set<Promise<unknown>>();
  private closed = false;
  private readonly compactor: Compactor;
  private readonly background: Background;
  /** One-block writes of one event-loop turn, applied together (small-writes.ts). */
  private readonly small = new SmallWrites((batch, data) => this.writeBatch(batch, data), PREPARED_BLOCKS_MAX);
  private replayedOps = { records: 0, blocks: 0 };

  /** Use openEngine/formatEngine (or openPool/formatPool for files). */
  constructor(
    private readonly core: EngineCore,
    private readonly ownsStores: boolean,
  ) {
    this.compactor = new Compactor(core);
    this.background = new Background(core, this.compactor, (kind, fn) => this.exclusive(kind, fn));
  }

  get uuid(): string {
    return uuidText(this.core.sb.uuid);
  }

  get logicalBytes(): number {
    return this.core.logicalBytes;
  }

  get logicalBlocks(): number {
    return this.core.logicalBlocks;
  }

  get pool(): PoolStore {
    return this.core.pool;
  }

  get meta(): MetaStore {
    return this.core.meta;
  }

  /** Sends engine events (read verification failures, ENOSPC) to `handler`. */
  setEventHandler(handler: ((event: EngineEvent) => void) | undefined): void {
    this.core.eventHandler = handler;
  }

  /** Resolves when the scans after open and the cache warm-up (cache-warm.ts) have ended; never fails. */
  whenLoaded(): Promise<void> {
    return this.core.whenLoaded();
  }

  /** Lets a native read path serve reads from the pool file (native-reads.ts); undefined: it cannot here. */
  shareNativeReads(tables: NativeReadTables): NativeReadGeometry | undefined {
    return this.core.shareNativeReads(tables);
  }

  /** Lets the addon apply new unique blocks (native-apply.ts), and with `writes` one-block
   * writes outside the mutex too (native-writes.ts); false: it cannot here. */
  shareNativeApply(handle: WriteApplyHandle & FastWriteHandle, writes = true): boolean {
    if (!this.core.shareNativeApply(handle, writes ? { hasSpace: (blocks) => hasSpace(this.core, blocks) } : undefined)) return false;
    if (this.mutex.idle) this.core.nativeWrites?.open();
    return true;
  }

  /** The queues offer one-block writes to the addon (native-writes.ts): write() does not again. */
  nativeWritesByQueues(): void {
    if (this.core.nativeWrites !== undefined) this.core.nativeWrites.servedByQueues = true;
  }

  /** After a queue wake-up in which the addon applied one-block writes: their
   * changes are taken, and a commit is started when one is due. */
  nativeWritesDone(): void {
    if ((this.core.nativeWrites?.take() ?? 0) === 0) return;
    this.afterMutation();
  }

  /** After a write: the delayed commit is armed, and a due commit queued on the mutex
   * at once (waiting there for the one in flight is the writers' backpressure: it bounds
   * the overlay and the unwritten segments in RAM). */
  private afterMutation(): void {
    this.background.afterMutation();
    if (this.core.needsCommit()) this.exclusive('commit', () => this.core.commit(false)).catch(() => undefined);
  }

  /** Blocks a native read path served since its last report: counted as read (totals persist with the next commit). */
  countNativeReads(blocks: number): void {
    assert(Number.isSafeInteger(blocks) && blocks >= 0);
    if (blocks > 0) this.core.count('blocksRead', blocks);
  }

  async read(lba: number, blocks: number, buf: Buffer): Promise<void> {
    this.checkRange(lba, blocks, buf);
    await readBlocks(this.core, lba, blocks, buf);
  }

  async write(lba: number, blocks: number, buf: Buffer, fua: boolean): Promise<void> {
    this.checkRange(lba, blocks, buf);
    if (blocks === 1 && !fua) {
      const native = this.core.nativeWrites;
      if (native !== undefined && !native.isOpen && !this.mutex.idle) {
        // close() waits for it as for a write being prepared.
        const waited = this.writeWhenOpen(native, lba, buf);
        this.preparing.add(waited);
        const done = (): void => void this.preparing.delete(waited);
        waited.then(done, done);
        return waited;
      }
      return this.writeNative(lba, buf) ?? this.small.add(lba, buf);
    }
    const c = this.core;
    // A write of up to PREPARED_BLOCKS_MAX is classified and its dedup candidates
    // read before it queues for the mutex (write-path.ts): a writer waiting for
    // those reads no longer holds up the ones behind it.
    let staging: Buffer | undefined;
    let prepared: PreparedWrite | undefined;
    if (blocks <= PREPARED_BLOCKS_MAX) {
      staging = c.stagingPool.take(blocks);
      const preparing = this.prepare(buf, blocks, staging);
      this.preparing.add(preparing);
      try {
        prepared = await preparing;
      } catch (err) {
        c.stagingPool.give(staging);
        throw err;
      } finally {
        this.preparing.delete(preparing);
      }
    }
    let recorded: Array<Promise<void>>;
    try {
      recorded = await this.exclusive('write', async () => {
        // The checks below await only when they have work to do: a write is
        // mostly these steps, and each await is a promise and a microtask turn.
        if (!c.writableNow()) await c.checkWritable();
        const appends: Array<Promise<void>> = [];
        for (let done = 0; done < blocks; done += WRITE_CHUNK_BLOCKS) {
          const n = Math.min(WRITE_CHUNK_BLOCKS, blocks - done);
          if (!hasSpace(c, n)) await ensureSpace(c, this.compactor, n);
          const part = buf.subarray(done * BLOCK_BYTES, (done + n) * BLOCK_BYTES);
          if (!journalFits(c, part.length)) await journalRoom(c, part.length);
          if (prepared !== undefined) applyWrite(c, lba, n, part, prepared);
          else await writeBlocks(c, lba + done, n, part);
          // Applied: record it before any freeze can run (we hold the mutex).
          const hash = prepared !== undefined && n === 1 ? scannedHash(prepared, 0) : undefined;
          appends.push(recordMutation(c, 'write', lba + done, n, part, hash));
          if (c.needsCommit()) await c.commit(false);
        }
        if (fua) await c.commit(true);
        return appends;
      });
    } finally {
      if (staging !== undefined) c.stagingPool.give(staging);
    }
    this.afterMutation();
    await this.recorded(recorded);
  }

  /**
   * A one-block write shut out by sections held or queued: served in the addon once
   * they end and the gate reopens, rather than in a mutex turn of its own (which
   * would shut out the writes behind it). It waits again while more sections keep
   * the gate shut, at most GATE_WAITS_MAX times (no write waits on a mutex that
   * never goes idle), then JavaScript's path serves it.
   */
  private async writeWhenOpen(native: NativeWrites, lba: number, buf: Buffer): Promise<void> {
    for (let waits = 0; waits < GATE_WAITS_MAX; waits++) {
      await Promise.race([native.reopened(), this.mutex.drained()]);
      if (native.writeWaited(lba, buf)) return this.afterMutation();
      if (native.isOpen || this.mutex.idle || this.closed) break; // declined for another reason, or it stays shut
    }
    return this.small.add(lba, buf);
  }

  /** A one-block write applied in the addon, when it can, then journaled; undefined: it could not. */
  private writeNative(lba: number, buf: Buffer): Promise<void> | undefined {
    const record = this.core.nativeWrites?.writeOne(lba, buf, (hash) => recordMutation(this.core, 'write', lba, 1, buf, hash));
    if (record === undefined) return undefined;
    this.afterMutation();
    return this.recorded([record]);
  }

  /** Coalesced one-block writes (small-writes.ts): one classification, then one
   * mutex turn for the writes that need no verify read, and one after the reads
   * for the rest. Its phases register in `preparing` before each await (close()). */
  private async writeBatch(batch: readonly SmallWrite[], data: Buffer): Promise<void> {
    const c = this.core;
    const n = batch.length;
    const lbas = batch.map((w) => w.lba);
    const staging = c.stagingPool.take(n);
    try {
      // As write(): awaited directly, so this batch's mutex turn is queued before
      // the turn of a close() that waits for `preparing`.
      const classifying = this.classify(data, n, staging);
      this.preparing.add(classifying);
      let classified: Awaited<typeof classifying>;
      try {
        classified = await classifying;
      } finally {
        this.preparing.delete(classifying);
      }
      const { prepared, reads } = classified;
      const { now, later } = splitByWaits(prepared.waits, lbas);
      const first = settleWrites(batch, now, this.applyBatch(lbas, now, data, prepared));
      if (later.length > 0) {
        // Counted among the preparations until the later group's mutex turn is queued.
        const queued = reads.then(() => ({ applied: this.applyBatch(lbas, later, data, prepared) }));
        this.preparing.add(queued);
        let applied: Promise<void>;
        try {
          applied = (await queued).applied;
        } catch (err) {
          applied = Promise.reject(err);
        } finally {
          this.preparing.delete(queued);
        }
        await settleWrites(batch, later, applied);
      }
      await first;
    } finally {
      c.stagingPool.give(staging);
    }
  }

  /** Phase 1, and phase 2 started at once: the verify reads begin under the read guard. */
  private async classify(data: Buffer, n: number, staging: Buffer): Promise<{ prepared: PreparedWrite; reads: Promise<void> }> {
    const c = this.core;
    if (c.metaReopening !== undefined) await c.metaReopening; // the lookups need the store open
    const prepared = classifyWrite(c, data, n, staging);
    const reads = verifyReads(c, prepared);
    reads.catch(() => undefined); // awaited by the writes that wait for them, which fail with it
    return { prepared, reads };
  }

  /** Blocks `indices` of a coalesced batch, in one mutex turn, a journal record each. */
  private async applyBatch(lbas: readonly number[], indices: readonly number[], data: Buffer, prepared: PreparedWrite): Promise<void> {
    const c = this.core;
    const k = indices.length;
    if (k === 0) return;
    const recorded = await this.exclusive('write-batch', async () => {
      if (!c.writableNow()) await c.checkWritable();
      if (!hasSpace(c, k)) await ensureSpace(c, this.compactor, k);
      // k records of one block each, as room for one record of their total.
      const journalBytes = k * BLOCK_BYTES + (k - 1) * JOURNAL_HEADER_BYTES;
      if (!journalFits(c, journalBytes)) await journalRoom(c, journalBytes);
      applyBlocks(c, lbas, indices, data, prepared);
      // Applied: record them before any freeze can run (we hold the mutex).
      // One journal write for all their records; caught as record() does.
      const appends = [c.journal?.appendBlocks(lbas, indices, data, (i) => scannedHash(prepared, i)) ?? Promise.resolve()];
      appends[0].catch(() => undefined);
      if (c.needsCommit()) await c.commit(false);
      return appends;
    });
    this.afterMutation();
    await this.recorded(recorded);
  }

  /** Phases 1-2 of a write outside the mutex; close() waits for these, so a write
   * it was called after still queues ahead of the last commit. */
  private async prepare(buf: Buffer, blocks: number, staging: Buffer): Promise<PreparedWrite> {
    const c = this.core;
    if (c.metaReopening !== undefined) await c.metaReopening; // the lookups need the store open
    return prepareWrite(c, buf, blocks, staging);
  }

  async flush(): Promise<void> {
    this.checkOpen();
    await this.exclusive('flush', () => this.core.commit(true));
    this.background.maybeCompact();
  }

  async discard(lba: number, blocks: number): Promise<void> {
    this.checkRange(lba, blocks);
    await this.unmap(lba, blocks);
  }

  /** Zero blocks store nothing, with or without noUnmap: the range is unmapped. */
  async writeZeroes(lba: number, blocks: number, noUnmap: boolean): Promise<void> {
    void noUnmap;
    this.checkRange(lba, blocks);
    await this.unmap(lba, blocks);
  }

  private async unmap(lba: number, blocks: number): Promise<void> {
    const recorded = await this.exclusive('unmap', async () => {
      if (!this.core.writableNow()) await this.core.checkWritable();
      if (!journalFits(this.core, 0)) await journalRoom(this.core, 0);
      await unmapRange(this.core, lba, blocks);
      // In an array: a promise returned bare would be awaited under the mutex.
      return [recordMutation(this.core, 'unmap', lba, blocks)];
    });
    this.background.afterMutation();
    await this.recorded(recorded);
  }

  /** Waits for a mutation's journal records; when the journal could not take one
   * (a full or failing metadata filesystem), a durable commit stands in for it. */
  private async recorded(appends: Array<Promise<void>>): Promise<void> {
    const results = await Promise.allSettled(appends);
    if (results.some((r) => r.status === 'rejected')) await this.exclusive('commit', () => this.core.commit(true));
  }

  /**
   * At open: applies the journal records the last run completed but never
   * committed, in order, commits them durably and empties the journal. Each
   * record's sequence is marked applied only after it is whole in the state, so
   * a crash during replay replays it again (writes and unmaps are idempotent).
   */
  async replay(ops: readonly JournalOp[]): Promise<void> {
    const j = this.core.journal;
    if (j === undefined) return;
    for (const op of ops) {
      if (op.lba + op.blocks > this.core.logicalBlocks) {
        throw new UcError('UC_POOL_CORRUPT', `write journal record ${op.seq} reaches beyond the device end (lba ${op.lba} + ${op.blocks})`);
      }
      if (op.kind === 'write') await this.write(op.lba, op.blocks, op.data, false);
      else await this.unmap(op.lba, op.blocks);
      j.replayed(op.seq);
      this.replayedOps.records += 1;
      this.replayedOps.blocks += op.blocks;
    }
    await this.exclusive('commit', () => this.core.commit(true));
    await j.finishReplay();
  }

  /** Journal records applied at open (what the last run completed but had not committed). */
  get replayed(): Readonly<{ records: number; blocks: number }> {
    return this.replayedOps;
  }

  /** Runs up to `maxSegments` compaction steps now (durable when it resolves), or with
   * `background` one step the background compactor's way (in pieces, each its own turn
   * of the mutex, its commit going on after this resolves). */
  async compact(options: { liveFraction?: number; maxSegments?: number; background?: boolean } = {}): Promise<CompactionStats> {
    this.checkOpen();
    const liveFraction = options.liveFraction ?? this.core.opts.compactLiveFraction;
    if (options.background === true) {
      await this.compactor.stepInPieces(liveFraction, (fn) => this.exclusive('compact', fn), () => this.closed);
    } else {
      await this.exclusive('compact', async () => {
        await this.compactor.step({ liveFraction, maxSegments: options.maxSegments ?? Number.MAX_SAFE_INTEGER });
        await this.core.settleReclaims();
      });
    }
    return compactionStats(this.core, this.compactor);
  }

  /**
   * Changes the logical size. Growing extends a file pool's capacity in
   * proportion; shrinking needs allowShrink and fails if any block beyond the
   * new end holds data.
   */
  async resize(logicalBytes: number, options: { allowShrink?: boolean; capacityBytes?: number } = {}): Promise<void> {
    this.checkOpen();
    if (!Number.isSafeInteger(logicalBytes) || logicalBytes <= 0 || logicalBytes % BLOCK_BYTES !== 0) {
      throw new UcError('UC_INVALID_ARGUMENT', `logical size ${logicalBytes} is not a positive multiple of 4096`);
    }
    await this.exclusive('resize', () => changeGeometry(this.core, logicalBytes, options));
  }

  stats(): EngineStats {
    return { ...engineStats(this.core, this.compactor), mutex: this.mutex.stats() };
  }

  /**
   * Flushes, waits for in-flight work and background tasks, releases the stores.
   * When the last commit fails (e.g. a full filesystem) the stores are released
   * anyway and the error is rethrown: what was not committed is lost, as in a crash.
   */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.core.nativeWrites?.close(); // for good: it opens only after an exclusive section of an open engine
    this.background.close();
    this.core.stopScans();
    let failure: unknown;
    this.small.flush(); // one-block writes queued this turn join `preparing` now
    await Promise.allSettled([...this.preparing]);
    await this.exclusive('close', async () => {
      await this.core.commit(true, true);
      await this.core.persistCounters();
      // Everything is committed: a clean close leaves the journal empty.
      await this.core.journal?.reclaimActive();
    }).catch((err: unknown) => {
      failure = err;
    });
    await this.core.settleBackground().catch((err: unknown) => {
      failure ??= err;
    });
    await this.core.closeKeeper().catch((err: unknown) => {
      failure ??= err;
    });
    await this.core.journal?.close(this.ownsStores).catch((err: unknown) => {
      failure ??= err;
    });
    if (this.ownsStores) {
      await this.core.meta.close().catch((err: unknown) => {
        failure ??= err;
      });
      await this.core.pool.close().catch((err: unknown) => {
        failure ??= err;
      });
    }
    if (failure !== undefined) throw failure;
  }

  private exclusive<T>(kind: SectionKind, fn: () => Promise<T>): Promise<T> {
    return this.mutex.run(kind, fn);
  }

  private checkOpen(): void {
    if (this.closed) throw new UcError('UC_INVALID_ARGUMENT', 'engine is closed');
  }

  private checkRange(lba: number, blocks: number, buf?: Buffer): void {
    this.checkOpen();
    assert(Number.isSafeInteger(lba) && lba >= 0, 'lba must be a non-negative integer');
    assert(Number.isSafeInteger(blocks) && blocks > 0, 'blocks must be a positive integer');
    if (lba + blocks > this.core.logicalBlocks) {
      throw new UcError('UC_INVALID_ARGUMENT', `blocks ${lba}..${lba + blocks - 1} beyond the device end`);
    }
    if (buf !== undefined) assert(buf.length >= blocks * BLOCK_BYTES, 'buffer too small');
  }
}
