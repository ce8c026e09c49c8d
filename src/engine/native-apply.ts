// The apply step of new unique blocks in the addon (native/write-apply.h,
// attached by the host: engine.shareNativeApply): a block's extent, fragment,
// dedup entry and map entry, and the reference it drops, written straight into the
// engine's tables (the overlays' PendingTables, MetaCache's SlotTables, the
// mapped bitmap, the segment table), which it shares with the addon the way
// the native read path shares the cache. It applies a run of blocks until one
// needs what only JavaScript does (a dedup compare, a same-fill block, a
// LevelDB lookup, a new segment...): write-path.ts applies that one and asks
// again. This module brings back what the tables do not hold: the S record's
// counters, the open segment's fill, dirty and freed segments, the dedup
// filter, the engine counters, the bits of MappedBits' `touched` array.
import type { MetaState } from '../meta/records.js';
import type { SegmentTable } from '../pool/segments.js';
import type { CounterName } from './counters.js';
import type { DedupFilter } from './dedup-filter.js';
import type { MappedBits } from './mapped-bits.js';
import type { MetaCache } from './meta-cache.js';
import type { MetaView } from './meta-view.js';
import type { SegmentWriter } from './segment-writer.js';

// The io words of native/write-apply.h (Io).
const IO_NEXT_EXTENT_ID = 0;
const IO_EXTENT_COUNT = 1;
const IO_MAPPED_BLOCKS = 2;
const IO_OPEN_SEGMENT = 3;
const IO_OPEN_FILL = 4;
const IO_COMPRESSED = 5;
const IO_RAW = 6;
const IO_TOUCHED = 7;
const IO_FREED = 8;
const IO_NEW_MAPS = 9;
const IO_NEW_EXTENTS = 10;
const IO_NEW_DEDUP = 11;
/** The io words; the counts are the words from IO_COMPRESSED on. */
export const IO_WORDS = 12;
export const IO_COUNTS_FROM = IO_COMPRESSED;

/** The addon's WriteApply (native/write-apply.h), as the engine uses it: the
 * engine never imports the addon; its host creates one and attaches it. */
export interface WriteApplyHandle {
  attachPending(layer: number, kind: number, keys?: Uint32Array, values?: Uint32Array, state?: Uint8Array): void;
  attachCache(unused: 0, kind: number, keys: Uint32Array, values: Uint32Array, state: Uint8Array): void;
  attachMapped(bits: Uint8Array, blocks: number, complete: boolean): void;
  attachSegments(liveBytes: Uint32Array, fillBytes: Uint32Array, state: Uint8Array, segmentBytes: number): void;
  setBatch(
    data: Uint8Array, lbas: Float64Array, blockOf: Uint32Array, count: number, fps: Uint8Array, fills: Uint8Array,
    indexed: Float64Array, slotOf: Uint32Array, sizes: Uint32Array, staging: Uint8Array, index: boolean, codecId: number,
    io: Float64Array, out: Uint32Array,
  ): void;
  apply(start: number, openBuf: Uint8Array | null): number;
}

/** What the apply step reads of a classified batch (write-path.ts PreparedWrite). */
export interface ClassifiedBatch {
  readonly scan: { readonly fps: Buffer };
  readonly fills: Uint8Array;
  readonly indexed: Float64Array;
  readonly encoder: { batchView(): { slotOf: Uint32Array; sizes: Uint32Array; staging: Buffer } | undefined };
}

/** A batch whose blocks the batch call compressed none of. */
const NO_BATCH = { slotOf: new Uint32Array(0), sizes: new Uint32Array(0), staging: Buffer.alloc(0) };

/** The parts of the engine core the native step reads and brings up to date. */
export interface ApplyParts {
  readonly view: MetaView;
  readonly cache: MetaCache;
  readonly mapped: MappedBits;
  readonly filter: DedupFilter;
  readonly segs: SegmentTable;
  readonly writer: SegmentWriter;
  readonly state: MetaState;
  /** New extents enter the dedup index (dedup is not off). */
  readonly index: boolean;
  /** The codec of new blocks (a block the batch did not compress is compressed in the addon). */
  readonly codecId: number;
  noteChange(): void;
  count(name: CounterName, n: number): void;
  /** A sealed segment's last live fragment went: free it (core.ts subLive). */
  emptied(segment: number): void;
  /** Hands the addon the segment table's arrays if they changed since (segmentAttacher). */
  attachSegments(): void;
}

/** Hands the addon the write state a run of the apply step starts from (the io words'
 * inputs), the open segment being `open`. */
export function giveApplied(p: ApplyParts, io: Float64Array, open: { readonly segment: number; readonly fillBytes: number }): void {
  const s = p.state;
  io[IO_NEXT_EXTENT_ID] = s.nextExtentId;
  io[IO_EXTENT_COUNT] = s.extentCount;
  io[IO_MAPPED_BLOCKS] = s.mappedBlocks;
  io[IO_OPEN_SEGMENT] = open.segment;
  io[IO_OPEN_FILL] = open.fillBytes;
}

