import { compressSync } from 'lz4-napi';
import { describe, expect, it } from 'vitest';
import {
  fillCompressible,
  generateSynthetic,
  syntheticMatrix,
} from '../../../bench/corpus/synthetic.js';
import { Prng } from '../../../bench/corpus/prng.js';
import { analyzeBlocks, summarize } from '../../../bench/engine/analyze.js';

const BLOCKS = 2000;

describe('fio-like synthetic generator', () => {
  it('is deterministic per seed', () => {
    const spec = { blockCount: 64, dedupePercent: 45, compressPercent: 60, seed: 9 };
    expect(generateSynthetic(spec).equals(generateSynthetic(spec))).toBe(true);
    expect(generateSynthetic({ ...spec, seed: 10 }).equals(generateSynthetic(spec))).toBe(false);
  });

  it('fills each 512-byte chunk with (100 - c)% random bytes then zeros', () => {
    const block = Buffer.alloc(4096, 0xff);
    fillCompressible(new Prng(1), block, 60);
    for (let at = 0; at < 4096; at += 512) {
      const randomPart = block.subarray(at, at + 204);
      expect(randomPart.filter((b) => b === 0).length).toBeLessThan(10);
      expect(block.subarray(at + 204, at + 512).every((b) => b === 0)).toBe(true);
    }
  });

  for (const cell of syntheticMatrix(BLOCKS, 1)) {
    const name = `d${cell.dedupePercent} c${cell.compressPercent}`;
    it(`${name}: measured dedupe and compressibility are near the request`, () => {
      const data = generateSynthetic(cell);
      const s = summarize(analyzeBlocks(data));
      // Binomial spread over 2000 draws: 3 points is > 4 sigma.
      expect(Math.abs((100 * s.duplicateBlocks) / BLOCKS - cell.dedupePercent)).toBeLessThan(3.5);
      let compressed = 0;
      let uniques = 0;
      const seen = new Set<string>();
      for (let i = 0; i < BLOCKS; i += 1) {
        const block = data.subarray(i * 4096, (i + 1) * 4096);
        const key = block.toString('base64');
        if (seen.has(key)) continue;
        seen.add(key);
        uniques += 1;
        compressed += Math.min(4096, compressSync(block).length - 4);
      }
      const savedPercent = 100 * (1 - compressed / (uniques * 4096));
      // lz4 cannot compress random bytes; its framing costs a few percent.
      expect(savedPercent).toBeGreaterThan(cell.compressPercent - 5);
      expect(savedPercent).toBeLessThanOrEqual(cell.compressPercent + 0.5);
    });
  }
});
