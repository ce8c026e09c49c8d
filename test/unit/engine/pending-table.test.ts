// MetaView's pending tables (pending-table.ts) against a Map: every key put
// stays findable with its last value and state through growth and merges.
import { describe, expect, it } from 'vitest';
import { DELETED, EMPTY, LIVE, PendingTable } from '../../../src/engine/pending-table.js';
import { randInt, rng } from '../../engine/helpers.js';

type Entry = { state: number; value: number };

function put(t: PendingTable, k0: number, k1: number, e: Entry): void {
  t.key[0] = k0;
  t.key[1] = k1;
  const slot = t.upsert(); // may grow: take the arrays after
  t.state[slot] = e.state;
  t.values[slot * 2] = e.value;
  t.values[slot * 2 + 1] = ~e.value >>> 0;
}

function get(t: PendingTable, k0: number, k1: number): Entry | undefined {
  t.key[0] = k0;
  t.key[1] = k1;
  const slot = t.find();
  if (slot < 0) return undefined;
  expect(t.values[slot * 2 + 1]).toBe(~t.values[slot * 2] >>> 0);
  return { state: t.state[slot], value: t.values[slot * 2] };
}

function entries(t: PendingTable): number {
  let n = 0;
  for (let s = 0; s < t.capacity; s++) if (t.state[s] !== EMPTY) n += 1;
  return n;
}

describe('PendingTable', () => {
  it('finds every key with its last value and state while it grows', () => {
    const r = rng(7);
    const t = new PendingTable(2, 2);
    const model = new Map<string, Entry>();
    for (let i = 0; i < 20_000; i++) {
      // Dense low words (LBAs) and a few high words: neighbours and repeats.
      const k0 = randInt(r, 5000);
      const k1 = randInt(r, 3);
      const e = { state: r() < 0.2 ? DELETED : LIVE, value: randInt(r, 0xffff_ffff) };
      put(t, k0, k1, e);
      model.set(`${k0}:${k1}`, e);
    }
    expect(t.size).toBe(model.size);
    expect(entries(t)).toBe(model.size);
    expect(t.size * 2).toBeLessThanOrEqual(t.capacity);
    for (const [k, e] of model) {
      const [k0, k1] = k.split(':').map(Number);
      expect(get(t, k0, k1)).toEqual(e);
    }
    expect(get(t, 5001, 0)).toBeUndefined();
    expect(get(t, 1, 7)).toBeUndefined();
  });

  it('merges a newer table over an older one, the newer winning', () => {
    const older = new PendingTable(2, 2);
    const newer = new PendingTable(2, 2);
    for (let k = 0; k < 1000; k++) put(older, k, 0, { state: LIVE, value: k });
    for (let k = 500; k < 1500; k++) put(newer, k, 0, { state: k % 2 === 0 ? DELETED : LIVE, value: k + 10_000 });
    older.mergeFrom(newer);
    expect(older.size).toBe(1500);
    for (let k = 0; k < 1500; k++) {
      const want = k < 500 ? { state: LIVE, value: k } : { state: k % 2 === 0 ? DELETED : LIVE, value: k + 10_000 };
      expect(get(older, k, 0)).toEqual(want);
    }
    // The source is unchanged.
    expect(newer.size).toBe(1000);
    expect(get(newer, 499, 0)).toBeUndefined();
  });
});
