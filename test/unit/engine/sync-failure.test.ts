// A failed fdatasync is never swallowed and never loses an acknowledged change
// (design.md, rules 2 and 4):
//  - the superblock keeper shares the pool's file, and Linux reports a writeback
//    error to one fdatasync only: when the keeper's sync fails, the engine stops
//    committing exactly as when its own pool fdatasync fails;
//  - when a durable metadata batch fails (a failed log fsync can drop the batches
//    written before it without sync), every change since the last durable commit is
//    rewritten by the retry, so nothing acknowledged reads old or vanishes.
import { describe, expect, it } from 'vitest';
import { auditPool, formatEngine, openEngine, type BlockEngine } from '../../../src/engine/index.js';
import { lKey } from '../../../src/meta/keys.js';
import { MemMetaStore } from '../../../src/testing/mem-store.js';
import { SimDisk } from '../../../src/testing/sim-disk.js';
import { BLOCK_BYTES } from '../../../src/util/units.js';
import { makeBlock, rng } from '../../engine/helpers.js';
import { expectAll, expectAllAfterReopen } from './engine-checks.js';

const SEGMENT_BYTES = 65536;
const RETRY_MS = 30;

function eio(): Error {
  return Object.assign(new Error('EIO: i/o error, fdatasync'), { code: 'EIO', errno: -5 });
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

interface Rig {
  disk: SimDisk;
  meta: MemMetaStore;
  engine: BlockEngine;
  model: Map<number, Buffer>;
  write: (lba: number, blocks: number) => Promise<void>;
}

async function rig(commitRecordsMax?: number): Promise<Rig> {
  const r = rng(23);
  let tag = 1;
  const disk = new SimDisk(4096 + 32 * SEGMENT_BYTES);
  const meta = new MemMetaStore();
  const engine = await formatEngine(disk, meta, {
    logicalBytes: 512 * BLOCK_BYTES, segmentBytes: SEGMENT_BYTES, flushDelayMs: 0, backgroundCompaction: false,
    stallRetryMs: RETRY_MS, commitRecordsMax,
  });
  const model = new Map<number, Buffer>();
  const write = async (lba: number, blocks: number): Promise<void> => {
    const data = Array.from({ length: blocks }, () => makeBlock(r, 50, tag++));
    await engine.write(lba, blocks, Buffer.concat(data), false);
    data.forEach((b, i) => model.set(lba + i, b));
  };
  return { disk, meta, engine, model, write };
}

describe('a failed fdatasync', () => {
  it("in the superblock keeper's background record stops commits like the pool's own", async () => {
    const g = await rig();
    await g.write(0, 8);
    await g.engine.flush();
    g.disk.failSyncs = eio();
    // A durable commit of metadata only (no segment data, so no pool fdatasync of the
    // engine's own): only the keeper's background record syncs the pool, and fails.
    await g.engine.discard(0, 2);
    await g.engine.flush();
    for (let waited = 0; g.disk.syncFailures === 0 && waited < 5000; waited += 10) await sleep(10);
    expect(g.disk.syncFailures).toBe(1);
    g.disk.failSyncs = undefined;
    g.model.delete(0);
    g.model.delete(1);
    // The error the keeper saw may be the one that said segment data was lost: no
    // later commit may claim durability.
    const err = await g.write(8, 4).then(() => g.engine.flush()).then(() => undefined, (e: unknown) => e);
    expect(err).toMatchObject({ code: 'UC_IO' });
    expect(String((err as Error).message)).toMatch(/fdatasync/);
    await expectAll(g.engine, new Map([...g.model].filter(([lba]) => lba < 8))); // reads still work
  });

  it('of a metadata batch rewrites every change since the last durable commit', async () => {
    const g = await rig(8);
    await g.write(0, 4);
    await g.engine.flush();
    for (let lba = 4; lba < 60; lba += 4) await g.write(lba, 4); // background batches, without sync
    await g.write(0, 2); // overwrites: old extents lose references in unsynced batches
    await sleep(5);
    expect(g.meta.pendingBatches).toBeGreaterThan(0);
    g.meta.failSyncLosingUnsynced = eio(); // the log's fsync fails; the unsynced batches are gone
    const err = await g.engine.flush().then(() => undefined, (e: unknown) => e);
    expect(err).toMatchObject({ code: 'UC_IO' });
    g.meta.failSyncLosingUnsynced = undefined;
    await expectAll(g.engine, g.model); // served from RAM meanwhile
    await sleep(RETRY_MS * 2);
    await g.engine.flush();
    await expectAll(g.engine, g.model);
    await expectAllAfterReopen(g.engine, g.disk, g.meta, g.model);
  });

  it('bounds the batches kept in RAM for that: every few of them is made durable', async () => {
    const g = await rig(8);
    for (let lba = 0; lba < 200; lba += 4) await g.write(lba, 4);
    await sleep(5);
    expect(g.meta.syncs).toBeGreaterThan(1); // format's sync plus at least one forced
    expect(g.meta.pendingBatches).toBeLessThanOrEqual(5);
    await g.engine.close();
  });
});

describe('a write that meets damaged metadata', () => {
  it('fails before adding a reference, so no refcount leaks', async () => {
    const disk = new SimDisk(4096 + 32 * SEGMENT_BYTES);
    const meta = new MemMetaStore();
    const opts = { flushDelayMs: 0, backgroundCompaction: false };
    const a = makeBlock(rng(5), 50, 1);
    const b = makeBlock(rng(6), 50, 2);
    const first = await formatEngine(disk, meta, { ...opts, logicalBytes: 64 * BLOCK_BYTES, segmentBytes: SEGMENT_BYTES });
    await first.write(0, 2, Buffer.concat([a, a]), false); // one extent, two references
    await first.write(5, 1, b, false);
    await first.close();
    const engine = await openEngine(disk, meta, opts); // its scan saw lba 5 mapped
    await meta.batch([{ type: 'del', key: lKey(5) }], true); // a damaged table loses the record
    const err = await engine.write(5, 1, a, false).then(() => undefined, (e: unknown) => e);
    expect(err).toMatchObject({ code: 'UC_META_CORRUPT' });
    await engine.flush();
    await engine.close();
    const problems = (await auditPool(disk, meta)).problems;
    expect(problems.some((p) => /leaked/.test(p))).toBe(true); // b's extent, from the damage itself
    expect(problems.filter((p) => /refcount 3/.test(p))).toEqual([]); // a's extent gained no reference
  });
});
