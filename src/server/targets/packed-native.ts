// The daemon's side of the packed layout's native read path: choosing it
// (UBLK_PACKED_READ), handing each queue the engine's shared tables, and the
// counters `stats` shows (docs/packed.md, "Native reads"); and of its native
// apply step for new blocks (UBLK_PACKED_APPLY; "Native apply of new blocks").

import { isMemoryFile } from '../../io/index.js';
import type { BlockEngine, NativeReadGeometry } from '../../engine/index.js';
import { createWriteApply, PackedTables, type NativeWriteApplyHandle, type PackedReadStats, type UblkQueue } from '../../native/index.js';
import { UcError } from '../../util/errors.js';

/** UBLK_PACKED_READ=js forces every READ through the JS engine (to compare the two in one boot). */
export const PACKED_READ_ENV = 'UBLK_PACKED_READ';

export type PackedReadPath = 'native' | 'js';

/** How the native path reads the pool: pread on the queue's thread (a pool in
 * memory: a tmpfs read on the ring always goes to an io-wq worker) or on the ring. */
export type PoolReads = 'inline' | 'ring';

export interface NativeReadReport extends Omit<PackedReadStats, 'inflight'> {
  path: PackedReadPath;
  /** Absent on the JS path. */
  poolReads?: PoolReads;
}

export function packedReadPathFromEnv(env: NodeJS.ProcessEnv = process.env): PackedReadPath {
  const v = env[PACKED_READ_ENV];
  if (v === undefined || v === '' || v === 'native') return 'native';
  if (v === 'js') return 'js';
  throw new UcError('UC_INVALID_ARGUMENT', `${PACKED_READ_ENV} must be 'native' or 'js' (got '${v}')`);
}

/** UBLK_PACKED_APPLY=js applies every written block in JavaScript; =batch keeps the addon's
 * apply step but serves no write outside the engine mutex (to compare the three in one boot). */
export const PACKED_APPLY_ENV = 'UBLK_PACKED_APPLY';

/** Attaches the addon's apply step and one-block write path to the engine as
 * UBLK_PACKED_APPLY says; returns the handle the queues serve writes through, when they may. */
export function startNativeApply(engine: BlockEngine, env: NodeJS.ProcessEnv = process.env): NativeWriteApplyHandle | undefined {
  const v = env[PACKED_APPLY_ENV];
  if (v === 'js') return undefined;
  if (v !== undefined && v !== '' && v !== 'native' && v !== 'batch') {
    throw new UcError('UC_INVALID_ARGUMENT', `${PACKED_APPLY_ENV} must be 'native', 'batch' or 'js' (got '${v}')`);
  }
  const handle = createWriteApply();
  const writes = v !== 'batch';
  return engine.shareNativeApply(handle, writes) && writes ? handle : undefined;
}

/** One device's native reads (the tables its engine shares) and one-block writes, and its queues. */
export class PackedNativeReads {
  private readonly queues: UblkQueue[] = [];
  /** The engine's WriteApply, when the queues serve one-block writes through it. */
  private writes: { handle: NativeWriteApplyHandle; done: () => void; byQueues: () => void } | undefined;
  private readonly writeQueues: UblkQueue[] = [];
  /** Blocks already reported to the engine's counters. */
  private blocksCounted = 0;

  private constructor(
    private readonly tables: PackedTables | undefined,
    private readonly geometry: NativeReadGeometry | undefined,
    private readonly poolReads: PoolReads = 'ring',
  ) {}

  /** Shares the engine's tables unless the JS path is asked for or the engine cannot. */
  static start(engine: BlockEngine, path: PackedReadPath): PackedNativeReads {
    if (path === 'js') return new PackedNativeReads(undefined, undefined);
    const tables = new PackedTables();
    const geometry = engine.shareNativeReads(tables);
    if (geometry === undefined || geometry.poolFd < 0) return new PackedNativeReads(undefined, undefined);
    // The descriptor's link names the pool file (statfs follows it).
    return new PackedNativeReads(tables, geometry, isMemoryFile(`/proc/self/fd/${geometry.poolFd}`) ? 'inline' : 'ring');
  }

  get path(): PackedReadPath {
    return this.geometry === undefined ? 'js' : 'native';
  }

  /** Queues created from now on serve one-block writes through `handle` (startNativeApply's). */
  serveWrites(engine: BlockEngine, handle: NativeWriteApplyHandle | undefined): void {
    this.writes = handle === undefined ? undefined : { handle, done: () => engine.nativeWritesDone(), byQueues: () => engine.nativeWritesByQueues() };
  }

  /** Requests the queues' one-block write path served. */
  writeRequests(): number {
    return this.writeQueues.reduce((n, q) => n + (q.packedWriteStats()?.requests ?? 0), 0);
  }

  /** Each queue as it is created; with zero copy the JS path serves (the path decodes into the per-tag buffers). */
  onQueue(queue: UblkQueue, zeroCopy: boolean): void {
    if (this.writes !== undefined && !zeroCopy) {
      queue.setPackedWrite(this.writes.handle, this.writes.done);
      this.writes.byQueues();
      this.writeQueues.push(queue);
    }
    const g = this.geometry;
    if (this.tables === undefined || g === undefined || zeroCopy) return;
    queue.setPackedRead(this.tables, g.poolFd, g.dataOffset, g.segmentBytes, { inlineReads: this.poolReads === 'inline' });
    this.queues.push(queue);
  }

  /** Counts the blocks served natively since the last call in the engine's totals (before stats, and before close). */
  countInto(engine: BlockEngine): void {
    const blocks = this.report().blocks;
    engine.countNativeReads(blocks - this.blocksCounted);
    this.blocksCounted = blocks;
  }

  report(): NativeReadReport {
    const native = this.queues.length > 0;
    const r: NativeReadReport = {
      path: native ? 'native' : 'js', requests: 0, blocks: 0, toJs: 0, misses: 0, ioFailures: 0, verifyFailures: 0,
      ...(native ? { poolReads: this.poolReads } : {}),
    };
    for (const q of this.queues) {
      const s = q.packedReadStats();
      if (s === null) continue;
      r.requests += s.requests;
      r.blocks += s.blocks;
      r.toJs += s.toJs;
      r.misses += s.misses;
      r.ioFailures += s.ioFailures;
      r.verifyFailures += s.verifyFailures;
    }
    return r;
  }
}
