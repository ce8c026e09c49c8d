// fio-like synthetic block streams: the dedupe x compressibility matrix.
//
// Modelled on fio 3.33 with refill_buffers, buffer_compress_chunk=512 and the
// default dedupe_mode=repeat:
// - compressibility: every 512-byte chunk is (100 - c)% random bytes followed by
//   c% zeros (fio's fill_random_buf_percentage with no buffer_pattern);
// - dedupe: before each block, a draw in [1, 100] <= d makes the block a copy of
//   the last unique block (fio regenerates it from the saved random state);
//   otherwise a new unique block is generated.
// Everything derives from `seed`, so a cell is byte-identical on every run.
import assert from 'node:assert';
import { BLOCK_BYTES } from '../../src/util/units.js';
import { Prng } from './prng.js';

export interface SyntheticSpec {
  blockCount: number;
  /** fio dedupe_percentage: share of blocks that repeat an earlier block. */
  dedupePercent: number;
  /** fio buffer_compress_percentage: share of each chunk that is zeros. */
  compressPercent: number;
  seed: number;
  /** fio buffer_compress_chunk; 512 is fio's default. */
  chunkBytes?: number;
}

export const MATRIX_DEDUPE_PERCENTS = [0, 45, 90] as const;
export const MATRIX_COMPRESS_PERCENTS = [0, 60, 90] as const;

/** Name of a matrix cell, e.g. `fio-d45-c60`. */
export function syntheticName(dedupePercent: number, compressPercent: number): string {
  return `fio-d${dedupePercent}-c${compressPercent}`;
}

/** Writes one fio-style block: per chunk, random bytes then zeros. */
export function fillCompressible(
  prng: Prng,
  target: Uint8Array,
  compressPercent: number,
  chunkBytes = 512,
): void {
  assert(compressPercent >= 0 && compressPercent <= 100);
  assert(chunkBytes > 0 && target.length % chunkBytes === 0);
  const randomBytes = Math.floor((chunkBytes * (100 - compressPercent)) / 100);
  for (let at = 0; at < target.length; at += chunkBytes) {
    prng.fill(target, at, randomBytes);
    target.fill(0, at + randomBytes, at + chunkBytes);
  }
}

/** Generates the whole stream of `blockCount` 4 KiB blocks into one Buffer. */
export function generateSynthetic(spec: SyntheticSpec): Buffer {
  const { blockCount, dedupePercent, compressPercent, seed } = spec;
  assert(Number.isSafeInteger(blockCount) && blockCount > 0);
  assert(dedupePercent >= 0 && dedupePercent < 100, 'dedupe must be in [0, 100)');
  const out = Buffer.allocUnsafe(blockCount * BLOCK_BYTES);
  // Separate streams, as fio keeps: the dedupe draws do not shift the data.
  const dataPrng = new Prng(seed);
  const dedupePrng = new Prng(seed ^ 0x5eed_d0d0);
  let lastUniqueAt = -1;
  for (let i = 0; i < blockCount; i += 1) {
    const block = out.subarray(i * BLOCK_BYTES, (i + 1) * BLOCK_BYTES);
    const draw = dedupePrng.between(1, 100);
    if (draw <= dedupePercent && lastUniqueAt >= 0) {
      out.copy(block, 0, lastUniqueAt, lastUniqueAt + BLOCK_BYTES);
    } else {
      fillCompressible(dataPrng, block, compressPercent, spec.chunkBytes);
      lastUniqueAt = i * BLOCK_BYTES;
    }
  }
  return out;
}

/** The nine cells dedupe {0,45,90}% x compressibility {0,60,90}%, each seeded apart. */
export function syntheticMatrix(blockCount: number, seed: number): SyntheticSpec[] {
  const cells: SyntheticSpec[] = [];
  for (const dedupePercent of MATRIX_DEDUPE_PERCENTS) {
    for (const compressPercent of MATRIX_COMPRESS_PERCENTS) {
      const cellSeed = seed * 1000 + dedupePercent * 10 + compressPercent / 10;
      cells.push({ blockCount, dedupePercent, compressPercent, seed: cellSeed });
    }
  }
  return cells;
}
