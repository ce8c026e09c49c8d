// The clean metadata cache (slot-table.ts, meta-cache.ts), the dedup filter
// (dedup-filter.ts) and the rule MetaView keeps with them: a lookup never
// answers differently from the overlays over the store, whatever the cache
// evicted, kept or was told about a batch that later failed.
import { describe, expect, it } from 'vitest';
import { DedupFilter, scanDedup } from '../../../src/engine/dedup-filter.js';
import { MappedBits } from '../../../src/engine/mapped-bits.js';
import { MetaCache } from '../../../src/engine/meta-cache.js';
import { MetaView } from '../../../src/engine/meta-view.js';
import { SlotTable } from '../../../src/engine/slot-table.js';
import { hKey } from '../../../src/meta/keys.js';
import { encodeU64, type Extent, type MapValue } from '../../../src/meta/records.js';
import { MemMetaStore } from '../../../src/testing/mem-store.js';
import { randInt, rng } from '../../engine/helpers.js';

function put(t: SlotTable, k: number, v: number): void {
  t.key[0] = k;
  const slot = t.insert(); // may grow the table: take values after
  t.values[slot] = v;
}

function get(t: SlotTable, k: number): number | undefined {
  t.key[0] = k;
  const slot = t.find();
  return slot < 0 ? undefined : t.values[slot];
}

function fp(n: number): Buffer {
  const b = Buffer.alloc(16);
  b.writeUInt32LE(n, 0);
  b.writeUInt32LE(Math.imul(n, 2654435761) >>> 0, 8);
  return b;
}

describe('SlotTable', () => {
  it('stays inside its byte budget and holds at least one set', () => {
    for (const budget of [0, 100, 4096, 1 << 20, 5_000_000]) {
      const t = new SlotTable(2, 8, budget);
      expect(t.capacity).toBeGreaterThanOrEqual(8);
      if (budget >= 4096) expect(t.bytes).toBeLessThanOrEqual(budget);
    }
  });

  it('starts small and grows instead of evicting until the budget is reached', () => {
    const t = new SlotTable(1, 1, 1 << 20);
    expect(t.capacity).toBe(1024);
    for (let k = 0; k < 20_000; k++) put(t, k, k + 1);
    expect(t.capacity).toBeGreaterThan(20_000);
    expect(t.evictions).toBeLessThan(20); // only a set still full after growing evicts
    let kept = 0;
    for (let k = 0; k < 20_000; k++) if (get(t, k) === k + 1) kept += 1;
    expect(kept).toBeGreaterThan(19_980);
    for (let k = 20_000; k < 300_000; k++) put(t, k, k + 1);
    expect(t.capacity).toBe(t.maxCapacity);
    expect(t.bytes).toBeLessThanOrEqual(1 << 20);
    expect(t.evictions).toBeGreaterThan(100_000);
  });

  it('overwrites a key in place and forgets removed keys', () => {
    const t = new SlotTable(1, 1, 4096);
    put(t, 7, 1);
    put(t, 7, 2);
    expect(get(t, 7)).toBe(2);
    expect(t.count()).toBe(1);
    t.key[0] = 7;
    t.remove();
    expect(get(t, 7)).toBeUndefined();
    expect(t.count()).toBe(0);
  });

  it('evicts when full, sparing entries hit since the hand last passed (CLOCK)', () => {
    const t = new SlotTable(1, 1, 0); // one set of 8 ways
    expect(t.capacity).toBe(8);
    for (let k = 0; k < 8; k++) put(t, k, k * 10);
    expect(t.evictions).toBe(0);
    for (let k = 0; k < 8; k++) expect(get(t, k)).toBe(k * 10); // every entry referenced
    get(t, 3);
    put(t, 100, 1); // the hand clears every bit, then evicts the first slot (key 0)
    expect(t.evictions).toBe(1);
    expect(get(t, 0)).toBeUndefined();
    get(t, 1); // referenced again: spared by the next eviction
    put(t, 101, 2);
    expect(get(t, 1)).toBe(10);
    expect(get(t, 2)).toBeUndefined();
    expect(t.count()).toBe(8);
    expect(get(t, 100)).toBe(1);
    expect(get(t, 101)).toBe(2);
  });

  it('keeps at most its capacity under a stream of distinct keys, and every answer is the last value put', () => {
    const t = new SlotTable(2, 1, 2048);
    const r = rng(9);
    const latest = new Map<number, number>();
    for (let i = 0; i < 20_000; i++) {
      const k = randInt(r, 3000);
      if (r() < 0.6) {
        t.key[0] = k;
        t.key[1] = k >>> 3;
        const slot = t.insert();
        t.values[slot] = i;
        latest.set(k, i);
      } else {
        t.key[0] = k;
        t.key[1] = k >>> 3;
        const slot = t.find();
        if (slot >= 0) expect(t.values[slot]).toBe(latest.get(k));
      }
    }
    expect(t.count()).toBeLessThanOrEqual(t.capacity);
    expect(t.evictions).toBeGreaterThan(1000);
    expect(t.hits).toBeGreaterThan(0);
  });
});

