// The engine's byte work per batch, on the addon's batch codec (liblz4 +
// libxxhash, src/native/codec.ts): one call scans a batch (same-fill + XXH128),
// one compresses the blocks that will be stored, one decodes (and verifies)
// the fragments a read needs. Two calls on the write side, not one: whether a
// block is a duplicate is only known after the dedup lookups that follow the
// scan, and compressing duplicates would waste the most expensive step.
// Results live in arrays allocated once per batch, never per block.
// lz4-napi and xxhash-addon (lz4.ts, ../dedup/fingerprint.ts) stay the
// independent implementation that `check` and the tests compare against.
import assert from 'node:assert';
import { DECODE_DESC_FIELDS as DESC_FIELDS, nativeCodec } from '../native/codec.js';
import { BLOCK_BYTES } from '../util/units.js';
import { COMPRESSED_BYTES_MAX } from '../util/limits.js';
import { CODEC_LZ4, CODEC_RAW, type StoredForm } from './codec.js';

export const BATCH_FINGERPRINT_BYTES = 16;

export interface BatchScan {
  /** 1 where the block is one repeated 8-byte pattern. */
  fills: Uint8Array;
  /** XXH128 of block i at [16i, 16i+16) (unset for same-filled blocks). */
  fps: Buffer;
}

/** Same-fill flags and XXH128 of every block of buf[0, blocks*4096). */
export function scanBlocks(buf: Buffer, blocks: number): BatchScan {
  assert(Number.isSafeInteger(blocks) && blocks >= 0 && blocks * BLOCK_BYTES <= buf.length);
  const fills = new Uint8Array(blocks);
  // A fresh buffer per batch: fingerprints handed out below outlive the batch.
  const fps = Buffer.allocUnsafe(blocks * BATCH_FINGERPRINT_BYTES);
  nativeCodec().codecScan(buf, blocks, fills, fps);
  return { fills, fps };
}

/** dst[at, +16) = XXH128 of src[from, +length), any length: the bytes
 * xxhash-addon's XXHash128.hash gives, without a Buffer per call. */
export function hashInto(src: Buffer, from: number, length: number, dst: Buffer, at: number): void {
  nativeCodec().codecHash(src, from, length, dst, at);
}

/** Block i's fingerprint from a scan (a view that stays valid). */
export function scannedFingerprint(scan: BatchScan, i: number): Buffer {
  assert(scan.fills[i] === 0, 'same-filled blocks have no fingerprint');
  return scan.fps.subarray(i * BATCH_FINGERPRINT_BYTES, (i + 1) * BATCH_FINGERPRINT_BYTES);
}

const NO_WORDS = new Uint32Array(0);
/** Arguments and result of a block compressed alone (the call is synchronous: shared). */
const oneIndex = new Uint32Array(1);
const oneOffset = new Uint32Array(1);
const oneSize = new Uint32Array(1);

/**
 * Compresses a batch's blocks for storage: want() the blocks expected to be
 * stored, compressWanted() runs them in one call, encode(i) returns a block's
 * stored form (compressing it alone when it was not wanted). Rule as
 * encodeBlock: lz4 output over COMPRESSED_BYTES_MAX is stored raw.
 */
export class BatchEncoder {
  // Allocated by the first want(): a block written alone wants none (it is
  // compressed in place by encodeInto), so its batch allocates no array here.
  private indexes = NO_WORDS;
  private sizes = NO_WORDS;
  private offsets = NO_WORDS;
  /** Per block: 0 = not compressed yet, else 1 + its slot in the batch call. */
  private slotOf = NO_WORDS;
  private wanted = 0;
  private staging: Buffer | undefined;

  /** `reusable`, when given and large enough (stagingBytes(blocks)), holds the
   * compressed payloads instead of a fresh buffer: a caller that owns one for
   * every batch saves the allocation and its first-touch page faults. */
  constructor(
    private readonly codecId: number,
    private readonly buf: Buffer,
    private readonly blocks: number,
    private readonly reusable?: Buffer,
  ) {
    assert(codecId === CODEC_LZ4 || codecId === CODEC_RAW, `no batch encoder for codec ${codecId}`);
    assert(blocks * BLOCK_BYTES <= buf.length);
  }

