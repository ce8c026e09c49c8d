// The engine's cumulative counters: one list (COUNTER_NAMES), persisted in the
// C record with every commit and at close, so totals survive close/reopen;
// the since-open figures start at zero in every run.
import { describe, expect, it } from 'vitest';
import { COUNTER_NAMES, formatEngine, openEngine, zeroCounters } from '../../../src/engine/index.js';
import { decodeCounters } from '../../../src/engine/counters.js';
import { KEY_C } from '../../../src/meta/keys.js';
import { encodeCounterRecord } from '../../../src/meta/records.js';
import { MemMetaStore } from '../../../src/testing/mem-store.js';
import { SimDisk } from '../../../src/testing/sim-disk.js';
import { BLOCK_BYTES } from '../../../src/util/units.js';

const SEG = 65536;
const OPTS = { flushDelayMs: 0, backgroundCompaction: false } as const;
const FMT = { logicalBytes: 256 * BLOCK_BYTES, segmentBytes: SEG, ...OPTS };

function blocks(n: number, fill: (i: number) => number): Buffer {
  const b = Buffer.alloc(n * BLOCK_BYTES);
  for (let i = 0; i < b.length; i++) b[i] = fill(i);
  return b;
}

describe('engine counters', () => {
  it('survive close and reopen, and count only this run since open', async () => {
    const disk = new SimDisk(4096 + 16 * SEG);
    const meta = new MemMetaStore();
    const e = await formatEngine(disk, meta, FMT);
    expect(decodeCounters(meta.getSync(KEY_C)!)).toEqual(zeroCounters()); // a fresh pool has its record
    const data = blocks(4, (i) => (i * 7919) % 251);
    await e.write(0, 4, data, false); // 4 new extents
    await e.write(4, 4, data, false); // 4 dedup hits
    await e.write(8, 2, Buffer.alloc(2 * BLOCK_BYTES), true); // 2 same-fill
    await e.read(0, 10, Buffer.alloc(10 * BLOCK_BYTES));
    await e.close();
    const e2 = await openEngine(disk, meta, OPTS);
    const s = e2.stats();
    expect(s.blocksWritten).toBe(0);
    expect(s.totals).toMatchObject({ blocksWritten: 10, dedupHits: 4, sameFillBlocks: 2, blocksRead: 10 });
    expect(s.totals.compressedBlocks + s.totals.rawBlocks).toBe(4);
    await e2.read(0, 3, Buffer.alloc(3 * BLOCK_BYTES)); // reads alone are persisted at close
    await e2.close();
    const e3 = await openEngine(disk, meta, OPTS);
    expect(e3.stats().totals.blocksRead).toBe(13);
    expect(e3.stats().totals.commits).toBeGreaterThan(0);
    await e3.close();
  });

  it('reads a shorter record (an older list) as its prefix and keeps the rest at zero', async () => {
    const disk = new SimDisk(4096 + 16 * SEG);
    const meta = new MemMetaStore();
    const e = await formatEngine(disk, meta, FMT);
    await e.close();
    await meta.batch([{ type: 'put', key: KEY_C, value: encodeCounterRecord([5, 6]) }], true);
    const e2 = await openEngine(disk, meta, OPTS);
    expect(e2.stats().totals).toEqual({ ...zeroCounters(), blocksWritten: 5, blocksRead: 6 });
    await e2.close();
    expect(COUNTER_NAMES.slice(0, 2)).toEqual(['blocksWritten', 'blocksRead']); // the record's order is fixed
  });

  it('refuses a damaged record', async () => {
    const disk = new SimDisk(4096 + 16 * SEG);
    const meta = new MemMetaStore();
    const e = await formatEngine(disk, meta, FMT);
    await e.close();
    await meta.batch([{ type: 'put', key: KEY_C, value: Buffer.from([0, 3, 1]) }], true);
    await expect(openEngine(disk, meta, OPTS)).rejects.toMatchObject({ code: 'UC_META_CORRUPT' });
  });
});