describe('MetaCache records', () => {
  it('round-trips map values, extents (beyond 2^32) and dedup ids', () => {
    const c = new MetaCache(64 * 1024);
    const fill: MapValue = { kind: 'fill', pattern: Buffer.from('0102030405060708', 'hex') };
    c.putMap(5, { kind: 'extent', id: 2 ** 40 + 3 });
    c.putMap(2 ** 33 + 1, fill);
    expect(c.getMap(5)).toEqual({ kind: 'extent', id: 2 ** 40 + 3 });
    expect(c.getMap(2 ** 33 + 1)).toEqual(fill);
    expect(c.getMap(6)).toBeUndefined();
    const e: Extent = { id: 2 ** 35, segment: 4_000_000_000, offset: 4_194_288, storedBytes: 4096, codecId: 1, refs: 3, fingerprint: fp(1) };
    c.putExtent(e);
    const got = c.getExtent(e.id)!;
    expect(got).toEqual(e);
    got.refs = 99; // a copy
    expect(c.getExtent(e.id)!.refs).toBe(3);
    c.putDedup(fp(2), 2 ** 45 + 7);
    expect(c.getDedup(fp(2))).toBe(2 ** 45 + 7);
    c.putDedup(fp(2), null);
    expect(c.getDedup(fp(2))).toBeUndefined();
    c.forgetExtent(e.id);
    c.putMap(5, null);
    expect(c.getExtent(e.id)).toBeUndefined();
    expect(c.getMap(5)).toBeUndefined();
    const s = c.stats();
    expect(s.bytes).toBeLessThanOrEqual(64 * 1024);
    expect(s.hits).toBe(5);
  });
});

describe('DedupFilter', () => {
  it('vouches for nothing until complete, then never calls an added fingerprint new', () => {
    const f = new DedupFilter(4096);
    f.add(fp(1));
    expect(f.isCertainlyNew(fp(2))).toBe(false);
    f.complete = true;
    for (let i = 3; i < 500; i++) f.add(fp(i));
    expect(f.isCertainlyNew(fp(1))).toBe(false);
    for (let i = 3; i < 500; i++) expect(f.isCertainlyNew(fp(i))).toBe(false);
    let fresh = 0;
    for (let i = 10_000; i < 11_000; i++) if (f.isCertainlyNew(fp(i))) fresh += 1;
    expect(fresh).toBeGreaterThan(900); // 32 Kbit for 500 keys: few false positives
    expect(f.certainlyNew).toBe(fresh);
  });

  it('is filled from the store by the open scan', async () => {
    const meta = new MemMetaStore();
    await meta.batch(Array.from({ length: 300 }, (_, i) => ({ type: 'put' as const, key: hKey(fp(i)), value: encodeU64(i + 1) })), true);
    const f = new DedupFilter(8192);
    await scanDedup(meta, f);
    expect(f.complete).toBe(true);
    for (let i = 0; i < 300; i++) expect(f.isCertainlyNew(fp(i))).toBe(false);
  });
});

/** A reference: the latest value set for every key (what any lookup must answer). */
interface Truth {
  maps: Map<number, MapValue | undefined>;
  extents: Map<number, Extent | undefined>;
  dedup: Map<number, number | undefined>;
}

