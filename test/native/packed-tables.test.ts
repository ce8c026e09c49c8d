// PackedTables reads MetaCache's map and extent SlotTables in place: every
// lookup the addon makes must agree with the JS cache's own, through growth
// (reallocation re-attaches the arrays), eviction, forget and clear.
import { describe, expect, it } from 'vitest';
import { MetaCache } from '../../src/engine/meta-cache.js';
import type { Extent } from '../../src/meta/records.js';
import { PackedTables } from '../../src/native/index.js';

function extentOf(id: number): Extent {
  const fingerprint = Buffer.alloc(16);
  fingerprint.writeUInt32BE(id >>> 0, 0);
  return { id, segment: id % 97, offset: (id % 1000) * 16, storedBytes: 1 + (id % 4096), codecId: id % 2, refs: 1, fingerprint };
}

/** What the addon resolves for lba, checked against the JS cache. */
function agrees(cache: MetaCache, tables: PackedTables, lba: number): boolean {
  const loc = tables.lookup(lba);
  const m = cache.getMap(lba);
  if (loc === undefined) return m === undefined || m.kind === 'fill' || cache.getExtent(m.id) === undefined;
  expect(m).toEqual({ kind: 'extent', id: loc.extentId });
  const e = cache.getExtent(loc.extentId);
  expect(e).toMatchObject({ segment: loc.segment, offset: loc.offset, storedBytes: loc.storedBytes, codecId: loc.codecId });
  return true;
}

describe('PackedTables over the metadata cache', () => {
  it('resolves what the JS cache holds, through growth, eviction, forget and clear', () => {
    const cache = new MetaCache(256 * 1024); // a few thousand records per kind: grows, then evicts
    const tables = new PackedTables();
    cache.share(tables);
    let hits = 0;
    for (let lba = 0; lba < 20_000; lba++) {
      const id = 2 ** 33 + lba * 7; // ids above 2^32: both key words matter
      cache.putExtent(extentOf(id));
      cache.putMap(lba, { kind: 'extent', id });
      expect(agrees(cache, tables, lba)).toBe(true);
      if (tables.lookup(lba) !== undefined) hits += 1;
    }
    expect(hits).toBe(20_000); // just inserted: always present
    let resolved = 0;
    for (let lba = 0; lba < 20_000; lba++) {
      expect(agrees(cache, tables, lba)).toBe(true);
      if (tables.lookup(lba) !== undefined) resolved += 1;
    }
    expect(cache.stats().evictions).toBeGreaterThan(0);
    expect(resolved).toBeGreaterThan(0);
    expect(resolved).toBeLessThan(20_000);

    const lba = 19_999;
    expect(tables.lookup(lba)).toBeDefined();
    cache.putMap(lba, { kind: 'fill', pattern: Buffer.alloc(8, 1) });
    expect(tables.lookup(lba)).toBeUndefined(); // a same-fill block: JS expands it
    cache.putMap(lba, { kind: 'extent', id: 2 ** 33 + lba * 7 });
    expect(tables.lookup(lba)).toBeDefined();
    cache.forgetMap(lba);
    expect(tables.lookup(lba)).toBeUndefined();
    cache.putMap(lba, { kind: 'extent', id: 2 ** 33 + lba * 7 });
    cache.forgetExtent(2 ** 33 + lba * 7);
    expect(tables.lookup(lba)).toBeUndefined();

    cache.putExtent(extentOf(2 ** 33 + lba * 7));
    tables.setEnabled(false);
    expect(tables.lookup(lba)).toBeUndefined();
    tables.setEnabled(true);

    cache.clear();
    for (let l = 0; l < 20_000; l++) expect(tables.lookup(l)).toBeUndefined();
  });
});
