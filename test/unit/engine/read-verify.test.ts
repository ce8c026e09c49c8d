// Verified reads (issue 7 item 1): a block whose stored bytes were damaged (payload
// bit flip in an lz4 or a raw fragment, a zeroed 4 KiB region, a rewritten header,
// damage to the in-RAM copy) fails its read with UC_POOL_CORRUPT (EIO) and never
// returns wrong bytes; every other block still reads back; the failures are
// counted in stats and reported as events; `check` still finds the same damage.
import { describe, expect, it } from 'vitest';
import { auditPool, formatEngine, openEngine, type BlockEngine, type EngineEvent } from '../../../src/engine/index.js';
import { eKey, lKey } from '../../../src/meta/keys.js';
import { MemMetaStore } from '../../../src/testing/mem-store.js';
import type { EngineCore } from '../../../src/engine/core.js';
import { decodeExtent, decodeMapValue, type Extent } from '../../../src/meta/records.js';
import { readSuperblock } from '../../../src/pool/format.js';
import { SimDisk } from '../../../src/testing/sim-disk.js';
import { toErrno, UcError } from '../../../src/util/errors.js';
import { BLOCK_BYTES } from '../../../src/util/units.js';
import { makeBlock, rng } from '../../engine/helpers.js';

const BLOCKS = 16;
const SEGMENT_BYTES = 65536;

interface Setup {
  disk: SimDisk;
  meta: MemMetaStore;
  data: Buffer[];
  events: EngineEvent[];
  engine: BlockEngine;
}

/** Even LBAs compress (lz4), odd ones are random (stored raw); flushed and reopened
 * so that every read goes to the pool. */
async function setup(): Promise<Setup> {
  const r = rng(7);
  const disk = new SimDisk(4096 + 8 * SEGMENT_BYTES);
  const meta = new MemMetaStore();
  const events: EngineEvent[] = [];
  // The read verification events only (the cache warm-up after open reports itself too).
  const opts = { flushDelayMs: 0, backgroundCompaction: false, onEvent: (ev: EngineEvent) => ev.kind !== 'cache-warmed' && events.push(ev) };
  const data = Array.from({ length: BLOCKS }, (_, i) => makeBlock(r, i % 2 === 0 ? 90 : 0, i + 1));
  const e = await formatEngine(disk, meta, { logicalBytes: 64 * BLOCK_BYTES, segmentBytes: SEGMENT_BYTES, ...opts });
  await e.write(0, BLOCKS, Buffer.concat(data), false);
  await e.flush();
  await e.close();
  const engine = await openEngine(disk, meta, opts);
  return { disk, meta, data, events, engine };
}

function extentOf(meta: MemMetaStore, lba: number): Extent {
  const m = decodeMapValue(meta.getSync(lKey(lba))!);
  if (m.kind !== 'extent') throw new Error(`lba ${lba} holds a fill, not an extent`);
  return decodeExtent(m.id, meta.getSync(eKey(m.id))!);
}

async function position(disk: SimDisk, e: Extent): Promise<number> {
  const sb = await readSuperblock(disk);
  return sb.dataOffset + e.segment * sb.segmentBytes + e.offset;
}

async function flipByte(disk: SimDisk, at: number): Promise<void> {
  const b = Buffer.alloc(1);
  await disk.pread(b, 0, 1, at);
  b[0] ^= 0x10;
  await disk.pwrite(b, 0, 1, at);
}

/** Reads every LBA on its own: the damaged ones must fail with EIO, the rest be exact. */
async function expectOnlyDamaged(s: Setup, damaged: number[]): Promise<void> {
  for (let lba = 0; lba < BLOCKS; lba++) {
    const out = Buffer.alloc(BLOCK_BYTES, 0x55);
    const got = s.engine.read(lba, 1, out).then(() => undefined, (err: unknown) => err);
    const err = await got;
    if (damaged.includes(lba)) {
      expect(err, `lba ${lba} must fail`).toBeInstanceOf(UcError);
      expect((err as UcError).code).toBe('UC_POOL_CORRUPT');
      expect(toErrno(err)).toBe(-5);
      expect(out.equals(s.data[lba]), `lba ${lba} must not return its bytes by chance`).toBe(false);
    } else {
      expect(err, `lba ${lba} must read`).toBeUndefined();
      expect(out.equals(s.data[lba]), `lba ${lba} content`).toBe(true);
    }
  }
  // A multi-block read that covers a damaged block fails as a whole.
  if (damaged.length > 0) {
    await expect(s.engine.read(0, BLOCKS, Buffer.alloc(BLOCKS * BLOCK_BYTES))).rejects.toMatchObject({ code: 'UC_POOL_CORRUPT' });
  }
}

