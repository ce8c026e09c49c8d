// A space model of dm-vdo over a block stream, following dm-vdo's packer.c and
// packer.h (the vdo-devel sources):
// - all-zero blocks use no storage; every other block is deduplicated exactly
//   (the UDS window is far larger than our corpora, and VDO byte-verifies);
// - each unique block is lz4-compressed; a fragment of 1..4,059 bytes
//   (VDO_MAX_COMPRESSED_FRAGMENT_SIZE) goes to the packer, anything larger is
//   written raw as a whole 4 KiB block;
// - the packer keeps 16 bins (DEFAULT_PACKER_BINS) sorted by free space; a bin
//   becomes one 4 KiB block with a 36-byte header, at most 14 fragments
//   (VDO_MAX_COMPRESSION_SLOTS) in 4,060 data bytes. select_bin is "first best
//   fit" (the bin with the least free space that still fits); when none fits,
//   the fullest bin is written out to make room, unless the fragment is at
//   least as big as that bin's used space, in which case the fragment is
//   written raw. A bin is written when full (14 slots or 0 bytes free), when
//   it is overflowed, and at a flush. A bin holding a single fragment saves
//   nothing and is written raw (write_bin's slot == 1 case).
// Policy choice: the whole stream is one flush generation, flushed once at the
// end (the best case for VDO: no flush ever breaks a bin up early).
import assert from 'node:assert';
import { BLOCK_BYTES } from '../../src/util/units.js';
import { FLAG_DUPLICATE, FLAG_SAME_FILL, FLAG_ZERO, type BlockAnalysis } from './analyze.js';

export const VDO_BIN_COUNT = 16;
export const VDO_SLOTS_MAX = 14;
/** 4096 - (4 + 4 + 2 x 14) header bytes. */
export const VDO_DATA_BYTES = BLOCK_BYTES - (4 + 4 + 2 * VDO_SLOTS_MAX);
/** A fragment filling the whole data area cannot share it, so it is too big. */
export const VDO_FRAGMENT_BYTES_MAX = VDO_DATA_BYTES - 1;
/** Block-map entry: 36-bit PBN + 4-bit state, 812 per 4 KiB page. */
export const VDO_MAP_ENTRIES_PER_PAGE = 812;

interface Bin {
  slots: number[];
  freeBytes: number;
}

export interface PackerCounts {
  /** 4 KiB blocks holding 2..14 fragments. */
  compressedBlocks: number;
  /** Fragments stored inside those blocks. */
  packedFragments: number;
  /** Fragments that left the packer unpaired or were refused: stored raw. */
  rawFragments: number;
}

export class VdoPacker {
  /** Ascending by free space, as packer->bins. */
  private readonly bins: Bin[] = [];
  readonly counts: PackerCounts = { compressedBlocks: 0, packedFragments: 0, rawFragments: 0 };

  constructor(binCount = VDO_BIN_COUNT) {
    assert(binCount >= 1);
    for (let i = 0; i < binCount; i += 1) this.bins.push({ slots: [], freeBytes: VDO_DATA_BYTES });
  }

  /** vdo_attempt_packing for a fragment of `sizeBytes` (already <= 4,059). */
  attempt(sizeBytes: number): void {
    assert(Number.isInteger(sizeBytes) && sizeBytes > 0 && sizeBytes <= VDO_FRAGMENT_BYTES_MAX);
    const bin = this.selectBin(sizeBytes);
    if (bin === undefined) {
      this.counts.rawFragments += 1; // abort_packing: written uncompressed
      return;
    }
    if (bin.freeBytes < sizeBytes) this.writeBin(bin);
    bin.slots.push(sizeBytes);
    bin.freeBytes -= sizeBytes;
    assert(bin.freeBytes >= 0 && bin.slots.length <= VDO_SLOTS_MAX);
    if (bin.slots.length === VDO_SLOTS_MAX || bin.freeBytes === 0) this.writeBin(bin);
    this.resort(bin);
  }

  /** vdo_flush_packer: every non-empty bin is written. */
  flush(): void {
    for (const bin of this.bins) this.writeBin(bin);
  }

  /** Fragments waiting in bins (0 after flush). */
  pendingFragments(): number {
    return this.bins.reduce((sum, b) => sum + b.slots.length, 0);
  }

