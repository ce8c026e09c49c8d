// Same-fill detection: a block that is one 8-byte pattern repeated (zeros
// included) is stored as the pattern alone, like zram's same_pages.
import assert from 'node:assert';
import { BLOCK_BYTES } from '../util/units.js';

export const FILL_PATTERN_BYTES = 8;

/** True when block[off..off+4096) repeats its first 8 bytes. One memcmp: a block has
 * period 8 exactly when it equals itself shifted by 8 bytes. */
export function isSameFill(buf: Buffer, off: number): boolean {
  assert(off + BLOCK_BYTES <= buf.length);
  return buf.compare(buf, off + FILL_PATTERN_BYTES, off + BLOCK_BYTES, off, off + BLOCK_BYTES - 8) === 0;
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
