// What a packed pool would need for given data, without writing anything:
// each 4 KiB block goes through the steps of the write path (same-fill
// detection, the fingerprint dedup index, the codec with its raw fallback,
// 16-byte aligned fragments), but only the sizes are kept. Used by
// `ublk-compress estimate` (like compsize or vdocalculatesize, for our format).
//
// Memory: one fingerprint per distinct block (~100 bytes in the Set), so
// 1 TiB of unique data needs ~25 GiB; the CLI documents the bound.

import { encodeBlock, codecByName, CODEC_RAW, type CompressionName, type Codec } from '../compress/index.js';
import { isSameFill, xxh128, type FingerprintFn } from '../dedup/index.js';
import { fragmentBytes } from '../pool/index.js';
import { BLOCK_BYTES } from '../util/units.js';
import { SEGMENT_BYTES_DEFAULT } from '../util/limits.js';

export interface EstimateTotals {
  /** Blocks scanned (a file's last partial block counts as one, zero-padded). */
  blocks: number;
  /** Blocks of one repeated 8-byte pattern (zeros included): no data stored. */
  sameFillBlocks: number;
  /** Blocks equal (by fingerprint) to one seen before: no data stored. */
  dedupBlocks: number;
  /** Distinct blocks that get a fragment. */
  uniqueBlocks: number;
  /** Unique blocks stored compressed, and stored raw (did not compress enough). */
  compressedBlocks: number;
  rawBlocks: number;
  /** Fragment bytes of the unique blocks (header + payload, 16-byte aligned). */
  storedBytes: number;
}

export interface EstimatePrediction {
  /** Scanned bytes per stored byte (the pool's combined ratio for this data). */
  ratio: number;
  /** Unique blocks' bytes per stored byte. */
  compressionRatio: number;
  /** Share of the non-fill blocks that dedup removes. */
  dedupShare: number;
  sameFillShare: number;
  /** Pool bytes the data needs: whole 4 MiB segments, before any garbage. */
  poolBytes: number;
}

export interface EstimatorOptions {
  compression?: CompressionName;
  /** false: every non-fill block is stored (dedup off). */
  dedup?: boolean;
  fingerprint?: FingerprintFn;
}

export class Estimator {
  private readonly codec: Codec;
  private readonly dedup: boolean;
  private readonly fingerprint: FingerprintFn;
  private readonly seen = new Set<string>();
  private readonly t: EstimateTotals = {
    blocks: 0, sameFillBlocks: 0, dedupBlocks: 0, uniqueBlocks: 0, compressedBlocks: 0, rawBlocks: 0, storedBytes: 0,
  };

  constructor(opts: EstimatorOptions = {}) {
    this.codec = codecByName(opts.compression ?? 'lz4');
    this.dedup = opts.dedup ?? true;
    this.fingerprint = opts.fingerprint ?? xxh128;
  }

  /** Accounts for `buf`, block by block; a partial last block is zero-padded. */
  add(buf: Buffer): void {
    for (let off = 0; off < buf.length; off += BLOCK_BYTES) {
      let block = buf.subarray(off, off + BLOCK_BYTES);
      if (block.length < BLOCK_BYTES) {
        const padded = Buffer.alloc(BLOCK_BYTES);
        block.copy(padded);
        block = padded;
      }
      this.addBlock(block);
    }
  }

  private addBlock(block: Buffer): void {
    const t = this.t;
    t.blocks += 1;
    if (isSameFill(block, 0)) {
      t.sameFillBlocks += 1;
      return;
    }
    if (this.dedup) {
      const key = this.fingerprint(block).toString('latin1');
      if (this.seen.has(key)) {
        t.dedupBlocks += 1;
        return;
      }
      this.seen.add(key);
    }
    const stored = encodeBlock(this.codec, block);
    t.uniqueBlocks += 1;
    if (stored.codecId === CODEC_RAW) t.rawBlocks += 1;
    else t.compressedBlocks += 1;
    t.storedBytes += fragmentBytes(stored.payload.length);
  }

  totals(): EstimateTotals {
    return { ...this.t };
  }
}

export function predict(t: EstimateTotals, segmentBytes = SEGMENT_BYTES_DEFAULT): EstimatePrediction {
  const nonFill = t.blocks - t.sameFillBlocks;
  return {
    ratio: t.storedBytes > 0 ? (t.blocks * BLOCK_BYTES) / t.storedBytes : 1,
    compressionRatio: t.storedBytes > 0 ? (t.uniqueBlocks * BLOCK_BYTES) / t.storedBytes : 1,
    dedupShare: nonFill > 0 ? t.dedupBlocks / nonFill : 0,
    sameFillShare: t.blocks > 0 ? t.sameFillBlocks / t.blocks : 0,
    // Fragments never cross a segment boundary: the tail of each segment may stay unused.
    poolBytes: Math.ceil(t.storedBytes / (segmentBytes - fragmentBytes(BLOCK_BYTES))) * segmentBytes,
  };
}
