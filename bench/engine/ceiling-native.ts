// The CPU ceiling measured with the library the engine uses: the addon's batch
// codec (liblz4 + libxxhash, src/native/codec.ts), called as the engine calls
// it, once per batch: codecScan (same-fill + XXH128 of every block) and
// codecCompress (the first copy of every content); on reads, codecDecode of
// every non-same-filled block's stored fragment into a 1 MiB output. The
// per-batch index lists are built untimed. ceiling.ts has the lz4-napi +
// xxhash-addon meter; both are reported, so a faster library shows as a
// higher ceiling rather than as a better engine.
import assert from 'node:assert';
import { performance } from 'node:perf_hooks';
import { CODEC_LZ4, CODEC_RAW } from '../../src/compress/codec.js';
import { DECODE_DESC_FIELDS, nativeCodec } from '../../src/native/codec.js';
import { FRAGMENT_HEADER_BYTES, fragmentBytes, writeFragmentHeader } from '../../src/pool/fragment.js';
import { COMPRESSED_BYTES_MAX } from '../../src/util/limits.js';
import { BLOCK_BYTES } from '../../src/util/units.js';
import { FLAG_DUPLICATE, FLAG_SAME_FILL, type BlockAnalysis } from './analyze.js';

const OUT_SLOTS = 256;

/** Block indexes matching `want`, with a prefix count to slice them per batch. */
function indexList(a: BlockAnalysis, want: (flags: number) => boolean): { list: Uint32Array; before: Uint32Array } {
  const before = new Uint32Array(a.blockCount + 1);
  const picked: number[] = [];
  for (let i = 0; i < a.blockCount; i += 1) {
    before[i] = picked.length;
    if (want(a.flags[i])) picked.push(i);
  }
  before[a.blockCount] = picked.length;
  return { list: Uint32Array.from(picked), before };
}

export class NativeCeilingMeter {
  private readonly codec = nativeCodec();
  private readonly compress: { list: Uint32Array; before: Uint32Array };
  private fills = new Uint8Array(0);
  private fps = Buffer.alloc(0);
  private staging = Buffer.alloc(0);
  private offsets = new Uint32Array(0);
  private sizes = new Uint32Array(0);
  private read: { source: Buffer; desc: Float64Array; before: Uint32Array; status: Int32Array } | undefined;
  private readonly out = Buffer.alloc(OUT_SLOTS * BLOCK_BYTES);

  constructor(
    private readonly data: Buffer,
    private readonly a: BlockAnalysis,
  ) {
    assert(data.length === a.blockCount * BLOCK_BYTES);
    this.compress = indexList(a, (f) => (f & (FLAG_SAME_FILL | FLAG_DUPLICATE)) === 0);
  }

  /** Scan + compress work of blocks [first, first + count); returns milliseconds. */
  writeBatch(first: number, count: number): number {
    assert(first >= 0 && count >= 0 && first + count <= this.a.blockCount);
    this.fit(count);
    const from = this.compress.before[first];
    const n = this.compress.before[first + count] - from;
    const indexes = this.compress.list.subarray(from, from + n);
    const src = this.data.subarray(first * BLOCK_BYTES, (first + count) * BLOCK_BYTES);
    const start = performance.now();
    this.codec.codecScan(src, count, this.fills, this.fps);
    this.codec.codecCompress(this.data, indexes, n, this.staging, this.offsets, this.sizes, COMPRESSED_BYTES_MAX);
    return performance.now() - start;
  }

  /** Stores every distinct content once as a fragment (untimed), as the engine does. */
  prepareRead(): void {
    if (this.read !== undefined) return;
    const { a, data } = this;
    const stored = indexList(a, (f) => (f & (FLAG_SAME_FILL | FLAG_DUPLICATE)) === 0).list;
    const sizes = new Uint32Array(stored.length);
    const staging = Buffer.alloc(stored.length * COMPRESSED_BYTES_MAX);
    const offsets = Uint32Array.from(stored, (_, k) => k * COMPRESSED_BYTES_MAX);
    this.codec.codecCompress(data, stored, stored.length, staging, offsets, sizes, COMPRESSED_BYTES_MAX);
    const fragAt = new Float64Array(a.blockCount).fill(-1);
    const codecOf = new Uint8Array(a.blockCount);
    let total = 0;
    stored.forEach((i, k) => {
      fragAt[i] = total;
      total += fragmentBytes(sizes[k] === 0 ? BLOCK_BYTES : sizes[k]);
    });
    const source = Buffer.alloc(total);
    stored.forEach((i, k) => {
      const raw = sizes[k] === 0;
      const payload = raw ? data.subarray(i * BLOCK_BYTES, (i + 1) * BLOCK_BYTES) : staging.subarray(offsets[k], offsets[k] + sizes[k]);
      codecOf[i] = raw ? CODEC_RAW : CODEC_LZ4;
      writeFragmentHeader(source, fragAt[i], codecOf[i], payload.length, i);
      payload.copy(source, fragAt[i] + FRAGMENT_HEADER_BYTES);
    });
    const reads = indexList(a, (f) => (f & FLAG_SAME_FILL) === 0);
    const desc = new Float64Array(reads.list.length * DECODE_DESC_FIELDS);
    reads.list.forEach((i, k) => {
      const f = a.firstCopy[i];
      const head = source.subarray(fragAt[f], fragAt[f] + FRAGMENT_HEADER_BYTES);
      desc.set([0, fragAt[f], f, codecOf[f], head.readUInt16BE(4), (i % OUT_SLOTS) * BLOCK_BYTES], k * DECODE_DESC_FIELDS);
    });
    this.read = { source, desc, before: reads.before, status: new Int32Array(reads.list.length) };
  }

  /** Decode work of blocks [first, first + count); returns milliseconds. */
  readBatch(first: number, count: number): number {
    const r = this.read;
    assert(r !== undefined, 'prepareRead() first');
    assert(first >= 0 && count >= 0 && first + count <= this.a.blockCount);
    const from = r.before[first];
    const n = r.before[first + count] - from;
    const desc = r.desc.subarray(from * DECODE_DESC_FIELDS, (from + n) * DECODE_DESC_FIELDS);
    const start = performance.now();
    const failures = this.codec.codecDecode([r.source], desc, n, this.out, null, r.status);
    const elapsed = performance.now() - start;
    assert.equal(failures, 0, 'the ceiling decodes what it stored');
    return elapsed;
  }

  /** Grows the per-batch arrays to `count` blocks (outside the timed region). */
  private fit(count: number): void {
    if (this.fills.length >= count) return;
    this.fills = new Uint8Array(count);
    this.fps = Buffer.alloc(count * 16);
    this.staging = Buffer.alloc(count * COMPRESSED_BYTES_MAX);
    this.offsets = Uint32Array.from({ length: count }, (_, k) => k * COMPRESSED_BYTES_MAX);
    this.sizes = new Uint32Array(count);
  }
}