describe('MetaView over the cache', () => {
  // 1 KiB: 16 map slots for 200 keys, constant eviction; 1 MiB: everything stays.
  it.each([1024, 1 << 20])('answers the latest value through evictions, applied batches and failed ones (thaw), %i B', async (budget) => {
    const r = rng(77);
    const meta = new MemMetaStore();
    const view = new MetaView(meta, new MappedBits(256), new MetaCache(budget), new DedupFilter(256));
    view.filter.complete = true;
    view.mapped.complete = true;
    const t: Truth = { maps: new Map(), extents: new Map(), dedup: new Map() };
    let inflight: { ops: ReturnType<MetaView['freeze']>; fail: boolean } | undefined;
    for (let step = 0; step < 6000; step++) {
      const x = r();
      const k = randInt(r, 200);
      if (x < 0.2) {
        const v: MapValue | null = r() < 0.2 ? null : { kind: 'extent', id: 1 + randInt(r, 1000) };
        view.setMap(k, v);
        t.maps.set(k, v ?? undefined);
      } else if (x < 0.35) {
        if (r() < 0.2) {
          view.deleteExtent(k + 1);
          t.extents.set(k + 1, undefined);
        } else {
          const e: Extent = { id: k + 1, segment: randInt(r, 50), offset: 16 * randInt(r, 100), storedBytes: 100, codecId: 1, refs: 1 + randInt(r, 5), fingerprint: fp(k) };
          view.putExtent({ ...e });
          t.extents.set(k + 1, e);
        }
      } else if (x < 0.45) {
        const id = r() < 0.2 ? null : 1 + randInt(r, 1000);
        view.setDedup(fp(k), id);
        t.dedup.set(k, id ?? undefined);
      } else if (x < 0.5) {
        if (inflight === undefined) {
          inflight = { ops: view.freeze(), fail: r() < 0.2 };
        } else if (inflight.fail) {
          view.thaw(); // the batch failed: nothing of it reached the store
          inflight = undefined;
        } else {
          await meta.batch(inflight.ops, false);
          await view.dropFrozen(r() < 0.3);
          inflight = undefined;
        }
      } else {
        expect(view.getMap(k), `L ${k} at step ${step}`).toEqual(t.maps.get(k));
        expect(view.getExtent(k + 1), `E ${k + 1} at step ${step}`).toEqual(t.extents.get(k + 1));
        expect(view.getDedup(fp(k)), `H ${k} at step ${step}`).toEqual(t.dedup.get(k));
      }
    }
    const s = view.cache.stats();
    if (budget < 4096) expect(s.evictions).toBeGreaterThan(100);
    expect(s.hits).toBeGreaterThan(100);
    expect(s.misses).toBeGreaterThan(100);
    expect(view.filter.certainlyNew).toBeGreaterThan(0);
  });
});

describe('a large applied batch', () => {
  it('moves into the cache in pieces while writes and lookups go on, the newest value winning', async () => {
    const meta = new MemMetaStore();
    const view = new MetaView(meta, new MappedBits(4096), new MetaCache(1 << 20), new DedupFilter(4096));
    view.filter.complete = true;
    view.mapped.complete = true;
    const value = (id: number): MapValue => ({ kind: 'extent', id });
    for (let lba = 0; lba < 3000; lba++) view.setMap(lba, value(lba + 1));
    await meta.batch(view.freeze(), false);
    const dropping = view.dropFrozen(false);
    // Between the pieces (several turns of the event loop): newer values, and lookups.
    let turns = 0;
    for (let lba = 0; lba < 3000; lba += 7) {
      view.setMap(lba, value(100_000 + lba));
      if (lba % 70 === 0) {
        await new Promise((resolve) => setImmediate(resolve));
        turns += 1;
      }
      expect(view.getMap(lba + 1), `lba ${lba + 1} while the batch moves`).toEqual(value(lba + 2));
    }
    await dropping;
    expect(turns).toBeGreaterThan(3);
    for (let lba = 0; lba < 3000; lba++) {
      expect(view.getMap(lba), `lba ${lba}`).toEqual(value(lba % 7 === 0 ? 100_000 + lba : lba + 1));
      // The cache (what a native reader sees without the overlays) never holds a value
      // the current overlay has replaced since.
      const cached = view.cache.getMap(lba);
      if (lba % 7 === 0) expect(cached, `cached lba ${lba}`).not.toEqual(value(lba + 1));
      else expect(cached, `cached lba ${lba}`).toEqual(value(lba + 1));
    }
  });
});

