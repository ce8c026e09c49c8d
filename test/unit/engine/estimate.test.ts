// The estimator against the engine itself: the same blocks written to a real
// BlockEngine (SimDisk + in-memory metadata) occupy exactly the fragment
// bytes the estimator predicts, with the same dedup and same-fill counts.
import { describe, expect, it } from 'vitest';
import { Estimator, formatEngine, predict } from '../../../src/engine/index.js';
import { MemMetaStore } from '../../../src/testing/mem-store.js';
import { SimDisk } from '../../../src/testing/sim-disk.js';
import { fillBlock, makeBlock, rng, ZERO_BLOCK } from '../../engine/helpers.js';

function workload(): Buffer {
  const r = rng(7);
  const blocks: Buffer[] = [];
  for (let i = 0; i < 300; i += 1) blocks.push(makeBlock(r, [0, 30, 60, 95][i % 4], i));
  for (let i = 0; i < 100; i += 1) blocks.push(blocks[i * 2]); // duplicates
  for (let i = 0; i < 40; i += 1) blocks.push(i % 2 ? ZERO_BLOCK : fillBlock(0x0102030405060708n));
  return Buffer.concat(blocks);
}

describe('Estimator', () => {
  it('predicts the fragment bytes, dedup hits and same-fill blocks the engine really has', async () => {
    const data = workload();
    const est = new Estimator({ compression: 'lz4', dedup: true });
    est.add(data.subarray(0, 100 * 4096));
    est.add(data.subarray(100 * 4096));
    const t = est.totals();
    expect(t).toMatchObject({ blocks: 440, sameFillBlocks: 40, dedupBlocks: 100, uniqueBlocks: 300 });
    expect(t.compressedBlocks + t.rawBlocks).toBe(300);
    expect(t.rawBlocks).toBeGreaterThan(0);
    expect(t.compressedBlocks).toBeGreaterThan(0);

    const engine = await formatEngine(new SimDisk(4096 + 64 * 65536), new MemMetaStore(), {
      logicalBytes: 1024 * 4096, segmentBytes: 65536, flushDelayMs: 0, backgroundCompaction: false, dedup: 'on', compression: 'lz4',
    });
    try {
      await engine.write(0, 440, data, false);
      await engine.flush();
      const s = engine.stats();
      expect(s.liveBytes).toBe(t.storedBytes);
      expect(s.dedupHits).toBe(t.dedupBlocks);
      expect(s.sameFillBlocks).toBe(t.sameFillBlocks);
    } finally {
      await engine.close();
    }

    const p = predict(t);
    expect(p.dedupShare).toBeCloseTo(100 / 400);
    expect(p.sameFillShare).toBeCloseTo(40 / 440);
    expect(p.ratio).toBeCloseTo((440 * 4096) / t.storedBytes);
    expect(p.poolBytes).toBe(4 * 1024 * 1024 * Math.ceil(t.storedBytes / (4 * 1024 * 1024 - 4112)));
  });

  it('without dedup every non-fill block is stored; with no compression every one raw', () => {
    const data = workload();
    const plain = new Estimator({ compression: 'none', dedup: false });
    plain.add(data);
    expect(plain.totals()).toMatchObject({ blocks: 440, sameFillBlocks: 40, dedupBlocks: 0, uniqueBlocks: 400, rawBlocks: 400, storedBytes: 400 * 4112 });
  });

  it('pads a partial last block with zeros', () => {
    const e = new Estimator();
    e.add(Buffer.alloc(4096 + 10, 0x61));
    expect(e.totals()).toMatchObject({ blocks: 2, sameFillBlocks: 1, uniqueBlocks: 1 });
  });
});
