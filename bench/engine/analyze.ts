// One pass over a block stream that records, per 4 KiB block, what any
// dedup + compression store needs to know: zero, same-filled (one repeated
// 8-byte pattern), exact duplicate of an earlier block, and for the first copy
// of each content its lz4 fragment size. The VDO model and the report use it.
import assert from 'node:assert';
import { compressSync } from 'lz4-napi';
import { xxh128 } from '../../src/dedup/fingerprint.js';
import { isSameFill } from '../../src/dedup/same-fill.js';
import { BLOCK_BYTES } from '../../src/util/units.js';

export const FLAG_ZERO = 1;
export const FLAG_SAME_FILL = 2;
export const FLAG_DUPLICATE = 4;

/** lz4-napi's compressSync prefixes the LZ4 block with its 4-byte LE input size. */
export const LZ4_NAPI_PREFIX_BYTES = 4;

export interface BlockAnalysis {
  blockCount: number;
  /** FLAG_* bits per block. */
  flags: Uint8Array;
  /** Raw LZ4 block bytes (no prefix) for first copies; 0 for duplicates. */
  lz4Bytes: Int32Array;
  /** Index of the block holding the first copy of this content (itself for first copies). */
  firstCopy: Int32Array;
}

export interface AnalysisSummary {
  blockCount: number;
  zeroBlocks: number;
  sameFillBlocks: number;
  duplicateBlocks: number;
  uniqueBlocks: number;
}

function isZero(block: Buffer): boolean {
  // The zero check runs on every block; compare against a shared zero block.
  return block.equals(ZERO_BLOCK);
}
const ZERO_BLOCK = Buffer.alloc(BLOCK_BYTES);

/** Size of the raw LZ4 block that lz4-napi produces for `block`. */
export function lz4FragmentBytes(block: Buffer): number {
  return compressSync(block).length - LZ4_NAPI_PREFIX_BYTES;
}

export function analyzeBlocks(data: Buffer): BlockAnalysis {
  assert(data.length % BLOCK_BYTES === 0, 'stream is not whole blocks');
  const blockCount = data.length / BLOCK_BYTES;
  const flags = new Uint8Array(blockCount);
  const lz4Bytes = new Int32Array(blockCount);
  const firstCopy = new Int32Array(blockCount);
  // Fingerprint -> offsets of distinct contents with that fingerprint; bytes
  // are compared, so the duplicate flag is exact even under a collision.
  const seen = new Map<string, number[]>();
  for (let i = 0; i < blockCount; i += 1) {
    const at = i * BLOCK_BYTES;
    const block = data.subarray(at, at + BLOCK_BYTES);
    let f = 0;
    if (isZero(block)) f |= FLAG_ZERO | FLAG_SAME_FILL;
    else if (isSameFill(data, at)) f |= FLAG_SAME_FILL;
    const key = xxh128(block).toString('latin1');
    const offsets = seen.get(key);
    const match = offsets?.find((o) => data.compare(data, o, o + BLOCK_BYTES, at, at + BLOCK_BYTES) === 0);
    if (match !== undefined) {
      f |= FLAG_DUPLICATE;
      firstCopy[i] = match / BLOCK_BYTES;
    } else {
      firstCopy[i] = i;
      if (offsets) offsets.push(at);
      else seen.set(key, [at]);
      lz4Bytes[i] = lz4FragmentBytes(block);
    }
    flags[i] = f;
  }
  return { blockCount, flags, lz4Bytes, firstCopy };
}

export function summarize(a: BlockAnalysis): AnalysisSummary {
  let zeroBlocks = 0;
  let sameFillBlocks = 0;
  let duplicateBlocks = 0;
  for (let i = 0; i < a.blockCount; i += 1) {
    const f = a.flags[i];
    if (f & FLAG_ZERO) zeroBlocks += 1;
    if (f & FLAG_SAME_FILL) sameFillBlocks += 1;
    if (f & FLAG_DUPLICATE) duplicateBlocks += 1;
  }
  return {
    blockCount: a.blockCount,
    zeroBlocks,
    sameFillBlocks,
    duplicateBlocks,
    uniqueBlocks: a.blockCount - duplicateBlocks,
  };
}
