// One-block writes started in the same turn are applied as one batch
// (src/engine/small-writes.ts): each still completes with the right data, a
// later write of an LBA wins over an earlier one of the same batch, a request
// refused by its own checks fails alone, and close() takes writes queued in
// the turn it is called in.
import { describe, expect, it } from 'vitest';
import { auditPool, formatEngine, openEngine } from '../../src/engine/index.js';
import { MemMetaStore } from '../../src/testing/mem-store.js';
import { SimDisk } from '../../src/testing/sim-disk.js';
import { BLOCK_BYTES } from '../../src/util/units.js';
import { makeBlock, rng } from './helpers.js';

/** A SimDisk whose preads wait while `held` is set. */
class GatedDisk extends SimDisk {
  held: Promise<void> | undefined;

  override async pread(buf: Buffer, offset: number, length: number, position: number): Promise<void> {
    if (this.held !== undefined) await this.held;
    return super.pread(buf, offset, length, position);
  }
}

async function fresh(): Promise<{ disk: SimDisk; meta: MemMetaStore; e: Awaited<ReturnType<typeof formatEngine>> }> {
  const disk = new SimDisk(4096 + 64 * 65536);
  const meta = new MemMetaStore();
  const e = await formatEngine(disk, meta, { logicalBytes: 1024 * 4096, segmentBytes: 65536, flushDelayMs: 0, backgroundCompaction: false });
  return { disk, meta, e };
}

async function readBlock(e: { read(lba: number, blocks: number, buf: Buffer): Promise<void> }, lba: number): Promise<Buffer> {
  const out = Buffer.alloc(BLOCK_BYTES);
  await e.read(lba, 1, out);
  return out;
}

describe('coalesced one-block writes', () => {
  it('applies a turn of one-block writes in arrival order, duplicates and repeated LBAs included', async () => {
    const { disk, meta, e } = await fresh();
    const r = rng(7);
    const latest = new Map<number, Buffer>();
    const writes: Array<Promise<void>> = [];
    // 300 writes in one turn (more than one batch), over 40 LBAs, a third of them repeated contents.
    const shared = [makeBlock(r, 60, 1), makeBlock(r, 0, 2), Buffer.alloc(BLOCK_BYTES, 0x33)];
    for (let i = 0; i < 300; i++) {
      const lba = 100 + ((i * 7) % 40);
      const data = i % 3 === 0 ? shared[i % shared.length] : makeBlock(r, 50, i);
      latest.set(lba, data);
      writes.push(e.write(lba, 1, data, false));
    }
    await Promise.all(writes);
    for (const [lba, data] of latest) expect((await readBlock(e, lba)).equals(data), `lba ${lba}`).toBe(true);
    await e.close();
    const e2 = await openEngine(disk, meta, { flushDelayMs: 0 });
    for (const [lba, data] of latest) expect((await readBlock(e2, lba)).equals(data), `lba ${lba} after reopen`).toBe(true);
    expect((await auditPool(disk, meta)).problems).toEqual([]);
    await e2.close();
  });

  it('fails a request beyond the device end alone; the others of its turn complete', async () => {
    const { e } = await fresh();
    const a = makeBlock(rng(1), 50, 1);
    const b = makeBlock(rng(2), 50, 2);
    const results = await Promise.allSettled([e.write(5, 1, a, false), e.write(1024, 1, a, false), e.write(6, 1, b, false)]);
    expect(results.map((x) => x.status)).toEqual(['fulfilled', 'rejected', 'fulfilled']);
    expect((await readBlock(e, 5)).equals(a)).toBe(true);
    expect((await readBlock(e, 6)).equals(b)).toBe(true);
    await e.close();
  });

  it('a write waiting for its verify read holds up only itself and later writes of its LBA', async () => {
    const disk = new GatedDisk(4096 + 16 * 65536);
    const meta = new MemMetaStore();
    const opts = { dedup: 'verify' as const, flushDelayMs: 0, backgroundCompaction: false };
    let e = await formatEngine(disk, meta, { logicalBytes: 64 * BLOCK_BYTES, segmentBytes: 65536, ...opts });
    const dup = makeBlock(rng(3), 50, 3);
    await e.write(0, 1, dup, false);
    await e.close();
    e = await openEngine(disk, meta, opts); // dup's segment is sealed: verified from the pool
    let release!: () => void;
    disk.held = new Promise((resolve) => (release = resolve));
    const x = makeBlock(rng(4), 50, 4);
    const y = makeBlock(rng(5), 50, 5);
    const done: string[] = [];
    const track = (name: string, p: Promise<void>): Promise<void> => p.then(() => void done.push(name));
    const waiting = track('waiting', e.write(1, 1, dup, false)); // its candidate is read: waits
    const free = track('free', e.write(2, 1, x, false));
    const sameLba = track('sameLba', e.write(1, 1, y, false)); // after `waiting`, same LBA: waits behind it
    await free;
    expect(done).toEqual(['free']);
    disk.held = undefined;
    release();
    await Promise.all([waiting, sameLba]);
    expect(done).toEqual(['free', 'waiting', 'sameLba']);
    expect((await readBlock(e, 1)).equals(y)).toBe(true); // arrival order: the later write of lba 1 wins
    expect((await readBlock(e, 2)).equals(x)).toBe(true);
    expect((await auditPool(disk, meta)).problems).toEqual([]);
    await e.close();
  });

  it('close() in the same turn still applies and commits the queued writes', async () => {
    const { disk, meta, e } = await fresh();
    const data = Array.from({ length: 8 }, (_, i) => makeBlock(rng(10 + i), 40, i));
    const writes = data.map((d, i) => e.write(200 + i, 1, d, false));
    const closed = e.close();
    await Promise.all(writes);
    await closed;
    const e2 = await openEngine(disk, meta, { flushDelayMs: 0 });
    for (let i = 0; i < data.length; i++) expect((await readBlock(e2, 200 + i)).equals(data[i])).toBe(true);
    await e2.close();
  });
});
