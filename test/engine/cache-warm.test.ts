// The metadata cache warm-up after open (src/engine/cache-warm.ts): it fills the
// map and extent tables the native read path reads, so an entry it places must
// obey the cache rule (absent, or what every engine lookup answers). The store's
// warm-up scans are held at a gate while the engine changes records under them:
// a committed overwrite (the scan's snapshot is stale), a pending one (the key
// has an overlay value), a table with no room, and a close mid-scan. After each,
// every LBA the native tables resolve must resolve the same way in the engine.
import { describe, expect, it } from 'vitest';
import { formatEngine, openEngine, type BlockEngine, type EngineEvent } from '../../src/engine/index.js';
import type { MetaCache } from '../../src/engine/meta-cache.js';
import { PREFIX_L } from '../../src/meta/keys.js';
import { MemMetaStore } from '../../src/testing/mem-store.js';
import { SimDisk } from '../../src/testing/sim-disk.js';
import { BLOCK_BYTES } from '../../src/util/units.js';
import { makeBlock, rng } from './helpers.js';
import { checkNativeTables, shareTables } from './native-tables.js';

const BLOCKS = 96;
const SEGMENT_BYTES = 64 * 1024;
const OPTS = { flushDelayMs: 0, backgroundCompaction: false } as const;

/** A store whose value scans of the L range wait at a gate while `held` (key-only scans pass). */
class GatedStore extends MemMetaStore {
  held = false;
  waiting = 0;
  private release: Array<() => void> = [];

  override async scan(gte: Buffer, lt: Buffer, limit: number): Promise<Array<[Buffer, Buffer]>> {
    const entries = await super.scan(gte, lt, limit); // the snapshot: taken now
    if (this.held && gte[0] === PREFIX_L) {
      this.waiting += 1;
      await new Promise<void>((resolve) => this.release.push(resolve));
    }
    return entries;
  }

  override async scanKeys(gte: Buffer, lt: Buffer, limit: number): Promise<Buffer[]> {
    return (await super.scan(gte, lt, limit)).map(([k]) => k);
  }

  open(): void {
    this.held = false;
    for (const r of this.release.splice(0)) r();
  }
}

async function waitFor(cond: () => boolean): Promise<void> {
  for (let i = 0; i < 1000 && !cond(); i++) await new Promise((r) => setImmediate(r));
  expect(cond()).toBe(true);
}

/** A pool with BLOCKS distinct blocks, closed; reopened over a gated copy of its store. */
async function reopenedWithHeldScan(cacheMib?: number): Promise<{ e: BlockEngine; store: GatedStore; events: EngineEvent[]; data: Buffer[] }> {
  const disk = new SimDisk(4096 + 40 * SEGMENT_BYTES);
  const store = new GatedStore();
  const r = rng(11);
  const data = Array.from({ length: BLOCKS }, (_, i) => makeBlock(r, 60, i + 1));
  const first = await formatEngine(disk, store, { logicalBytes: BLOCKS * BLOCK_BYTES, segmentBytes: SEGMENT_BYTES, ...OPTS });
  await first.write(0, BLOCKS, Buffer.concat(data), false);
  await first.close();
  store.held = true;
  const e = await openEngine(disk, store, { ...OPTS, cacheMib });
  const events: EngineEvent[] = [];
  e.setEventHandler((ev) => events.push(ev));
  await waitFor(() => store.waiting > 0);
  return { e, store, events, data };
}

async function readsBack(e: BlockEngine, lba: number, want: Buffer): Promise<void> {
  const out = Buffer.alloc(BLOCK_BYTES);
  await e.read(lba, 1, out);
  expect(out.equals(want), `lba ${lba}`).toBe(true);
}

function cacheOf(e: BlockEngine): MetaCache {
  return (e as unknown as { core: { cache: MetaCache } }).core.cache;
}

function warmed(events: EngineEvent[]): Extract<EngineEvent, { kind: 'cache-warmed' }> {
  const w = events.find((ev) => ev.kind === 'cache-warmed');
  if (w?.kind !== 'cache-warmed') throw new Error('no cache-warmed event');
  return w;
}

describe('metadata cache warm-up after open', () => {
  it('fills the native tables from the store: every block resolves natively before any read', async () => {
    const { e, store, events } = await reopenedWithHeldScan();
    const shared = shareTables(e);
    expect(shared.tables.lookup(0)).toBeUndefined(); // nothing read yet, the scan is held
    store.open();
    await e.whenLoaded();
    const w = warmed(events);
    expect(w).toMatchObject({ maps: BLOCKS, rescans: 0, full: false, cut: false });
    expect(w.extents).toBeGreaterThan(0);
    expect(checkNativeTables(e, shared, BLOCKS)).toBe(BLOCKS);
    expect(e.stats().cache.warmedRecords).toBe(w.maps + w.extents);
    await e.close();
  });

  it('takes nothing from a scan whose snapshot a commit overtook, and scans again', async () => {
    const { e, store, events } = await reopenedWithHeldScan();
    const shared = shareTables(e);
    const fresh = makeBlock(rng(5), 60, 1000);
    await e.write(5, 1, fresh, true); // FUA: committed before it completes, under the held scan
    store.open();
    await e.whenLoaded();
    expect(warmed(events).rescans).toBeGreaterThan(0);
    expect(checkNativeTables(e, shared, BLOCKS)).toBe(BLOCKS);
    await readsBack(e, 5, fresh);
    await e.close();
  });

  it('skips keys with a pending change', async () => {
    const { e, store, events, data } = await reopenedWithHeldScan();
    const shared = shareTables(e);
    const fresh = makeBlock(rng(6), 60, 2000);
    await e.write(7, 1, fresh, false); // pending: no commit before the scan is taken
    store.open();
    await e.whenLoaded();
    expect(warmed(events).rescans).toBe(0);
    // The rule itself: no cached map record for a key with an overlay value (a
    // native lookup would also miss on the old extent, whose record is pending too).
    expect(cacheOf(e).getMap(7)).toBeUndefined();
    expect(cacheOf(e).getMap(8)).toBeDefined();
    expect(shared.tables.lookup(7)).toBeUndefined();
    expect(checkNativeTables(e, shared, BLOCKS)).toBe(BLOCKS - 1);
    await readsBack(e, 7, fresh);
    await readsBack(e, 8, data[8]);
    await e.flush();
    expect(checkNativeTables(e, shared, BLOCKS)).toBeGreaterThanOrEqual(BLOCKS - 1);
    await e.close();
  });

  it('stops at a full table without evicting', async () => {
    // ~0.5 KiB for the map table: a few dozen of the 96 map records.
    const { e, store, events } = await reopenedWithHeldScan(2 / 1024);
    const shared = shareTables(e);
    store.open();
    await e.whenLoaded();
    const w = warmed(events);
    expect(w.full).toBe(true);
    expect(w.maps).toBeLessThan(BLOCKS);
    expect(e.stats().cache.evictions).toBe(0);
    checkNativeTables(e, shared, BLOCKS);
    await e.close();
  });

  it('ends when the engine closes mid-scan', async () => {
    const { e, store, events } = await reopenedWithHeldScan();
    const closing = e.close();
    store.open();
    await closing;
    expect(warmed(events)).toMatchObject({ cut: true, maps: 0, extents: 0 });
  });
});