/** Brings the engine up to date with blocks the addon applied, for what its tables do
 * not hold (the io words' outputs): the S record's counts, the open segment's fill,
 * the overlays' sizes, the segments touched (from the front of `out`) and freed (from
 * its back), the counters. The caller adds each block's touched bit and dedup filter entry. */
export function takeApplied(p: ApplyParts, io: Float64Array, out: Uint32Array): void {
  const s = p.state;
  s.nextExtentId = io[IO_NEXT_EXTENT_ID];
  s.extentCount = io[IO_EXTENT_COUNT];
  s.mappedBlocks = io[IO_MAPPED_BLOCKS];
  p.writer.appendedNatively(io[IO_OPEN_FILL]);
  p.view.addedNatively(io[IO_NEW_MAPS], io[IO_NEW_EXTENTS], io[IO_NEW_DEDUP]);
  for (let t = 0; t < io[IO_TOUCHED]; t++) p.segs.dirty.add(out[t]);
  for (let f = 0; f < io[IO_FREED]; f++) p.emptied(out[out.length - 1 - f]);
  p.count('compressedBlocks', io[IO_COMPRESSED]);
  p.count('rawBlocks', io[IO_RAW]);
  p.noteChange();
}

/** ApplyParts.attachSegments for `handle`: the arrays go over again after the table grew. */
export function segmentAttacher(handle: WriteApplyHandle, segs: SegmentTable): () => void {
  let attached: Uint32Array | undefined;
  return () => {
    if (attached === segs.liveBytes) return;
    handle.attachSegments(segs.liveBytes, segs.fillBytes, segs.state, segs.segmentBytes);
    attached = segs.liveBytes;
  };
}

export class NativeApply {
  private readonly io = new Float64Array(IO_WORDS);
  private lbas = new Float64Array(16);
  private blockOf = new Uint32Array(16);
  private out = new Uint32Array(32);
  /** The batch the addon holds (setBatch), by identity. */
  private batch: ClassifiedBatch | undefined;
  private indices: readonly number[] | undefined;
  /** Blocks applied here since open. */
  applied = 0;

  constructor(
    private readonly handle: WriteApplyHandle,
    private readonly p: ApplyParts,
  ) {
    p.view.shareTables((layer, kind, t) => this.handle.attachPending(layer, kind, t?.keys, t?.values, t?.state));
    p.cache.shareAll((kind, keys, values, state) => this.handle.attachCache(0, kind, keys, values, state));
    p.mapped.share((bits, blocks, complete) => this.handle.attachMapped(bits, blocks, complete));
  }

  /**
   * Applies blocks indices[from..] (block i of `buf` to lbas[i]) in the addon while
   * it can; returns how many it applied (0: the block at `from` is JavaScript's).
   * The caller holds the engine mutex and reserved space for the blocks.
   */
  apply(lbas: readonly number[], indices: readonly number[], from: number, buf: Buffer, c: ClassifiedBatch): number {
    const n = indices.length;
    const p = this.p;
    const open = p.writer.openForNative();
    if (from >= n || open === undefined) return 0;
    // The batch goes to the addon once: JavaScript applies a block the addon
    // stops at, then asks again from the next one.
    if (c !== this.batch || indices !== this.indices) this.setBatch(lbas, indices, buf, c);
    p.attachSegments();
    p.view.reserve(n - from);
    const io = this.io;
    giveApplied(p, io, open);
    const done = this.handle.apply(from, open.buf);
    if (done === 0) return 0;
    this.applied += done;
    takeApplied(p, io, this.out);
    for (let k = from; k < from + done; k++) {
      p.mapped.set(this.lbas[k]); // its `touched` bit (the addon set the mapped one)
      if (p.index) p.filter.add(c.scan.fps.subarray(this.blockOf[k] * 16, this.blockOf[k] * 16 + 16));
    }
    return done;
  }

  /** Hands the addon a batch's arrays (kept, with the batch, until the next one). */
  private setBatch(lbas: readonly number[], indices: readonly number[], buf: Buffer, c: ClassifiedBatch): void {
    const n = indices.length;
    if (this.lbas.length < n) {
      this.lbas = new Float64Array(n);
      this.blockOf = new Uint32Array(n);
      this.out = new Uint32Array(2 * n);
    }
    for (let k = 0; k < n; k++) {
      const i = indices[k];
      this.blockOf[k] = i;
      this.lbas[k] = lbas[i];
    }
    const v = c.encoder.batchView() ?? NO_BATCH;
    const p = this.p;
    this.handle.setBatch(
      buf, this.lbas, this.blockOf, n, c.scan.fps, c.fills, c.indexed, v.slotOf, v.sizes, v.staging, p.index, p.codecId, this.io, this.out,
    );
    this.batch = c;
    this.indices = indices;
  }
}
