import { describe, expect, it } from 'vitest';
import { formatEngine, openEngine, auditPool } from '../../src/engine/index.js';
import { SimDisk } from '../../src/testing/sim-disk.js';
import { MemMetaStore } from '../../src/testing/mem-store.js';
import { makeBlock, rng } from './helpers.js';

describe('engine smoke', () => {
  it('writes, reads, reopens', async () => {
    const disk = new SimDisk(4096 + 64 * 65536);
    const meta = new MemMetaStore();
    const e = await formatEngine(disk, meta, { logicalBytes: 1024 * 4096, segmentBytes: 65536, flushDelayMs: 0, backgroundCompaction: false });
    const r = rng(1);
    const data = Buffer.concat(Array.from({ length: 40 }, (_, i) => makeBlock(r, 50, i)));
    await e.write(10, 40, data, false);
    const out = Buffer.alloc(40 * 4096);
    await e.read(10, 40, out);
    expect(out.equals(data)).toBe(true);
    await e.flush();
    await e.read(10, 40, out);
    expect(out.equals(data)).toBe(true);
    await e.close();
    const e2 = await openEngine(disk, meta, { flushDelayMs: 0 });
    out.fill(1);
    await e2.read(10, 40, out);
    expect(out.equals(data)).toBe(true);
    const rep = await auditPool(disk, meta);
    expect(rep.problems).toEqual([]);
  });
});
