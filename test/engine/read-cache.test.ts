// The read cache (src/engine/read-cache.ts) inside the engine: segments freed
// and reused while their fragments were cached must never be served from the
// cache, bytes that fail read verification are not kept, and a cache far
// smaller than the working set (constant eviction) still reads every block
// right. The crash simulation runs with the cache too (crash.test.ts).
import { describe, expect, it } from 'vitest';
import { formatEngine, openEngine, type BlockEngine } from '../../src/engine/index.js';
import { MemMetaStore } from '../../src/testing/mem-store.js';
import { SimDisk } from '../../src/testing/sim-disk.js';
import { BLOCK_BYTES } from '../../src/util/units.js';
import { makeBlock, randInt, rng } from './helpers.js';

const SEGMENT_BYTES = 64 * 1024;
const OPTS = { flushDelayMs: 0, backgroundCompaction: false, dedup: 'off' } as const;

async function readAll(e: BlockEngine, model: Map<number, Buffer>, what: string): Promise<void> {
  for (const [lba, want] of model) {
    const out = Buffer.alloc(BLOCK_BYTES);
    await e.read(lba, 1, out);
    expect(out.equals(want), `${what}: lba ${lba}`).toBe(true);
  }
}

describe('engine read cache', () => {
  it('never serves bytes of a segment that was freed and reused', async () => {
    // 10 segments of 15 incompressible fragments: every round frees the 2 segments
    // the previous round filled, and later rounds must reuse them.
    const disk = new SimDisk(4096 + 10 * SEGMENT_BYTES);
    const e = await formatEngine(disk, new MemMetaStore(), { logicalBytes: 30 * BLOCK_BYTES, segmentBytes: SEGMENT_BYTES, ...OPTS });
    const r = rng(7);
    const model = new Map<number, Buffer>();
    let tag = 1;
    for (let round = 0; round < 24; round++) {
      const data = Array.from({ length: 30 }, () => makeBlock(r, 0, tag++));
      await e.write(0, 30, Buffer.concat(data), false);
      data.forEach((b, k) => model.set(k, b));
      await e.flush(); // frees the last round's segments; the next rounds reuse them
      await readAll(e, model, `round ${round}, first read`);
      await readAll(e, model, `round ${round}, from the cache`);
    }
    const s = e.stats();
    expect(s.readVerifyFailures).toBe(0);
    // Each round: 15 fragments in the pool (the open segment is read from RAM).
    expect(s.readCache.fills).toBeGreaterThanOrEqual(24 * 15);
    expect(s.readCache.hits).toBeGreaterThanOrEqual(24 * 15);
    await e.close();
  });

  it('does not keep a fragment that failed verification, and serves verified bytes after', async () => {
    const disk = new SimDisk(4096 + 8 * SEGMENT_BYTES);
    const meta = new MemMetaStore();
    let e = await formatEngine(disk, meta, { logicalBytes: 16 * BLOCK_BYTES, segmentBytes: SEGMENT_BYTES, ...OPTS });
    const r = rng(3);
    const block = makeBlock(r, 0, 1);
    await e.write(0, 1, block, false);
    await e.close();
    e = await openEngine(disk, meta, OPTS);
    // Segment 0's first fragment: a 16-byte header, then the raw block.
    const at = 4096 + 16 + 100;
    const good = Buffer.alloc(1);
    await disk.pread(good, 0, 1, at);
    await disk.pwrite(Buffer.from([good[0] ^ 0xff]), 0, 1, at);
    const out = Buffer.alloc(BLOCK_BYTES);
    await expect(e.read(0, 1, out)).rejects.toMatchObject({ code: 'UC_POOL_CORRUPT' });
    await disk.pwrite(good, 0, 1, at); // repaired: the next read fetches it again
    await e.read(0, 1, out);
    expect(out.equals(block)).toBe(true);
    await disk.pwrite(Buffer.from([good[0] ^ 0xff]), 0, 1, at); // damaged again: the verified copy is served
    await e.read(0, 1, out);
    expect(out.equals(block)).toBe(true);
    expect(e.stats().readCache.hits).toBe(1);
    expect(e.stats().readVerifyFailures).toBe(1);
    await e.close();
  });

  it('reads right under constant eviction, with concurrent reads pinning every slot', async () => {
    const disk = new SimDisk(4096 + 24 * SEGMENT_BYTES);
    const opts = { ...OPTS, readCacheBytes: 2 * 4112 }; // two fragments
    const e = await formatEngine(disk, new MemMetaStore(), { logicalBytes: 128 * BLOCK_BYTES, segmentBytes: SEGMENT_BYTES, ...opts });
    const r = rng(11);
    const model = new Map<number, Buffer>();
    let tag = 1;
    for (let i = 0; i < 40; i++) {
      const n = 1 + randInt(r, 16);
      const lba = randInt(r, 128 - n);
      const data = Array.from({ length: n }, () => makeBlock(r, 60, tag++));
      await e.write(lba, n, Buffer.concat(data), false);
      data.forEach((b, k) => model.set(lba + k, b));
      if (i % 5 === 4) await e.flush();
    }
    await e.flush();
    for (let pass = 0; pass < 3; pass++) {
      const lbas = [...model.keys()];
      const outs = lbas.map(() => Buffer.alloc(3 * BLOCK_BYTES));
      // Many reads at once: most find both slots pinned and read uncached.
      await Promise.all(lbas.map((lba, k) => e.read(Math.min(lba, 125), 3, outs[k])));
      lbas.forEach((lba, k) => {
        const l = Math.min(lba, 125);
        for (let j = 0; j < 3; j++) {
          const want = model.get(l + j) ?? Buffer.alloc(BLOCK_BYTES);
          expect(outs[k].subarray(j * BLOCK_BYTES, (j + 1) * BLOCK_BYTES).equals(want), `pass ${pass} lba ${l + j}`).toBe(true);
        }
      });
      // One at a time, twice each: a fill, then (usually) a hit, evicting all along.
      for (const [lba, want] of model) {
        for (let twice = 0; twice < 2; twice++) {
          const out = Buffer.alloc(BLOCK_BYTES);
          await e.read(lba, 1, out);
          expect(out.equals(want), `pass ${pass} lba ${lba} alone`).toBe(true);
        }
      }
    }
    expect(e.stats().readCache.bytes).toBe(2 * 4112);
    expect(e.stats().readCache.fills).toBeGreaterThan(model.size);
    expect(e.stats().readCache.hits).toBeGreaterThan(model.size);
    expect(e.stats().readVerifyFailures).toBe(0);
    await e.close();
  });
});
