// Same-fill detection: a block that is one 8-byte pattern repeated (zeros
// included) is stored as the pattern alone, like zram's same_pages.
import assert from 'node:assert';
import { BLOCK_BYTES } from '../util/units.js';

export const FILL_PATTERN_BYTES = 8;

/** True when block[off..off+4096) repeats its first 8 bytes. A block has period 8
 * exactly when it equals itself shifted by 8 bytes: one memcmp (Buffer.equals on
 * views; compare() with offsets measured ~10x slower), after a 16-byte check that
 * rejects almost every data block at once. */
export function isSameFill(buf: Buffer, off: number): boolean {
  assert(off + BLOCK_BYTES <= buf.length);
  for (let i = 0; i < FILL_PATTERN_BYTES; i++) if (buf[off + i] !== buf[off + i + FILL_PATTERN_BYTES]) return false;
  const shifted = buf.subarray(off + FILL_PATTERN_BYTES, off + BLOCK_BYTES);
  return shifted.equals(buf.subarray(off, off + BLOCK_BYTES - FILL_PATTERN_BYTES));
}

/** True when the 8-byte pattern at pattern[0..8) is all zeros. */
export function isZeroPattern(pattern: Buffer): boolean {
  return pattern.readBigUInt64BE(0) === 0n;
}

/** Writes the pattern over out[off..off+4096). */
export function expandFill(pattern: Buffer, out: Buffer, off: number): void {
  assert.equal(pattern.length, FILL_PATTERN_BYTES);
  out.fill(pattern, off, off + BLOCK_BYTES);
}
