// Typed surface of the addon's batch codec (native/codec-batch.cc): the write
// and read paths' byte work over a whole batch of 4 KiB blocks, one call each,
// with liblz4 and libxxhash. No allocation per block: the caller passes every
// output array. A caller bug (array too short, offset out of range) throws a
// RangeError/TypeError; damaged stored bytes give a per-block status instead.
// src/compress/batch-codec.ts builds the engine's helpers on top of this.
import { native, type NativeModule } from './addon.js';

/** codecDecode statuses (native/codec-batch.h DecodeStatus). */
export const DECODE_OK = 0;
export const DECODE_BAD_HEADER = 1;
export const DECODE_WRONG_EXTENT = 2;
export const DECODE_HEADER_MISMATCH = 3;
export const DECODE_FAILED = 4;
export const DECODE_UNKNOWN_CODEC = 5;
export const DECODE_FINGERPRINT = 6;

/** Doubles per codecDecode entry: source index, fragment offset, extent id,
 * codec id, stored bytes, out offset. */
export const DECODE_DESC_FIELDS = 6;

export interface NativeCodecFunctions {
  /** Same-fill flags and XXH128 (xxhash-addon's canonical bytes) of src's first
   * `count` blocks; returns the same-fill count. */
  codecScan(src: Uint8Array, count: number, fills: Uint8Array, fps: Uint8Array): number;
  /** lz4 of block indexes[k] into dst[dstOffsets[k]..] when it fits limitBytes
   * (sizes[k] = bytes), else sizes[k] = 0; returns how many compressed. */
  codecCompress(
    src: Uint8Array,
    indexes: Uint32Array,
    count: number,
    dst: Uint8Array,
    dstOffsets: Uint32Array,
    sizes: Uint32Array,
    limitBytes: number,
  ): number;
  /** Checks, decodes and (with fps) fingerprint-verifies `count` fragments;
   * status[k] gets a DECODE_* value, a failed block is zeroed; returns failures. */
  codecDecode(
    sources: Uint8Array[],
    desc: Float64Array,
    count: number,
    out: Uint8Array,
    fps: Uint8Array | null,
    status: Int32Array,
  ): number;
  /** 1 when the payload decodes to exactly block[blockOffset, +4096), 0 when
   * it decodes to other bytes, -1 when it does not decode. */
  codecMatch(payload: Uint8Array, codecId: number, block: Uint8Array, blockOffset: number): number;
  /** dst[at, +16) = XXH128 (xxhash-addon's canonical bytes) of src[from, +length), any length. */
  codecHash(src: Uint8Array, from: number, length: number, dst: Uint8Array, at: number): void;
  /** Versions of the linked libraries. */
  codecInfo(): { lz4: string; xxhash: string };
}

let codec: NativeCodecFunctions | undefined;

/** The batch codec functions of the addon (loads it on first use). */
export function nativeCodec(): NativeCodecFunctions {
  // native/addon.cc registers these beside the NativeModule members (InitCodecBatch).
  codec ??= native() as NativeModule & NativeCodecFunctions;
  return codec;
}
