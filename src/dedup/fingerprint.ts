// Block fingerprints: XXH128 through xxhash-addon (0.6-0.8 µs per 4 KiB here).
// XXH128 is not collision-resistant against crafted data, so the default dedup
// mode byte-compares before sharing (docs/design.md, rule 5). Tests inject their own
// function to force collisions.
import assert from 'node:assert';
import xxhash from 'xxhash-addon';
import { FINGERPRINT_BYTES } from '../util/units.js';

export { FINGERPRINT_BYTES };

/** Returns a 16-byte fingerprint of a 4 KiB block (a fresh Buffer). */
export type FingerprintFn = (block: Buffer) => Buffer;

export const xxh128: FingerprintFn = (block) => {
  const fp = xxhash.XXHash128.hash(block);
  assert.equal(fp.length, FINGERPRINT_BYTES);
  return fp;
};