  /** Marks block i for the batch compression (a no-op for the raw codec). */
  want(i: number): void {
    if (this.codecId === CODEC_RAW) return;
    assert(i >= 0 && i < this.blocks && this.slotFor(i) < 0 && this.staging === undefined);
    if (this.wanted === 0) {
      this.indexes = new Uint32Array(this.blocks);
      this.sizes = new Uint32Array(this.blocks);
      this.offsets = new Uint32Array(this.blocks);
      this.slotOf = new Uint32Array(this.blocks);
    }
    this.indexes[this.wanted] = i;
    this.offsets[this.wanted] = this.wanted * COMPRESSED_BYTES_MAX;
    this.wanted += 1;
    this.slotOf[i] = this.wanted;
  }

  /** The batch call's results for the native apply step (native-apply.ts): per block
   * 0 or 1 + its slot, each slot's compressed size (0: stored raw), their bytes at
   * slot * COMPRESSED_BYTES_MAX; undefined before compressWanted() or when none. */
  batchView(): { slotOf: Uint32Array; sizes: Uint32Array; staging: Buffer } | undefined {
    if (this.staging === undefined || this.wanted === 0) return undefined;
    return { slotOf: this.slotOf, sizes: this.sizes, staging: this.staging };
  }

  /** Block i's slot in the batch call, or -1 when it was not compressed there. */
  private slotFor(i: number): number {
    return this.wanted === 0 ? -1 : this.slotOf[i] - 1;
  }

  /** Compresses every wanted block in one native call. */
  compressWanted(): void {
    assert(this.staging === undefined);
    const bytes = stagingBytes(this.wanted);
    this.staging = this.reusable !== undefined && this.reusable.length >= bytes ? this.reusable : Buffer.allocUnsafe(bytes);
    if (this.wanted === 0) return;
    const done = nativeCodec().codecCompress(
      this.buf, this.indexes, this.wanted, this.staging, this.offsets, this.sizes, COMPRESSED_BYTES_MAX,
    );
    assert(done >= 0 && done <= this.wanted);
  }

  /** The stored form of block i: a view valid until the next encode() of an unwanted block. */
  encode(i: number): StoredForm {
    assert(i >= 0 && i < this.blocks);
    const block = this.buf.subarray(i * BLOCK_BYTES, (i + 1) * BLOCK_BYTES);
    if (this.codecId === CODEC_RAW) return { codecId: CODEC_RAW, payload: block };
    const staging = this.staging;
    assert(staging !== undefined, 'compressWanted() first');
    const slot = this.slotFor(i);
    // A block compressed alone takes the slot after the batch's.
    const at = (slot < 0 ? this.wanted : slot) * COMPRESSED_BYTES_MAX;
    const size = slot < 0 ? this.compressOne(i, staging, at) : this.sizes[slot];
    if (size === 0) return { codecId: CODEC_RAW, payload: block };
    return { codecId: CODEC_LZ4, payload: staging.subarray(at, at + size) };
  }

  /**
   * Writes block i's stored payload to dst[at..] and returns its length
   * (storedCodec() names its codec): a block compressWanted() compressed is
   * copied from staging, any other one is compressed straight into dst, with
   * no staging copy. dst needs BLOCK_BYTES of room at `at` (a raw block).
   */
  encodeInto(i: number, dst: Buffer, at: number): number {
    assert(i >= 0 && i < this.blocks && at + BLOCK_BYTES <= dst.length);
    const from = i * BLOCK_BYTES;
    if (this.codecId !== CODEC_RAW) {
      const slot = this.slotFor(i);
      if (slot < 0) {
        const size = this.compressOne(i, dst, at);
        if (size > 0) return size;
      } else if (this.sizes[slot] > 0) {
        const src = slot * COMPRESSED_BYTES_MAX;
        return this.staging!.copy(dst, at, src, src + this.sizes[slot]);
      }
    }
    return this.buf.copy(dst, at, from, from + BLOCK_BYTES);
  }

  /** The codec of a payload encodeInto() wrote: only a raw block is BLOCK_BYTES long. */
  storedCodec(bytes: number): number {
    return bytes === BLOCK_BYTES ? CODEC_RAW : this.codecId;
  }

  /** lz4 of block i alone into dst[at..]; returns its size (0: store raw). */
  private compressOne(i: number, dst: Buffer, at: number): number {
    oneIndex[0] = i;
    oneOffset[0] = at;
    nativeCodec().codecCompress(this.buf, oneIndex, 1, dst, oneOffset, oneSize, COMPRESSED_BYTES_MAX);
    return oneSize[0];
  }
}

