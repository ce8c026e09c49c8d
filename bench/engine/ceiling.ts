// The CPU ceiling of the data path, measured over the same blocks the engine
// writes, with lz4-napi and xxhash-addon (src/compress Lz4Codec, src/dedup xxh128;
// ceiling-native.ts measures the liblz4 + libxxhash batch calls the engine makes):
// - write: XXH128 of every block that is not same-filled, plus lz4 compression
//   of the first copy of every content (what an engine with zero overhead must
//   do: duplicates are not compressed again, same-filled blocks not hashed);
// - read: for every block that is not same-filled, the lz4 decode of its stored
//   form into a 4 KiB output, or a 4 KiB copy for blocks stored raw.
// Both are reported over all logical bytes, so they compare with the engine's
// writeMBps / readMBps directly.
//
// The meter works on any block range, so the engine run can time the ceiling
// work of each batch right next to the engine's own call for that batch: on a
// shared machine, load changes then hit both sides of the ratio alike.
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
  writeNsPerBlock: number;
  readNsPerBlock: number;
  /** 'paired': timed batch by batch beside the engine; 'passes': median of whole passes. */
  method: 'paired' | 'passes';
  passes: number;
}

const MB = 1e6;
const OUT_SLOTS = 64;

export class CeilingMeter implements Meter {
  private readonly codec = new Lz4Codec();
  private forms: (Buffer | null)[] | undefined;
  private readonly out = Buffer.alloc(BLOCK_BYTES * OUT_SLOTS);
  private sink = 0;

  constructor(
    private readonly data: Buffer,
    private readonly a: BlockAnalysis,
  ) {
    assert(data.length === a.blockCount * BLOCK_BYTES);
  }

  /** Hash + compress work of blocks [first, first + count); returns milliseconds. */
  writeBatch(first: number, count: number): number {
    const { a, data, codec } = this;
    assert(first >= 0 && first + count <= a.blockCount);
    let sink = 0;
    const start = performance.now();
    for (let i = first; i < first + count; i += 1) {
      const f = a.flags[i];
      if (f & FLAG_SAME_FILL) continue;
      const block = data.subarray(i * BLOCK_BYTES, (i + 1) * BLOCK_BYTES);
      sink ^= xxh128(block)[0];
      if (!(f & FLAG_DUPLICATE)) sink ^= codec.compress(block)?.length ?? 0;
    }
    const elapsed = performance.now() - start;
    this.sink ^= sink; // keeps the results alive
    return elapsed;
  }

  /** Encodes every distinct content once (untimed), as the engine stored it. */
  prepareRead(): void {
    if (this.forms !== undefined) return;
    const { a, data, codec } = this;
    const forms: (Buffer | null)[] = new Array<Buffer | null>(a.blockCount).fill(null);
    for (let i = 0; i < a.blockCount; i += 1) {
      if (a.flags[i] & (FLAG_SAME_FILL | FLAG_DUPLICATE)) continue;
      const stored = encodeBlock(codec, data.subarray(i * BLOCK_BYTES, (i + 1) * BLOCK_BYTES));
      forms[i] = stored.codecId === CODEC_RAW ? null : Buffer.from(stored.payload);
    }
    this.forms = forms;
  }

  /** Decode work of blocks [first, first + count); returns milliseconds. */
  readBatch(first: number, count: number): number {
    const { a, data, codec, out } = this;
    const forms = this.forms;
    assert(forms !== undefined, 'prepareRead() first');
    assert(first >= 0 && first + count <= a.blockCount);
    const start = performance.now();
    for (let i = first; i < first + count; i += 1) {
      if (a.flags[i] & FLAG_SAME_FILL) continue;
      const slot = (i % OUT_SLOTS) * BLOCK_BYTES;
      const payload = forms[a.firstCopy[i]];
      if (payload) codec.decompress(payload, out, slot);
      else data.copy(out, slot, i * BLOCK_BYTES, (i + 1) * BLOCK_BYTES);
    }
    return performance.now() - start;
  }
}

function median(values: number[]): number {
  const sorted = [...values].sort((x, y) => x - y);
  return sorted[Math.floor(sorted.length / 2)];
}

/** A ceiling from total milliseconds spent on `logicalBytes`. */
export function ceilingOf(
  logicalBytes: number,
  writeMs: number,
  readMs: number,
  method: CeilingResult['method'],
  passes: number,
): CeilingResult {
  const blockCount = logicalBytes / BLOCK_BYTES;
  return {
    writeMBps: logicalBytes / MB / (writeMs / 1000),
    readMBps: logicalBytes / MB / (readMs / 1000),
    writeNsPerBlock: (writeMs * 1e6) / blockCount,
    readNsPerBlock: (readMs * 1e6) / blockCount,
    method,
    passes,
  };
}

/** What both ceiling meters (lz4-napi here, liblz4 in ceiling-native.ts) offer. */
export interface Meter {
  writeBatch(first: number, count: number): number;
  prepareRead(): void;
  readBatch(first: number, count: number): number;
}

/** Whole passes over `data` in batches of `batchBlocks`, `repeats` times each; the medians are kept. */
export function measureCeiling(meter: Meter, data: Buffer, a: BlockAnalysis, repeats = 3, batchBlocks = 256): CeilingResult {
  assert(repeats >= 1 && batchBlocks >= 1);
  const pass = (f: (first: number, count: number) => number): number => {
    let ms = 0;
    for (let at = 0; at < a.blockCount; at += batchBlocks) ms += f(at, Math.min(batchBlocks, a.blockCount - at));
    return ms;
  };
  const writeMs: number[] = [];
  for (let r = 0; r < repeats; r += 1) writeMs.push(pass((at, n) => meter.writeBatch(at, n)));
  meter.prepareRead();
  const readMs: number[] = [];
  for (let r = 0; r < repeats; r += 1) readMs.push(pass((at, n) => meter.readBatch(at, n)));
  return ceilingOf(data.length, median(writeMs), median(readMs), 'passes', repeats);
}
