// A failed commit never wedges the engine (issue 7 item 4), on the simulated disk
// and the in-memory metadata store with injected ENOSPC: writes and FLUSH get
// UC_NO_SPACE (ENOSPC), reads keep returning everything, one event is emitted per
// episode, and once space is back the failed batch is committed without a reopen;
// after close + reopen every acknowledged block reads back. The same on real full
// filesystems: test/engine/enospc-tmpfs-mount.test.ts.
import { describe, expect, it } from 'vitest';
import { auditPool, formatEngine, openEngine, type BlockEngine, type EngineEvent } from '../../../src/engine/index.js';
import { MemMetaStore } from '../../../src/testing/mem-store.js';
import { SimDisk } from '../../../src/testing/sim-disk.js';
import { toErrno } from '../../../src/util/errors.js';
import { ENOSPC } from '../../../src/util/errno.js';
import { BLOCK_BYTES } from '../../../src/util/units.js';
import { makeBlock, rng } from '../../engine/helpers.js';
import { expectAll, expectAllAfterReopen } from './engine-checks.js';

const SEGMENT_BYTES = 65536;
const RETRY_MS = 30;

function enospc(): Error {
  return Object.assign(new Error('ENOSPC: no space left on device, write'), { code: 'ENOSPC', errno: -ENOSPC });
}

interface Rig {
  disk: SimDisk;
  meta: MemMetaStore;
  events: EngineEvent[];
  engine: BlockEngine;
  model: Map<number, Buffer>;
  next: () => Buffer;
}

async function rig(extra: { commitRecordsMax?: number } = {}): Promise<Rig> {
  const r = rng(11);
  let tag = 1;
  const disk = new SimDisk(4096 + 32 * SEGMENT_BYTES);
  const meta = new MemMetaStore();
  const events: EngineEvent[] = [];
  const engine = await formatEngine(disk, meta, {
    logicalBytes: 256 * BLOCK_BYTES, segmentBytes: SEGMENT_BYTES, flushDelayMs: 0, backgroundCompaction: false,
    stallRetryMs: RETRY_MS, onEvent: (e) => events.push(e), ...extra,
  });
  return { disk, meta, events, engine, model: new Map(), next: () => makeBlock(r, 50, tag++) };
}

async function write(g: Rig, lba: number, blocks: number): Promise<void> {
  const data = Array.from({ length: blocks }, () => g.next());
  await g.engine.write(lba, blocks, Buffer.concat(data), false);
  data.forEach((b, i) => g.model.set(lba + i, b));
}

async function expectNoSpace(p: Promise<unknown>): Promise<void> {
  const err = await p.then(() => undefined, (e: unknown) => e);
  expect(err).toMatchObject({ code: 'UC_NO_SPACE' });
  expect(toErrno(err)).toBe(-28);
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

async function fullThenFreed(g: Rig, fill: (on: boolean) => void): Promise<void> {
  await write(g, 0, 40);
  await g.engine.flush();
  await write(g, 40, 20); // acknowledged, not yet committed
  fill(true);
  await expectNoSpace(g.engine.flush());
  await expectNoSpace(g.engine.write(100, 1, g.next(), false));
  await expectNoSpace(g.engine.flush());
  await expectAll(g.engine, g.model); // reads keep working, the failed batch included
  expect(g.events.filter((e) => e.kind === 'no-space')).toHaveLength(1);
  fill(false);
  await sleep(RETRY_MS * 2);
  await write(g, 60, 10); // no reopen: writes work again
  await g.engine.flush();
  expect(g.events.map((e) => e.kind)).toEqual(['no-space', 'no-space-cleared']);
  await expectAll(g.engine, g.model);
  await expectAllAfterReopen(g.engine, g.disk, g.meta, g.model);
}

describe('a full filesystem stalls the engine, never wedges it', () => {
  it('recovers from ENOSPC on the pool once space is freed', async () => {
    const g = await rig();
    await fullThenFreed(g, (on) => {
      g.disk.failWrites = on ? enospc() : undefined;
    });
  });

  it('recovers from ENOSPC on the metadata once space is freed', async () => {
    const g = await rig();
    await fullThenFreed(g, (on) => {
      g.meta.failBatches = on ? enospc() : undefined;
    });
  });

  it('recovers after a background (non-durable) commit failed', async () => {
    const g = await rig({ commitRecordsMax: 8 });
    await write(g, 0, 4);
    await g.engine.flush();
    g.meta.failBatches = enospc();
    await write(g, 4, 4); // starts a background commit that fails
    await sleep(5);
    await expectNoSpace(g.engine.write(8, 1, g.next(), false));
    await expectAll(g.engine, g.model);
    g.meta.failBatches = undefined;
    await sleep(RETRY_MS * 2);
    await write(g, 8, 4);
    await g.engine.flush();
    await g.engine.close();
    const again = await openEngine(g.disk, g.meta, { flushDelayMs: 0 });
    await expectAll(again, g.model);
    await again.close();
  });

  it('closes cleanly while full, keeping everything flushed before', async () => {
    const g = await rig();
    await write(g, 0, 30);
    await g.engine.flush();
    const flushed = new Map(g.model);
    await write(g, 30, 5);
    g.disk.failWrites = enospc();
    await expectNoSpace(g.engine.flush());
    const started = Date.now();
    await expectNoSpace(g.engine.close());
    expect(Date.now() - started).toBeLessThan(2000);
    g.disk.failWrites = undefined;
    const again = await openEngine(g.disk, g.meta, { flushDelayMs: 0 });
    await expectAll(again, flushed);
    await again.close();
    expect((await auditPool(g.disk, g.meta)).problems).toEqual([]);
  });
});
