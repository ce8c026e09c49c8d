// Seeded pseudo-random numbers for the benchmark corpora. xoshiro128** (32-bit
// state words, fast in plain JS) seeded through splitmix32, so a seed gives the
// same stream on every machine and every run: runs stay comparable.
import assert from 'node:assert';

function splitmix32(state: number): [number, number] {
  let z = (state + 0x9e3779b9) | 0;
  const next = z;
  z = Math.imul(z ^ (z >>> 16), 0x85ebca6b);
  z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35);
  return [next, (z ^ (z >>> 16)) >>> 0];
}

export class Prng {
  private s0: number;
  private s1: number;
  private s2: number;
  private s3: number;

  constructor(seed: number) {
    assert(Number.isSafeInteger(seed), 'seed must be an integer');
    let state = (seed ^ Math.floor(seed / 2 ** 32)) | 0;
    const words: number[] = [];
    for (let i = 0; i < 4; i += 1) {
      const [next, out] = splitmix32(state);
      state = next;
      words.push(out | 0);
    }
    [this.s0, this.s1, this.s2, this.s3] = words as [number, number, number, number];
    // An all-zero state would emit zeros forever.
    if ((this.s0 | this.s1 | this.s2 | this.s3) === 0) this.s0 = 1;
  }

  /** Next uniformly distributed unsigned 32-bit integer. */
  nextU32(): number {
    const result = Math.imul(rotl(Math.imul(this.s1, 5), 7), 9);
    const t = this.s1 << 9;
    this.s2 ^= this.s0;
    this.s3 ^= this.s1;
    this.s1 ^= this.s2;
    this.s0 ^= this.s3;
    this.s2 ^= t;
    this.s3 = rotl(this.s3, 11);
    return result >>> 0;
  }

  /** Integer in [lo, hi], both inclusive (fio's rand_between). */
  between(lo: number, hi: number): number {
    assert(Number.isSafeInteger(lo) && Number.isSafeInteger(hi) && lo <= hi);
    const span = hi - lo + 1;
    assert(span <= 2 ** 32);
    return lo + Math.floor((this.nextU32() / 2 ** 32) * span);
  }

  /** Fills `target[offset, offset + length)` with random bytes. */
  fill(target: Uint8Array, offset = 0, length = target.length - offset): void {
    assert(offset >= 0 && length >= 0 && offset + length <= target.length);
    let i = offset;
    const end = offset + length;
    // Whole 32-bit words through an aligned view when possible: 4x fewer calls.
    const absolute = target.byteOffset + i;
    if (absolute % 4 === 0 && end - i >= 4) {
      const words = Math.floor((end - i) / 4);
      const view = new Uint32Array(target.buffer, absolute, words);
      for (let w = 0; w < words; w += 1) view[w] = this.nextU32();
      i += words * 4;
    }
    while (i < end) {
      let word = this.nextU32();
      for (let k = 0; k < 4 && i < end; k += 1, i += 1) {
        target[i] = word & 0xff;
        word >>>= 8;
      }
    }
  }
}

function rotl(x: number, k: number): number {
  return (x << k) | (x >>> (32 - k));
}
