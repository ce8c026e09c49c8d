// Segment buffer ordering (issue 7 item 3) on a simulated disk that completes
// writes out of order: background (non-durable) commits write the open segment's
// tail while later writes fill and seal it, so a tail write and the seal's write
// of one segment are in flight together. Every acknowledged block must read back
// during the run, after a flush, and after a reopen; a sealed segment may leave
// RAM (and its buffer be reused) only once all its writes completed.
// A reused buffer still holds another segment's bytes: none of them may reach
// the pool (fragment padding is zeroed, nothing past a segment's fill is written).
import { describe, expect, it } from 'vitest';
import { auditPool, formatEngine, openEngine } from '../../../src/engine/index.js';
import { gKey } from '../../../src/meta/keys.js';
import { FRAGMENT_HEADER_BYTES, fragmentBytes, readFragmentHeader } from '../../../src/pool/fragment.js';
import { decodeSegment } from '../../../src/pool/segment-record.js';
import { MemMetaStore } from '../../../src/testing/mem-store.js';
import { SimDisk } from '../../../src/testing/sim-disk.js';
import { BLOCK_BYTES } from '../../../src/util/units.js';
import { makeBlock, randInt, rng } from '../../engine/helpers.js';

const SEGMENT_BYTES = 65536;
const LOGICAL_BLOCKS = 256;
const OPTS = { flushDelayMs: 0, backgroundCompaction: false, commitRecordsMax: 60, dedup: 'off' } as const;

async function runSeed(seed: number): Promise<void> {
  const r = rng(seed);
  const disk = new SimDisk(4096 + 48 * SEGMENT_BYTES, undefined, { reorder: rng(seed + 1000), reorderTicksMax: 2000 });
  const meta = new MemMetaStore();
  let e = await formatEngine(disk, meta, { logicalBytes: LOGICAL_BLOCKS * BLOCK_BYTES, segmentBytes: SEGMENT_BYTES, ...OPTS });
  const model = new Map<number, Buffer>();
  let tag = 1;
  for (let i = 0; i < 80; i++) {
    // Incompressible blocks: a segment seals every 15 blocks, a background commit
    // starts every 30 (60 records), so its tail write races with later seals.
    const blocks = 1 + randInt(r, 8);
    const lba = randInt(r, LOGICAL_BLOCKS - blocks);
    const data = Array.from({ length: blocks }, () => makeBlock(r, 0, tag++));
    await e.write(lba, blocks, Buffer.concat(data), false);
    data.forEach((b, k) => model.set(lba + k, b));
    if (r() < 0.3) {
      const probe = [...model.keys()][randInt(r, model.size)];
      const out = Buffer.alloc(BLOCK_BYTES);
      await e.read(probe, 1, out);
      expect(out.equals(model.get(probe)!), `seed ${seed}: live read of lba ${probe}`).toBe(true);
    }
  }
  await e.flush();
  await e.close();
  expect(disk.inflightWrites, 'close leaves no write in flight').toBe(0);
  e = await openEngine(disk, meta, OPTS);
  for (const [lba, b] of model) {
    const out = Buffer.alloc(BLOCK_BYTES);
    await e.read(lba, 1, out);
    expect(out.equals(b), `seed ${seed}: lba ${lba} after flush + reopen`).toBe(true);
  }
  await e.close();
  expect((await auditPool(disk, meta)).problems).toEqual([]);
}

describe('segment writes completing out of order', () => {
  it('keeps every acknowledged block readable during the run and after flush + reopen', async () => {
    for (let seed = 1; seed <= 20; seed++) await runSeed(seed);
  }, 60_000);

  it('never writes a recycled buffer\'s old bytes: padding and every byte past a segment\'s fill stay zero', async () => {
    const segments = 24;
    const disk = new SimDisk(4096 + segments * SEGMENT_BYTES);
    const meta = new MemMetaStore();
    const e = await formatEngine(disk, meta, { logicalBytes: LOGICAL_BLOCKS * BLOCK_BYTES, segmentBytes: SEGMENT_BYTES, ...OPTS });
    const r = rng(5);
    let tag = 1;
    // Mixed fragment sizes, overwritten again and again: segments seal, free, are
    // punched and reused, each time filled in a buffer that held another segment.
    for (let i = 0; i < 120; i++) {
      const blocks = 1 + randInt(r, 16);
      const lba = randInt(r, LOGICAL_BLOCKS - blocks);
      const data = Array.from({ length: blocks }, () => makeBlock(r, [0, 60, 90][randInt(r, 3)], tag++));
      await e.write(lba, blocks, Buffer.concat(data), false);
      if (i % 10 === 9) await e.flush();
    }
    await e.flush();
    await e.close();
    let checked = 0;
    for (let s = 0; s < segments; s++) {
      const rec = meta.getSync(gKey(s));
      if (rec === undefined) continue;
      const fill = decodeSegment(rec).fillBytes;
      const bytes = Buffer.alloc(SEGMENT_BYTES);
      await disk.pread(bytes, 0, SEGMENT_BYTES, 4096 + s * SEGMENT_BYTES);
      for (let at = 0; at < fill; ) {
        const h = readFragmentHeader(bytes, at);
        expect(h, `segment ${s} offset ${at}: a fragment header`).toBeDefined();
        const end = at + fragmentBytes(h!.storedBytes);
        expect(bytes.subarray(at + FRAGMENT_HEADER_BYTES + h!.storedBytes, end).every((b) => b === 0), `segment ${s} padding at ${at}`).toBe(true);
        at = end;
      }
      expect(bytes.subarray(fill).every((b) => b === 0), `segment ${s}: bytes past its fill ${fill}`).toBe(true);
      checked += 1;
    }
    expect(checked).toBeGreaterThan(8);
  }, 60_000);
});
