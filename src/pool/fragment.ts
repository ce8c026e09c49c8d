// Fragment layout inside a segment. Each stored block is a 16-byte header then
// its payload, padded to 16 bytes; fragments never cross a segment boundary.
// The header lets the compactor and `check` walk a segment without a reverse index.
//
// offset size field
//   0     2    magic 0x5546 ("UF")
//   2     1    codec id
//   3     1    reserved, zero
//   4     2    stored payload length (u16 BE, 1..4096)
//   6     2    reserved, zero
//   8     8    extent id (u64 BE)
import assert from 'node:assert';
import { BLOCK_BYTES } from '../util/units.js';
import { FRAGMENT_ALIGN_BYTES } from '../util/limits.js';

export const FRAGMENT_HEADER_BYTES = 16;
export const FRAGMENT_MAGIC = 0x5546;
/** Largest fragment: a raw block plus its header. */
export const FRAGMENT_BYTES_MAX = FRAGMENT_HEADER_BYTES + BLOCK_BYTES;

/** Space a fragment with this payload occupies in a segment. */
export function fragmentBytes(storedBytes: number): number {
  const n = FRAGMENT_HEADER_BYTES + storedBytes;
  return Math.ceil(n / FRAGMENT_ALIGN_BYTES) * FRAGMENT_ALIGN_BYTES;
}

export function writeFragmentHeader(buf: Buffer, off: number, codecId: number, storedBytes: number, extentId: number): void {
  assert(storedBytes > 0 && storedBytes <= BLOCK_BYTES);
  assert(off % FRAGMENT_ALIGN_BYTES === 0);
  buf.writeUInt16BE(FRAGMENT_MAGIC, off);
  buf.writeUInt8(codecId, off + 2);
  buf.writeUInt8(0, off + 3);
  buf.writeUInt16BE(storedBytes, off + 4);
  buf.writeUInt16BE(0, off + 6);
  buf.writeUInt32BE(Math.floor(extentId / 0x1_0000_0000), off + 8);
  buf.writeUInt32BE(extentId >>> 0, off + 12);
}

export interface FragmentHeader {
  codecId: number;
  storedBytes: number;
  extentId: number;
}

/** Parses a header; undefined when the bytes are not a fragment header. */
export function readFragmentHeader(buf: Buffer, off: number): FragmentHeader | undefined {
  if (off + FRAGMENT_HEADER_BYTES > buf.length) return undefined;
  if (buf.readUInt16BE(off) !== FRAGMENT_MAGIC) return undefined;
  const storedBytes = buf.readUInt16BE(off + 4);
  if (storedBytes === 0 || storedBytes > BLOCK_BYTES) return undefined;
  return {
    codecId: buf.readUInt8(off + 2),
    storedBytes,
    extentId: buf.readUInt32BE(off + 8) * 0x1_0000_0000 + buf.readUInt32BE(off + 12),
  };
}
