// Shared helpers for engine tests: a seeded PRNG, block generators with a given
// compressibility, and an in-memory reference model of the device.
import { BLOCK_BYTES } from '../../src/util/units.js';

/** mulberry32: small, fast, seedable. */
export function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export function randInt(r: () => number, n: number): number {
  return Math.floor(r() * n);
}

/** A block whose first `compressiblePct`% repeats a short text, the rest random;
 * its first 8 bytes hold `tag` so every generated block differs. */
export function makeBlock(r: () => number, compressiblePct: number, tag: number): Buffer {
  const b = Buffer.allocUnsafe(BLOCK_BYTES);
  const split = Math.floor((BLOCK_BYTES * compressiblePct) / 100);
  const text = 'ublk-compress block ' + (tag % 97);
  for (let i = 0; i < split; i++) b[i] = text.charCodeAt(i % text.length);
  for (let i = split; i < BLOCK_BYTES; i++) b[i] = (r() * 256) & 0xff;
  b.writeUInt32BE(tag >>> 0, 0);
  b.writeUInt32BE(0xc0ffee, 4);
  return b;
}

export function fillBlock(pattern: bigint): Buffer {
  const b = Buffer.allocUnsafe(BLOCK_BYTES);
  for (let i = 0; i < BLOCK_BYTES; i += 8) b.writeBigUInt64BE(pattern, i);
  return b;
}

export const ZERO_BLOCK = Buffer.alloc(BLOCK_BYTES);

/** Content generator for the dedupe x compressibility matrix. */
export class Workload {
  private readonly pool: Buffer[] = [];
  private tag = 1;
  constructor(
    private readonly r: () => number,
    readonly dedupePct: number,
    readonly compressPct: number,
  ) {}

  next(): Buffer {
    const x = this.r();
    if (x < 0.05) return ZERO_BLOCK;
    if (x < 0.08) return fillBlock(0x0102030405060708n + BigInt(randInt(this.r, 3)));
    if (this.pool.length > 0 && this.r() * 100 < this.dedupePct) return this.pool[randInt(this.r, this.pool.length)];
    const b = makeBlock(this.r, this.compressPct, this.tag++);
    if (this.pool.length < 64) this.pool.push(b);
    else this.pool[randInt(this.r, 64)] = b;
    return b;
  }
}

/** Reference model: the current content of each written LBA (absent = zeros). */
export class Model {
  readonly blocks = new Map<number, Buffer>();
  write(lba: number, data: Buffer): void {
    for (let i = 0; i * BLOCK_BYTES < data.length; i++) this.blocks.set(lba + i, Buffer.from(data.subarray(i * BLOCK_BYTES, (i + 1) * BLOCK_BYTES)));
  }
  unmap(lba: number, blocks: number): void {
    for (let i = 0; i < blocks; i++) this.blocks.delete(lba + i);
  }
  get(lba: number): Buffer {
    return this.blocks.get(lba) ?? ZERO_BLOCK;
  }
}
