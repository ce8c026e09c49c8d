// BlockEngine: the packed, compressing, deduplicating block store. Implements
// the BlockTarget contract (src/device/target.ts) structurally; it never
// imports src/device or native/. See index.ts for the API summary.
//
// Mutating operations (write, discard, writeZeroes, flush, compaction, resize)
// run one at a time through a promise-chain mutex; each is batch-oriented and
// awaits I/O a bounded number of times. Reads run concurrently with them.
import assert from 'node:assert';
import { KEY_S } from '../meta/keys.js';
import { encodeState } from '../meta/records.js';
import type { MetaStore } from '../meta/store.js';
import { uuidText } from '../pool/format.js';
import type { PoolStore } from '../pool/store.js';
import { UcError } from '../util/errors.js';
import { COMPACT_SEGMENTS_PER_TICK } from '../util/limits.js';
import { BLOCK_BYTES } from '../util/units.js';
import { compactStep } from './compactor.js';
import type { EngineCore } from './core.js';
import { unmapRange } from './discard.js';
import { readBlocks } from './read-path.js';
import type { CompactionStats, EngineEvent, EngineStats } from './types.js';
import { writeBlocks } from './write-path.js';
import { lKey } from '../meta/keys.js';
import { defaultCapacityBytes } from './capacity.js';

/** Blocks handled per internal step of one large write (bounds per-step memory). */
const WRITE_CHUNK_BLOCKS = 1024;
/** The background retry of a stalled commit never spins faster than this. */
const STALL_RETRY_TIMER_MS_MIN = 10;

export class BlockEngine {
  private mutex: Promise<unknown> = Promise.resolve();
  private closed = false;
  private timer: NodeJS.Timeout | undefined;
  private retryTimer: NodeJS.Timeout | undefined;
  private compactScheduled = false;

  /** Use openEngine/formatEngine (or openPool/formatPool for files). */
  constructor(
    private readonly core: EngineCore,
    private readonly ownsStores: boolean,
  ) {
    core.onStall = () => this.armRetry();
  }

  get uuid(): string {
    return uuidText(this.core.sb.uuid);
  }