/** Staging bytes a BatchEncoder needs for `blocks` compressed blocks: one more
 * slot serves blocks compressed alone later (encode of an unwanted block). */
export function stagingBytes(blocks: number): number {
  return (blocks + 1) * COMPRESSED_BYTES_MAX;
}

export type MatchResult = 'same' | 'differs' | 'undecodable';

/** The dedup verify compare: does the stored payload decode to block[off, +4096)? */
export function matchStored(codecId: number, payload: Buffer, block: Buffer, off: number): MatchResult {
  const r = nativeCodec().codecMatch(payload, codecId, block, off);
  return r === 1 ? 'same' : r === 0 ? 'differs' : 'undecodable';
}

/** Why a fragment did not decode to its extent's block (native DECODE_* codes). */
export type DecodeFailure = 'bad-header' | 'wrong-extent' | 'header-mismatch' | 'undecodable' | 'unknown-codec' | 'fingerprint';

const FAILURES: readonly (DecodeFailure | undefined)[] = [
  undefined, 'bad-header', 'wrong-extent', 'header-mismatch', 'undecodable', 'unknown-codec', 'fingerprint',
];

/** What a read knows about a stored block: its extent record. */
export interface StoredExtent {
  id: number;
  codecId: number;
  storedBytes: number;
  fingerprint: Buffer;
}

/**
 * Decodes a read's fragments in one native call: add() each (a fragment =
 * header + payload at `fragOffset` of `source`), then run(). Each fragment's
 * header is checked against its extent, the payload decoded straight into
 * `out`, and the result's XXH128 compared with the extent's fingerprint (unless
 * the caller verifies itself, e.g. with an injected fingerprint function).
 */
export class BatchDecoder<E extends StoredExtent = StoredExtent> {
  private readonly sources: Buffer[] = [];
  private readonly extents: E[] = [];
  private readonly desc: Float64Array;
  private readonly status: Int32Array;
  private readonly fps: Buffer | null;
  private count = 0;

  constructor(capacity: number, verifyFingerprints: boolean) {
    assert(Number.isSafeInteger(capacity) && capacity >= 0);
    this.desc = new Float64Array(capacity * DESC_FIELDS);
    this.status = new Int32Array(capacity);
    this.fps = verifyFingerprints ? Buffer.allocUnsafe(capacity * BATCH_FINGERPRINT_BYTES) : null;
  }

  get size(): number {
    return this.count;
  }

  /** Queues extent e's fragment at source[fragOffset] for out[outOffset, +4096). */
  add(source: Buffer, fragOffset: number, e: E, outOffset: number): void {
    const k = this.count;
    assert(k < this.status.length, 'decoder capacity');
    let s = this.sources.length - 1;
    if (s < 0 || this.sources[s] !== source) {
      s = this.sources.indexOf(source);
      if (s < 0) s = this.sources.push(source) - 1;
    }
    const d = k * DESC_FIELDS;
    this.desc[d] = s;
    this.desc[d + 1] = fragOffset;
    this.desc[d + 2] = e.id;
    this.desc[d + 3] = e.codecId;
    this.desc[d + 4] = e.storedBytes;
    this.desc[d + 5] = outOffset;
    if (this.fps !== null) e.fingerprint.copy(this.fps, k * BATCH_FINGERPRINT_BYTES);
    this.extents[k] = e;
    this.count = k + 1;
  }

  /** Decodes every queued fragment into out; returns how many failed (each zeroed in out). */
  run(out: Buffer): number {
    if (this.count === 0) return 0;
    return nativeCodec().codecDecode(this.sources, this.desc, this.count, out, this.fps, this.status);
  }

  /** Entry k's failure after run(), or undefined when it decoded (and verified). */
  failure(k: number): DecodeFailure | undefined {
    assert(k >= 0 && k < this.count);
    const st = this.status[k];
    return st === 0 ? undefined : (FAILURES[st] ?? 'undecodable');
  }

  /** Entry k as it was added. */
  entry(k: number): { source: Buffer; fragOffset: number; extent: E; outOffset: number } {
    assert(k >= 0 && k < this.count);
    const d = k * DESC_FIELDS;
    return { source: this.sources[this.desc[d]], fragOffset: this.desc[d + 1], extent: this.extents[k], outOffset: this.desc[d + 5] };
  }

  /** Empties the queue (the arrays are kept for the next batch). */
  reset(): void {
    this.count = 0;
    this.sources.length = 0;
    this.extents.length = 0;
  }
}
