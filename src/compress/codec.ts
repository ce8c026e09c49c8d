// Codec contract: a codec turns one 4 KiB block into a smaller payload and back.
// The codec id is recorded in every extent (and fragment header), so codecs can be
// added without a format change; ids are never reused.
import assert from 'node:assert';
import { BLOCK_BYTES } from '../util/units.js';
import { COMPRESSED_BYTES_MAX } from '../util/limits.js';

/** Stored as-is: the payload is the 4096-byte block. */
export const CODEC_RAW = 0;
/** A standard LZ4 block (no size prefix, no frame): decodable by liblz4 too. */
export const CODEC_LZ4 = 1;

export interface Codec {
  readonly id: number;
  readonly name: string;
  /** Returns the compressed payload (may be a view valid until the next call), or
   * undefined when the block does not compress. */
  compress(block: Buffer): Buffer | undefined;
  /** Decodes `payload` into out[outOffset .. outOffset+4096); throws on corrupt input. */
  decompress(payload: Buffer, out: Buffer, outOffset: number): void;
}

export interface StoredForm {
  codecId: number;
  payload: Buffer;
}

/** Compresses with `codec` and falls back to raw storage when the output is too big. */
export function encodeBlock(codec: Codec, block: Buffer): StoredForm {
  assert.equal(block.length, BLOCK_BYTES);
  const payload = codec.compress(block);
  if (payload !== undefined && payload.length <= COMPRESSED_BYTES_MAX) {
    return { codecId: codec.id, payload };
  }
  return { codecId: CODEC_RAW, payload: block };
}