  get logicalBytes(): number {
    return this.core.state.logicalBytes;
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

  async read(lba: number, blocks: number, buf: Buffer): Promise<void> {
    this.checkRange(lba, blocks, buf);
    await readBlocks(this.core, lba, blocks, buf);
  }

  async write(lba: number, blocks: number, buf: Buffer, fua: boolean): Promise<void> {
    this.checkRange(lba, blocks, buf);
    await this.exclusive(async () => {
      await this.core.checkWritable();
      for (let done = 0; done < blocks; done += WRITE_CHUNK_BLOCKS) {
        const n = Math.min(WRITE_CHUNK_BLOCKS, blocks - done);
        await this.core.ensureSpace(n);
        await writeBlocks(this.core, lba + done, n, buf.subarray(done * BLOCK_BYTES, (done + n) * BLOCK_BYTES));
        if (this.core.needsCommit()) await this.core.commit(false);
      }
      if (fua) await this.core.commit(true);
    });
    this.afterMutation();
  }

  async flush(): Promise<void> {
    this.checkOpen();
    await this.exclusive(() => this.core.commit(true));
    this.maybeCompact();
  }

  async discard(lba: number, blocks: number): Promise<void> {
    this.checkRange(lba, blocks);
    await this.exclusive(async () => {
      await this.core.checkWritable();
      await unmapRange(this.core, lba, blocks);
    });
    this.afterMutation();
  }

  /** Zero blocks store nothing, with or without noUnmap: the range is unmapped. */
  async writeZeroes(lba: number, blocks: number, noUnmap: boolean): Promise<void> {
    void noUnmap;
    this.checkRange(lba, blocks);
    await this.exclusive(async () => {
      await this.core.checkWritable();
      await unmapRange(this.core, lba, blocks);
    });
    this.afterMutation();
  }

  /** Runs up to `maxSegments` compaction steps now (durable when it resolves). */
  async compact(options: { liveFraction?: number; maxSegments?: number } = {}): Promise<CompactionStats> {
    this.checkOpen();
    await this.exclusive(async () => {
      await compactStep(this.core, {
        liveFraction: options.liveFraction ?? this.core.compactLiveFraction,
        maxSegments: options.maxSegments ?? Number.MAX_SAFE_INTEGER,
      });
      await this.core.settleReclaims();
    });
    return this.compactionStats();
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
    await this.exclusive(async () => {
      const c = this.core;
      if (logicalBytes < c.state.logicalBytes) {
        if (!options.allowShrink) {
          throw new UcError('UC_INVALID_ARGUMENT', `refusing to shrink from ${c.state.logicalBytes} to ${logicalBytes} bytes`);
        }
        await c.commit(true);
        const beyond = await c.meta.scan(lKey(logicalBytes / BLOCK_BYTES), Buffer.from([0x4d]), 1);
        if (beyond.length > 0) {
          throw new UcError('UC_INVALID_ARGUMENT', 'cannot shrink: blocks beyond the new size hold data');
        }
      }
      const wanted = options.capacityBytes ?? defaultCapacityBytes(logicalBytes, c.sb.segmentBytes);
      let segmentCount = Math.max(c.segs.count, Math.floor((wanted - c.sb.dataOffset) / c.sb.segmentBytes));
      if (segmentCount > c.segs.count) {
        try {
          await c.pool.grow(c.sb.dataOffset + segmentCount * c.sb.segmentBytes);
        } catch (err) {
          // A block device cannot grow: keep its capacity unless more was asked for explicitly.
          if (options.capacityBytes !== undefined) throw err;
          segmentCount = c.segs.count;
        }
      }
      await c.commit(true);
      await c.keeper.rewrite({ logicalBytes, segmentCount });
      c.segs.grow(segmentCount);
      c.mapped.resize(logicalBytes / BLOCK_BYTES);
      c.state.logicalBytes = logicalBytes;
      c.state.segmentCount = segmentCount;
      await c.meta.batch([{ type: 'put', key: KEY_S, value: encodeState(c.state) }], true);
    });
  }

  stats(): EngineStats {
    const c = this.core;
    const liveBytes = c.segs.totalLiveBytes();
    const used = c.segs.usedCount();
    return {
      uuid: this.uuid,
      logicalBytes: c.state.logicalBytes,
      segmentBytes: c.sb.segmentBytes,
      segmentCount: c.segs.count,
      freeSegments: c.segs.freeCount,
      usedSegments: used,
      mappedBlocks: c.state.mappedBlocks,
      extents: c.state.extentCount,
      liveBytes,
      physicalBytes: used * c.sb.segmentBytes,
      ratio: liveBytes === 0 ? 1 : (c.state.mappedBlocks * BLOCK_BYTES) / liveBytes,
      ...c.counters,
      compaction: this.compactionStats(),
    };
  }

  /**
   * Flushes, waits for in-flight work and background tasks, releases the stores.
   * When the last commit fails (e.g. a full filesystem) the stores are released
   * anyway and the error is rethrown: what was not committed is lost, as in a crash.
   */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    if (this.timer !== undefined) clearTimeout(this.timer);
    if (this.retryTimer !== undefined) clearTimeout(this.retryTimer);
    let failure: unknown;
    await this.exclusive(() => this.core.commit(true, true)).catch((err: unknown) => {
      failure = err;
    });
    await this.core.settleBackground().catch((err: unknown) => {
      failure ??= err;
    });
    await this.core.keeper.close().catch((err: unknown) => {
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

  /** After a failed commit: retries it in the background until one goes through. */
  private armRetry(): void {
    if (this.closed || this.retryTimer !== undefined) return;
    this.retryTimer = setTimeout(() => {
      this.retryTimer = undefined;
      if (this.closed || this.core.stalled === undefined) return;
      this.exclusive(() => this.core.commit(true, true)).then(() => this.maybeCompact(), () => undefined);
    }, Math.max(this.core.opts.stallRetryMs, STALL_RETRY_TIMER_MS_MIN));
    this.retryTimer.unref();
  }

  private compactionStats(): CompactionStats {
    const c = this.core;
    return {
      segmentsCleaned: c.counters.segmentsCleaned,
      bytesMoved: c.counters.bytesMoved,
      candidates: c.segs.candidates(c.compactLiveFraction, Number.MAX_SAFE_INTEGER).length,
      running: c.compacting,
    };
  }

  private exclusive<T>(fn: () => Promise<T>): Promise<T> {
    const run = this.mutex.then(fn);
    this.mutex = run.catch(() => undefined);
    return run;
  }

  /** Arms the delayed commit and background compaction after a mutation. */
  private afterMutation(): void {
    const c = this.core;
    if (c.opts.flushDelayMs > 0 && this.timer === undefined && !this.closed && c.hasPendingWork) {
      this.timer = setTimeout(() => {
        this.timer = undefined;
        if (this.closed) return;
        this.exclusive(() => c.commit(false)).then(() => this.maybeCompact(), () => undefined);
      }, c.opts.flushDelayMs);
      this.timer.unref();
    }
  }

  private maybeCompact(): void {
    const c = this.core;
    if (!c.opts.backgroundCompaction || this.closed || this.compactScheduled) return;
    if (c.segs.candidates(c.compactLiveFraction, 1).length === 0) return;
    this.compactScheduled = true;
    setImmediate(() => {
      // close() may have begun since this was scheduled: a step after its final
      // commit would write to a pool being closed.
      this.exclusive(async () => (this.closed ? 0 : compactStep(c, { liveFraction: c.compactLiveFraction, maxSegments: COMPACT_SEGMENTS_PER_TICK })))
        .then((n) => {
          this.compactScheduled = false;
          if (n > 0) this.maybeCompact();
        }, () => {
          this.compactScheduled = false;
        });
    }).unref();
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
