// Rule 5: a fingerprint match is not enough in verify mode. Two different blocks
// forced to the same fingerprint must both read back intact, across a flush and
// a reopen (candidate then read from the pool, not from RAM).
import { describe, expect, it } from 'vitest';
import { auditPool, formatEngine, openEngine } from '../../../src/engine/index.js';
import { MemMetaStore } from '../../../src/testing/mem-store.js';
import { SimDisk } from '../../../src/testing/sim-disk.js';
import { BLOCK_BYTES } from '../../../src/util/units.js';

const CONSTANT_FP = (): Buffer => Buffer.alloc(16, 0xab);

function block(seed: number): Buffer {
  const b = Buffer.alloc(BLOCK_BYTES);
  for (let i = 0; i < BLOCK_BYTES; i++) b[i] = (i * seed + (i >> 3)) & 0xff;
  return b;
}

describe('hash collisions in verify mode', () => {
  it('keeps colliding blocks apart and still dedups true duplicates', async () => {
    const disk = new SimDisk(4096 + 16 * 65536);
    const meta = new MemMetaStore();
    const opts = { fingerprint: CONSTANT_FP, dedup: 'verify' as const, flushDelayMs: 0, backgroundCompaction: false };
    let e = await formatEngine(disk, meta, { logicalBytes: 64 * BLOCK_BYTES, segmentBytes: 65536, ...opts });
    const a = block(3);
    const b = block(5);
    await e.write(0, 2, Buffer.concat([a, b]), false); // same batch: candidate in RAM
    await e.flush();
    await e.close();
    e = await openEngine(disk, meta, opts);
    await e.write(2, 1, b, false); // candidate read back from the pool
    await e.write(3, 1, a, false); // a real duplicate of the indexed block
    const out = Buffer.alloc(4 * BLOCK_BYTES);
    await e.read(0, 4, out);
    expect(out.subarray(0, BLOCK_BYTES).equals(a)).toBe(true);
    expect(out.subarray(BLOCK_BYTES, 2 * BLOCK_BYTES).equals(b)).toBe(true);
    expect(out.subarray(2 * BLOCK_BYTES, 3 * BLOCK_BYTES).equals(b)).toBe(true);
    expect(out.subarray(3 * BLOCK_BYTES).equals(a)).toBe(true);
    const s = e.stats();
    expect(s.fingerprintCollisions).toBe(1);
    expect(s.dedupHits).toBe(1);
    expect(s.extents).toBe(3);
    await e.close();
    expect((await auditPool(disk, meta, { fingerprint: CONSTANT_FP })).problems).toEqual([]);
  });

  it("mode 'on' trusts the fingerprint (documents why verify is the default)", async () => {
    const disk = new SimDisk(4096 + 16 * 65536);
    const meta = new MemMetaStore();
    const e = await formatEngine(disk, meta, {
      logicalBytes: 64 * BLOCK_BYTES, segmentBytes: 65536, fingerprint: CONSTANT_FP, dedup: 'on', flushDelayMs: 0,
    });
    await e.write(0, 2, Buffer.concat([block(3), block(5)]), false);
    const out = Buffer.alloc(BLOCK_BYTES);
    await e.read(1, 1, out);
    expect(out.equals(block(3))).toBe(true);
    await e.close();
  });
});
