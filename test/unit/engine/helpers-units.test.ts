// Small engine parts: the maybe-mapped bitmap and the read guard.
import { describe, expect, it } from 'vitest';
import { MappedBits } from '../../../src/engine/mapped-bits.js';
import { ReadGuard } from '../../../src/engine/read-guard.js';

describe('MappedBits', () => {
  it('answers "certainly unmapped" only once complete', () => {
    const m = new MappedBits(100);
    expect(m.isClear(5)).toBe(false);
    m.complete = true;
    expect(m.isClear(5)).toBe(true);
    m.set(5);
    expect(m.isClear(5)).toBe(false);
    m.clear(5);
    expect(m.isClear(5)).toBe(true);
    m.set(99);
    m.resize(200);
    expect(m.isClear(99)).toBe(false);
    expect(m.isClear(150)).toBe(true);
    expect(m.isClear(500)).toBe(false); // beyond the end: never claims anything
    expect(m.sizeBytes).toBe(50); // mapped bits + touched bits
  });
});

describe('ReadGuard', () => {
  it('drain waits for reads that started before it, not after', async () => {
    const g = new ReadGuard();
    const early = g.enter();
    let drained = false;
    const d = g.drain().then(() => {
      drained = true;
    });
    const late = g.enter();
    await Promise.resolve();
    expect(drained).toBe(false);
    g.leave(early);
    await d;
    expect(drained).toBe(true);
    g.leave(late);
    await g.drain();
    expect(() => g.leave(late)).toThrow();
  });
});
