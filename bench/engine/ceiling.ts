// The CPU ceiling of the data path, measured over the same blocks the engine
// writes, with the same calls it makes (src/compress Lz4Codec, src/dedup xxh128):
// - write: XXH128 of every block that is not same-filled, plus lz4 compression
//   of the first copy of every content (what an engine with zero overhead must
//   do: duplicates are not compressed again, same-filled blocks not hashed);
// - read: for every block that is not same-filled, the lz4 decode of its stored
//   form into a 4 KiB output, or a 4 KiB copy for blocks stored raw.
// Both are reported over all logical bytes, so they compare with the engine's
// writeMBps / readMBps directly.
import assert from 'node:assert';
import { performance } from 'node:perf_hooks';
import { encodeBlock, Lz4Codec } from '../../src/compress/index.js';
import { CODEC_RAW } from '../../src/compress/codec.js';
import { xxh128 } from '../../src/dedup/fingerprint.js';
import { BLOCK_BYTES } from '../../src/util/units.js';
import { FLAG_DUPLICATE, FLAG_SAME_FILL, type BlockAnalysis } from './analyze.js';

export interface CeilingResult {
  writeMBps: number;
  readMBps: number;
  /** Median of the repetitions, per logical block. */
  writeNsPerBlock: number;
  readNsPerBlock: number;
  repeats: number;
  /** Every pass, in milliseconds, in the order run. */
  writePassMs: number[];
  readPassMs: number[];
}

const MB = 1e6;

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)];
}

/** One timed pass of hash + compress; returns milliseconds. */
function writePass(data: Buffer, a: BlockAnalysis, codec: Lz4Codec): number {
  let sink = 0;
  const start = performance.now();
  for (let i = 0; i < a.blockCount; i += 1) {
    const f = a.flags[i];
    if (f & FLAG_SAME_FILL) continue;
    const block = data.subarray(i * BLOCK_BYTES, (i + 1) * BLOCK_BYTES);
    sink ^= xxh128(block)[0];
    if (!(f & FLAG_DUPLICATE)) sink ^= codec.compress(block)?.length ?? 0;
  }
  const elapsed = performance.now() - start;
  assert(sink >= 0); // keeps the results alive
  return elapsed;
}

/** Stored form (null = raw) of every distinct content, by the block that first held it. */
function storedForms(data: Buffer, a: BlockAnalysis, codec: Lz4Codec): (Buffer | null)[] {
  const forms: (Buffer | null)[] = new Array<Buffer | null>(a.blockCount).fill(null);
  for (let i = 0; i < a.blockCount; i += 1) {
    if (a.flags[i] & (FLAG_SAME_FILL | FLAG_DUPLICATE)) continue;
    const block = data.subarray(i * BLOCK_BYTES, (i + 1) * BLOCK_BYTES);
    const stored = encodeBlock(codec, block);
    forms[i] = stored.codecId === CODEC_RAW ? null : Buffer.from(stored.payload);
  }
  return forms;
}

function readPass(data: Buffer, a: BlockAnalysis, forms: (Buffer | null)[], codec: Lz4Codec): number {
  const out = Buffer.alloc(BLOCK_BYTES * 64);
  const start = performance.now();
  for (let i = 0; i < a.blockCount; i += 1) {
    if (a.flags[i] & FLAG_SAME_FILL) continue;
    const slot = (i % 64) * BLOCK_BYTES;
    const payload = forms[a.firstCopy[i]];
    if (payload) codec.decompress(payload, out, slot);
    else data.copy(out, slot, i * BLOCK_BYTES, (i + 1) * BLOCK_BYTES);
  }
  return performance.now() - start;
}

/** Measures both ceilings `repeats` times over `data`. */
export function measureCeiling(data: Buffer, a: BlockAnalysis, repeats = 3): CeilingResult {
  assert(repeats >= 1 && data.length === a.blockCount * BLOCK_BYTES);
  const codec = new Lz4Codec();
  const writePassMs: number[] = [];
  for (let r = 0; r < repeats; r += 1) writePassMs.push(writePass(data, a, codec));
  const forms = storedForms(data, a, codec);
  const readPassMs: number[] = [];
  for (let r = 0; r < repeats; r += 1) readPassMs.push(readPass(data, a, forms, codec));
  return ceilingOf(data.length, a.blockCount, writePassMs, readPassMs);
}

/** Medians over passes, possibly gathered at different times (before and after a run). */
export function ceilingOf(logicalBytes: number, blockCount: number, writePassMs: number[], readPassMs: number[]): CeilingResult {
  const w = median(writePassMs);
  const rd = median(readPassMs);
  return {
    writeMBps: logicalBytes / MB / (w / 1000),
    readMBps: logicalBytes / MB / (rd / 1000),
    writeNsPerBlock: (w * 1e6) / blockCount,
    readNsPerBlock: (rd * 1e6) / blockCount,
    repeats: writePassMs.length,
    writePassMs,
    readPassMs,
  };
}

/** Merges two measurements of the same data: the median over all their passes. */
export function mergeCeilings(logicalBytes: number, blockCount: number, x: CeilingResult, y: CeilingResult): CeilingResult {
  return ceilingOf(logicalBytes, blockCount, [...x.writePassMs, ...y.writePassMs], [...x.readPassMs, ...y.readPassMs]);
}
