// A write is classified and its dedup candidates are read before it takes the
// engine mutex (write-path.ts, prepareWrite): a writer waiting for a slow verify
// read must not hold up the writes queued after it, and the duplicate it was
// reading for is still shared once the read completes.
import { describe, expect, it } from 'vitest';
import { auditPool, formatEngine, openEngine } from '../../../src/engine/index.js';
import { MemMetaStore } from '../../../src/testing/mem-store.js';
import { SimDisk } from '../../../src/testing/sim-disk.js';
import { BLOCK_BYTES } from '../../../src/util/units.js';

function block(seed: number): Buffer {
  const b = Buffer.alloc(BLOCK_BYTES);
  for (let i = 0; i < BLOCK_BYTES; i++) b[i] = (i * seed + (i >> 3) + seed * 7) & 0xff;
  return b;
}

/** A SimDisk whose preads wait while `held` is set. */
class GatedDisk extends SimDisk {
  held: Promise<void> | undefined;
  readsHeld = 0;

  override async pread(buf: Buffer, offset: number, length: number, position: number): Promise<void> {
    if (this.held !== undefined) {
      this.readsHeld += 1;
      await this.held;
    }
    return super.pread(buf, offset, length, position);
  }
}

describe('writes prepared outside the engine mutex', () => {
  it('a write waiting for its verify read does not hold up the next write', async () => {
    const disk = new GatedDisk(4096 + 16 * 65536);
    const meta = new MemMetaStore();
    const opts = { dedup: 'verify' as const, flushDelayMs: 0, backgroundCompaction: false };
    let e = await formatEngine(disk, meta, { logicalBytes: 64 * BLOCK_BYTES, segmentBytes: 65536, ...opts });
    const a = block(3);
    await e.write(0, 1, a, false);
    await e.close();
    // Reopened: the segment holding a is sealed, so a duplicate is verified from the pool.
    e = await openEngine(disk, meta, opts);
    let release!: () => void;
    disk.held = new Promise((resolve) => (release = resolve));
    const slow = e.write(1, 1, a, false);
    const fast = e.write(2, 1, block(9), false);
    const fastFirst = await Promise.race([fast.then(() => true), slow.then(() => false)]);
    expect(disk.readsHeld, 'the duplicate was verified from the pool').toBe(1);
    expect(fastFirst, 'the second write completed while the first waited for its read').toBe(true);
    disk.held = undefined;
    release();
    await slow;
    const out = Buffer.alloc(3 * BLOCK_BYTES);
    await e.read(0, 3, out);
    expect(out.equals(Buffer.concat([a, a, block(9)]))).toBe(true);
    expect(e.stats().dedupHits).toBe(1);
    await e.flush();
    const report = await auditPool(disk, meta);
    expect(report.problems).toEqual([]);
    await e.close();
  });
});
