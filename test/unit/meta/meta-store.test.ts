// One conformance suite for both MetaStores, records round trips, key order, and
// the simulated store's crash semantics.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import {
  decodeCounterRecord, decodeExtent, decodeMapValue, decodeState, encodeCounterRecord, encodeExtent, encodeMapValue,
  encodeState, eKey, gKey, hKey, lKey, LevelMetaStore, prefixEnd, PREFIX_L,
  type MetaStore,
} from '../../../src/meta/index.js';
import { decodeSegment, encodeSegment } from '../../../src/pool/segment-record.js';
import { MemMetaStore } from '../../../src/testing/mem-store.js';

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'uc-meta-'));
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

const makers: Array<[string, () => Promise<MetaStore>]> = [
  ['MemMetaStore', async () => new MemMetaStore()],
  ['LevelMetaStore', async () => LevelMetaStore.open(fs.mkdtempSync(path.join(dir, 'db-')), { create: true })],
];

for (const [name, make] of makers) {
  describe(`${name} conformance`, () => {
    it('batches, gets and scans (entries and keys) in big-endian key order', async () => {
      const s = await make();
      await s.batch([
        { type: 'put', key: lKey(300), value: Buffer.from('c') },
        { type: 'put', key: lKey(2), value: Buffer.from('a') },
        { type: 'put', key: lKey(256), value: Buffer.from('b') },
        { type: 'put', key: eKey(1), value: Buffer.from('e') },
      ], false);
      expect(s.getSync(lKey(2))?.toString()).toBe('a');
      expect(s.getSync(lKey(3))).toBeUndefined();
      const all = await s.scan(lKey(0), prefixEnd(PREFIX_L), 10);
      expect(all.map(([, v]) => v.toString())).toEqual(['a', 'b', 'c']);
      const limited = await s.scan(lKey(3), lKey(1000), 1);
      expect(limited.map(([, v]) => v.toString())).toEqual(['b']);
      expect(await s.scanKeys(lKey(0), prefixEnd(PREFIX_L), 10)).toEqual(all.map(([k]) => k));
      expect(await s.scanKeys(lKey(3), lKey(1000), 1)).toEqual([lKey(256)]);
      await s.batch([{ type: 'del', key: lKey(256) }], true);
      expect((await s.scan(lKey(0), lKey(1000), 10)).length).toBe(2);
      expect(await s.sizeBytes()).toBeGreaterThan(0);
      await s.close();
    });

    it('takes a batch as ops made while it reads them, atomically: all of a large one, none of a failing one', async () => {
      const s = await make();
      function* ops(n: number, failAt = -1): Generator<{ type: 'put'; key: Buffer; value: Buffer }> {
        for (let i = 0; i < n; i++) {
          if (i === failAt) throw new Error('made to fail');
          yield { type: 'put', key: lKey(i), value: Buffer.from(String(i)) };
        }
      }
      // Larger than a store's piece per turn of the event loop (level-store.ts).
      await s.batch(ops(3000), false);
      expect((await s.scanKeys(lKey(0), prefixEnd(PREFIX_L), 5000)).length).toBe(3000);
      expect(s.getSync(lKey(2999))?.toString()).toBe('2999');
      await expect(s.batch(ops(6000, 4000), false)).rejects.toThrow('made to fail');
      expect(s.getSync(lKey(3500)), 'nothing of the failed batch').toBeUndefined();
      await s.close();
    });
  });
}

describe('LevelMetaStore open', () => {
  it('refuses a missing directory without creating it', async () => {
    const missing = path.join(dir, 'nope');
    await expect(LevelMetaStore.open(missing, { create: false })).rejects.toMatchObject({ code: 'UC_META_MISSING' });
    expect(fs.existsSync(missing)).toBe(false);
  });
});

describe('MemMetaStore crash semantics', () => {
  it('keeps synced batches and a prefix of the unsynced ones', async () => {
    const s = new MemMetaStore();
    const put = (k: number) => ({ type: 'put' as const, key: lKey(k), value: Buffer.from([k]) });
    await s.batch([put(1)], false);
    await s.batch([put(2)], true); // makes batch 1 durable too
    await s.batch([put(3)], false);
    await s.batch([put(4)], false);
    expect(s.pendingBatches).toBe(2);
    const after = s.crash(1);
    expect(after.getSync(lKey(1))).toBeDefined();
    expect(after.getSync(lKey(2))).toBeDefined();
    expect(after.getSync(lKey(3))).toBeDefined();
    expect(after.getSync(lKey(4))).toBeUndefined();
    expect(s.getSync(lKey(1))).toBeUndefined(); // the crashed store is dead
    expect(s.crash.bind(s, 5)).toThrow();
  });
});

describe('records', () => {
  it('round-trip', () => {
    const fp = Buffer.alloc(16, 9);
    const e = { id: 2 ** 40 + 5, segment: 7, offset: 4080, storedBytes: 4096, codecId: 1, refs: 3, fingerprint: fp };
    expect(decodeExtent(e.id, encodeExtent(e))).toEqual(e);
    const ext = encodeMapValue({ kind: 'extent', id: 2 ** 45 + 1 });
    expect(ext.toString('hex')).toBe('01' + '0000200000000001');
    expect(decodeMapValue(ext)).toEqual({ kind: 'extent', id: 2 ** 45 + 1 });
    const pat = Buffer.from([1, 2, 3, 4, 5, 6, 7, 8]);
    const fill = encodeMapValue({ kind: 'fill', pattern: pat });
    expect(fill.toString('hex')).toBe('02' + '0102030405060708');
    expect(decodeMapValue(fill)).toEqual({ kind: 'fill', pattern: pat });
    expect(() => encodeMapValue({ kind: 'fill', pattern: Buffer.alloc(8) })).toThrow();
    expect(() => decodeMapValue(Buffer.from('030000000000000001', 'hex'))).toThrow(/bad map tag/);
    expect(decodeCounterRecord(encodeCounterRecord([0, 7, 2 ** 50]))).toEqual([0, 7, 2 ** 50]);
    expect(encodeCounterRecord([1]).toString('hex')).toBe('0001' + '0000000000000001');
    expect(() => decodeCounterRecord(Buffer.from('000200', 'hex'))).toThrow(/bad size/);
    expect(decodeSegment(encodeSegment({ liveBytes: 5, fillBytes: 9, state: 2 }))).toEqual({ liveBytes: 5, fillBytes: 9, state: 2 });
    const st = {
      version: 1, uuid: Buffer.alloc(16, 1), logicalBytes: 2 ** 40, segmentBytes: 4 << 20, segmentCount: 9,
      nextExtentId: 77, commitSeq: 3, mappedBlocks: 12, extentCount: 4,
    };
    expect(decodeState(encodeState(st))).toEqual(st);
    expect(hKey(fp).length).toBe(17);
    expect(gKey(1).compare(gKey(256))).toBeLessThan(0);
    expect(() => encodeExtent({ ...e, refs: 0 })).toThrow();
  });
});
