import { describe, expect, it } from 'vitest';
import { analyzeBlocks, FLAG_DUPLICATE, FLAG_ZERO } from '../../../bench/engine/analyze.js';
import {
  modelVdo,
  oracleBytes,
  VDO_DATA_BYTES,
  VDO_FRAGMENT_BYTES_MAX,
  VdoPacker,
  type VdoModelResult,
} from '../../../bench/engine/vdo-model.js';
import { Prng } from '../../../bench/corpus/prng.js';

function packSizes(sizes: number[], binCount = 16): VdoPacker {
  const p = new VdoPacker(binCount);
  for (const s of sizes) p.attempt(s);
  p.flush();
  return p;
}

/** A stream of hand-set blocks: per block its lz4 size, or 'zero' / 'dup'. */
function modelOf(entries: (number | 'zero' | 'dup')[]): VdoModelResult {
  const flags = new Uint8Array(entries.length);
  const lz4Bytes = new Int32Array(entries.length);
  entries.forEach((e, i) => {
    if (e === 'zero') flags[i] = FLAG_ZERO;
    else if (e === 'dup') flags[i] = FLAG_DUPLICATE;
    else lz4Bytes[i] = e;
  });
  return modelVdo({ blockCount: entries.length, flags, lz4Bytes, firstCopy: new Int32Array(entries.length) });
}

describe('VDO packer model', () => {
  it('has the dm-vdo constants', () => {
    expect(VDO_DATA_BYTES).toBe(4060);
    expect(VDO_FRAGMENT_BYTES_MAX).toBe(4059);
  });

  it('packs at most 14 fragments per block', () => {
    const p = packSizes(Array(28).fill(10));
    expect(p.counts).toEqual({ compressedBlocks: 2, packedFragments: 28, rawFragments: 0 });
    const q = packSizes(Array(15).fill(10));
    // The 15th sits alone in a bin at the flush: nothing to pair with, so raw.
    expect(q.counts).toEqual({ compressedBlocks: 1, packedFragments: 14, rawFragments: 1 });
  });

  it('fills 4,060 payload bytes exactly, and never more', () => {
    const exact = packSizes([2030, 2030]);
    expect(exact.counts).toEqual({ compressedBlocks: 1, packedFragments: 2, rawFragments: 0 });
    // 2030 + 2031 > 4060: with one bin the second overflows it; the first,
    // alone, is written raw, the second waits and is flushed alone: raw too.
    const over = packSizes([2030, 2031], 1);
    expect(over.counts).toEqual({ compressedBlocks: 0, packedFragments: 0, rawFragments: 2 });
    // With 16 bins they go to separate bins and never pair.
    expect(packSizes([2030, 2031]).counts.compressedBlocks).toBe(0);
  });

  it('uses first best fit: the fullest bin that still has room', () => {
    // 3000 and 2000 open two bins; 1000 fits only the 3000 bin... and fills
    // 4000 of 4060; then 1060 fits the 2000 bin; 60 fits the 4000 bin exactly.
    const p = packSizes([3000, 2000, 1000, 1060, 60]);
    expect(p.counts).toEqual({ compressedBlocks: 2, packedFragments: 5, rawFragments: 0 });
  });

  it('writes a fragment raw when no bin fits and it is bigger than the fullest bin holds', () => {
    const p = new VdoPacker(1);
    p.attempt(100);
    p.attempt(4059); // 4059 >= 4060 - (4060 - 100) = 100: abort packing, raw
    expect(p.counts.rawFragments).toBe(1);
    expect(p.pendingFragments()).toBe(1);
    p.attempt(3000); // fits beside the 100
    p.flush();
    expect(p.counts).toEqual({ compressedBlocks: 1, packedFragments: 2, rawFragments: 1 });
  });

  it('stores zero blocks free, duplicates once, and big fragments raw', () => {
    const r = modelOf(['zero', 'zero', 1000, 'dup', 'dup', 1000, 4059, 4060, 4100, 'zero']);
    expect(r.zeroBlocks).toBe(3);
    expect(r.duplicateBlocks).toBe(2);
    expect(r.incompressibleBlocks).toBe(2); // 4060 and 4100 never reach the packer
    // 1000 + 1000 pair; 4059 cannot pair with anything: raw.
    expect(r.compressedBlocks).toBe(1);
    expect(r.rawBlocks).toBe(3);
    expect(r.physicalBytes).toBe(4 * 4096);
    expect(r.ratio).toBeCloseTo(10 / 4);
  });

  it('deduplicates exact contents from real blocks', () => {
    const prng = new Prng(3);
    const a = Buffer.alloc(4096);
    prng.fill(a, 0, 1000); // compressible: 3 KiB of zeros
    const b = Buffer.from(a);
    b[0] ^= 1; // differs by one bit: not a duplicate
    const data = Buffer.concat([a, Buffer.alloc(4096), b, a, a, Buffer.alloc(4096, 9)]);
    const analysis = analyzeBlocks(data);
    expect(Array.from(analysis.firstCopy)).toEqual([0, 1, 2, 0, 0, 5]);
    const r = modelVdo(analysis);
    expect(r.zeroBlocks).toBe(1);
    expect(r.duplicateBlocks).toBe(2);
    // a, b and the 0x09-filled block are unique: three fragments in one block.
    expect(r.compressedBlocks).toBe(1);
    expect(r.packedFragments).toBe(3);
    expect(r.rawBlocks).toBe(0);
    // The oracle stores a and b as their lz4 bytes; zero and 0x09 fill cost nothing.
    const lz4 = analysis.lz4Bytes;
    expect(oracleBytes(analysis)).toBe(lz4[0] + lz4[2]);
    expect(lz4[0]).toBeGreaterThan(1000);
    expect(lz4[0]).toBeLessThan(1100);
  });

  it('bills incompressible blocks a full 4 KiB in the oracle', () => {
    const data = Buffer.alloc(4096);
    new Prng(4).fill(data);
    const analysis = analyzeBlocks(data);
    expect(analysis.lz4Bytes[0]).toBeGreaterThan(4096);
    expect(oracleBytes(analysis)).toBe(4096);
    expect(modelVdo(analysis).incompressibleBlocks).toBe(1);
  });
});