  private selectBin(sizeBytes: number): Bin | undefined {
    for (const bin of this.bins) if (bin.freeBytes >= sizeBytes) return bin;
    const fullest = this.bins[0];
    if (sizeBytes >= VDO_DATA_BYTES - fullest.freeBytes) return undefined;
    return fullest;
  }

  private writeBin(bin: Bin): void {
    const n = bin.slots.length;
    if (n === 1) this.counts.rawFragments += 1;
    if (n >= 2) {
      this.counts.compressedBlocks += 1;
      this.counts.packedFragments += n;
    }
    bin.slots = [];
    bin.freeBytes = VDO_DATA_BYTES;
  }

  /** insert_in_sorted_list: before the first bin with strictly more free space. */
  private resort(bin: Bin): void {
    const from = this.bins.indexOf(bin);
    this.bins.splice(from, 1);
    const to = this.bins.findIndex((b) => b.freeBytes > bin.freeBytes);
    this.bins.splice(to === -1 ? this.bins.length : to, 0, bin);
  }
}

export interface VdoModelResult {
  logicalBlocks: number;
  zeroBlocks: number;
  duplicateBlocks: number;
  /** Unique blocks whose lz4 output exceeds 4,059 bytes. */
  incompressibleBlocks: number;
  packedFragments: number;
  compressedBlocks: number;
  /** All blocks written uncompressed: incompressible plus unpaired fragments. */
  rawBlocks: number;
  physicalBytes: number;
  /** Block map pages + 1 refcount byte per physical block (UDS index excluded). */
  metaBytes: number;
  ratio: number;
}

/** Runs the model over an analysed stream (see analyze.ts). */
export function modelVdo(a: BlockAnalysis, binCount = VDO_BIN_COUNT): VdoModelResult {
  const packer = new VdoPacker(binCount);
  let zeroBlocks = 0;
  let duplicateBlocks = 0;
  let incompressibleBlocks = 0;
  for (let i = 0; i < a.blockCount; i += 1) {
    const f = a.flags[i];
    if (f & FLAG_ZERO) {
      zeroBlocks += 1; // zero blocks are elided before hashing
    } else if (f & FLAG_DUPLICATE) {
      duplicateBlocks += 1;
    } else if (a.lz4Bytes[i] > VDO_FRAGMENT_BYTES_MAX) {
      incompressibleBlocks += 1;
    } else {
      packer.attempt(a.lz4Bytes[i]);
    }
  }
  packer.flush();
  assert(packer.pendingFragments() === 0);
  const { compressedBlocks, packedFragments, rawFragments } = packer.counts;
  const rawBlocks = incompressibleBlocks + rawFragments;
  const physicalBlocks = compressedBlocks + rawBlocks;
  const physicalBytes = physicalBlocks * BLOCK_BYTES;
  const mappedBlocks = a.blockCount - zeroBlocks;
  const metaBytes = Math.ceil(mappedBlocks / VDO_MAP_ENTRIES_PER_PAGE) * BLOCK_BYTES + physicalBlocks;
  const logicalBytes = a.blockCount * BLOCK_BYTES;
  return {
    logicalBlocks: a.blockCount,
    zeroBlocks,
    duplicateBlocks,
    incompressibleBlocks,
    packedFragments,
    compressedBlocks,
    rawBlocks,
    physicalBytes,
    metaBytes,
    ratio: physicalBytes === 0 ? Infinity : logicalBytes / physicalBytes,
  };
}

/**
 * The ideal packer ("oracle"): exact dedup, same-filled
 * blocks free, every distinct content lz4-compressed on its own (stored raw
 * when lz4 does not shrink it) and packed byte-exact with no header. No store
 * that compresses 4 KiB blocks one at a time can use fewer data bytes.
 */
export function oracleBytes(a: BlockAnalysis): number {
  let total = 0;
  for (let i = 0; i < a.blockCount; i += 1) {
    const f = a.flags[i];
    if (f & (FLAG_DUPLICATE | FLAG_SAME_FILL)) continue;
    total += Math.min(a.lz4Bytes[i], BLOCK_BYTES);
  }
  return total;
}