describe('verified reads', () => {
  it('reads an undamaged pool without failures', async () => {
    const s = await setup();
    await expectOnlyDamaged(s, []);
    expect(s.engine.stats().readVerifyFailures).toBe(0);
    expect(s.events).toEqual([]);
    await s.engine.close();
  });

  it('fails a payload bit flip in an lz4 and in a raw fragment with EIO', async () => {
    const s = await setup();
    const lz = extentOf(s.meta, 4);
    const raw = extentOf(s.meta, 7);
    expect(lz.codecId).toBe(1);
    expect(raw.codecId).toBe(0);
    await flipByte(s.disk, (await position(s.disk, lz)) + 16 + Math.floor(lz.storedBytes / 2));
    await flipByte(s.disk, (await position(s.disk, raw)) + 16 + 1000);
    await expectOnlyDamaged(s, [4, 7]);
    expect(s.engine.stats().readVerifyFailures).toBe(3); // two single reads, one multi-block read
    expect(s.events[0]).toMatchObject({ kind: 'read-verify-failed', lba: 4, extentId: lz.id });
    expect(s.events[1]).toMatchObject({ kind: 'read-verify-failed', lba: 7, extentId: raw.id });
    const audit = await auditPool(s.disk, s.meta);
    expect(audit.problems.filter((p) => p.includes(`extent ${lz.id}`) || p.includes(`extent ${raw.id}`)).length).toBeGreaterThan(0);
    await s.engine.close();
  });

  it('fails a zeroed 4 KiB region and a rewritten header with EIO', async () => {
    const s = await setup();
    const zeroed = extentOf(s.meta, 10);
    const at = await position(s.disk, zeroed);
    const page = Math.floor(at / 4096) * 4096;
    await s.disk.pwrite(Buffer.alloc(4096), 0, 4096, page);
    const damaged = [];
    for (let lba = 0; lba < BLOCKS; lba++) {
      const e = extentOf(s.meta, lba);
      const p = await position(s.disk, e);
      if (p < page + 4096 && p + 16 + e.storedBytes > page) damaged.push(lba);
    }
    expect(damaged).toContain(10);
    const other = extentOf(s.meta, 13);
    const h = Buffer.alloc(8);
    h.writeUInt32BE(0, 0);
    h.writeUInt32BE(other.id + 1, 4); // another extent's id in the header
    await s.disk.pwrite(h, 0, 8, (await position(s.disk, other)) + 8);
    if (!damaged.includes(13)) damaged.push(13);
    await expectOnlyDamaged(s, damaged);
    expect(s.events.every((ev) => ev.kind === 'read-verify-failed')).toBe(true);
    expect(s.engine.stats().readVerifyFailures).toBeGreaterThanOrEqual(damaged.length);
    await s.engine.close();
  });

  it('verifies blocks served from the in-RAM segment too', async () => {
    const disk = new SimDisk(4096 + 8 * SEGMENT_BYTES);
    const meta = new MemMetaStore();
    const e = await formatEngine(disk, meta, { logicalBytes: 64 * BLOCK_BYTES, segmentBytes: SEGMENT_BYTES, flushDelayMs: 0 });
    const r = rng(3);
    const a = makeBlock(r, 0, 1);
    await e.write(0, 1, a, false);
    // Reach the open segment's RAM copy through the engine's core (test-only access).
    const core = (e as unknown as { core: EngineCore }).core;
    const m = core.getMap(0);
    if (m?.kind !== 'extent') throw new Error('lba 0 should map an extent');
    const buf = core.unwritten(core.getExtent(m.id)!.segment)!;
    buf[16 + 100] ^= 0x01;
    await expect(e.read(0, 1, Buffer.alloc(BLOCK_BYTES))).rejects.toMatchObject({ code: 'UC_POOL_CORRUPT' });
    expect(e.stats().readVerifyFailures).toBe(1);
    buf[16 + 100] ^= 0x01;
    const out = Buffer.alloc(BLOCK_BYTES);
    await e.read(0, 1, out);
    expect(out.equals(a)).toBe(true);
    await e.close();
  });
});
