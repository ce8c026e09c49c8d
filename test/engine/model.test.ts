// Random workloads against an in-memory reference model, every read checked:
// writes (multi-block, FUA), overwrites, discards and write-zeroes (short and
// long ranges), flushes, reopen and compaction; over the simulated stores for
// many seeds and over a real file + classic-level for one.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { auditPool, checkPool, formatEngine, formatPool, openEngine, openPool, type BlockEngine } from '../../src/engine/index.js';
import { MemMetaStore } from '../../src/testing/mem-store.js';
import { SimDisk } from '../../src/testing/sim-disk.js';
import { BLOCK_BYTES } from '../../src/util/units.js';
import { Model, randInt, rng, Workload } from './helpers.js';

const LOGICAL_BLOCKS = 1024;
const SEGMENT_BYTES = 64 * 1024;

interface Harness {
  engine: BlockEngine;
  reopen(): Promise<void>;
}

async function checkRange(e: BlockEngine, m: Model, lba: number, blocks: number): Promise<void> {
  const out = Buffer.alloc(blocks * BLOCK_BYTES);
  await e.read(lba, blocks, out);
  for (let i = 0; i < blocks; i++) {
    const ok = out.subarray(i * BLOCK_BYTES, (i + 1) * BLOCK_BYTES).equals(m.get(lba + i));
    if (!ok) throw new Error(`lba ${lba + i} reads wrong content`);
  }
}

async function workload(h: Harness, seed: number, ops: number, dedupePct: number, compressPct: number): Promise<void> {
  const r = rng(seed);
  const w = new Workload(r, dedupePct, compressPct);
  const m = new Model();
  for (let i = 0; i < ops; i++) {
    const x = r();
    const blocks = 1 + randInt(r, 32);
    const lba = randInt(r, LOGICAL_BLOCKS - blocks);
    if (x < 0.55) {
      const data = Buffer.concat(Array.from({ length: blocks }, () => w.next()));
      await h.engine.write(lba, blocks, data, r() < 0.05);
      m.write(lba, data);
    } else if (x < 0.63) {
      const n = r() < 0.4 ? 200 + randInt(r, 600) : blocks;
      const at = randInt(r, LOGICAL_BLOCKS - n);
      if (r() < 0.5) await h.engine.discard(at, n);
      else await h.engine.writeZeroes(at, n, r() < 0.5);
      m.unmap(at, n);
    } else if (x < 0.68) {
      await h.engine.flush();
    } else if (x < 0.70) {
      await h.reopen();
    } else if (x < 0.73) {
      await h.engine.compact({ liveFraction: 0.7 });
    } else {
      await checkRange(h.engine, m, lba, blocks);
    }
  }
  await checkRange(h.engine, m, 0, LOGICAL_BLOCKS);
  await h.reopen();
  await checkRange(h.engine, m, 0, LOGICAL_BLOCKS);
}

async function simHarness(cacheMib?: number): Promise<Harness & { disk: SimDisk; meta: MemMetaStore }> {
  const disk = new SimDisk(4096 + 96 * SEGMENT_BYTES);
  const meta = new MemMetaStore();
  const opts = { flushDelayMs: 0, backgroundCompaction: false, commitRecordsMax: 200, cacheMib };
  const h = {
    disk,
    meta,
    engine: await formatEngine(disk, meta, { logicalBytes: LOGICAL_BLOCKS * BLOCK_BYTES, segmentBytes: SEGMENT_BYTES, ...opts }),
    async reopen() {
      await h.engine.close();
      h.engine = await openEngine(disk, meta, opts);
    },
  };
  return h;
}

describe('engine against a reference model (simulated stores)', () => {
  for (const [dedupe, compress] of [[0, 0], [45, 60], [90, 90], [20, 30]]) {
    it(`dedupe ${dedupe}% compress ${compress}%`, async () => {
      for (let seed = 1; seed <= 3; seed++) {
        const h = await simHarness();
        await workload(h, seed * 100 + dedupe, 400, dedupe, compress);
        const audit = await auditPool(h.disk, h.meta);
        expect(audit.problems).toEqual([]);
        expect(audit.counts.mappedBlocks).toBe(h.engine.stats().mappedBlocks);
        await h.engine.close();
      }
    });
  }
});

describe('engine against a reference model, metadata cache far smaller than the working set', () => {
  for (const [dedupe, compress] of [[45, 60], [90, 90]]) {
    it(`dedupe ${dedupe}% compress ${compress}%, ~2 KiB of cache for 1024 LBAs`, async () => {
      for (let seed = 1; seed <= 3; seed++) {
        const h = await simHarness(2 / 1024);
        await workload(h, seed * 100 + dedupe + 7, 400, dedupe, compress);
        const audit = await auditPool(h.disk, h.meta);
        expect(audit.problems).toEqual([]);
        const cache = h.engine.stats().cache;
        expect(cache.evictions, 'records were evicted').toBeGreaterThan(0);
        expect(cache.hits, 'records were paged in and then hit').toBeGreaterThan(0);
        await h.engine.close();
      }
    });
  }
});

describe('engine on a real file and classic-level', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'uc-engine-'));
  afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

  it('random workload, reopen, checkPool clean', async () => {
    const backingPath = path.join(dir, 'pool.img');
    const opts = { flushDelayMs: 5, commitRecordsMax: 300 };
    const h: Harness = {
      engine: await formatPool({ backingPath, logicalBytes: LOGICAL_BLOCKS * BLOCK_BYTES, segmentBytes: SEGMENT_BYTES, ...opts }),
      async reopen() {
        await h.engine.close();
        h.engine = await openPool({ backingPath, ...opts });
      },
    };
    await workload(h, 7, 500, 40, 60);
    await h.engine.close();
    const report = await checkPool({ backingPath });
    expect(report.problems).toEqual([]);
    expect(report.clean).toBe(true);
    expect(report.counts.mappedBlocks).toBeGreaterThan(0);
  }, 180_000); // ~30 s on an idle 2-core box; each reopen and check now validates on a metadata clone
});
