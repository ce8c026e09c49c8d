// ReadCache on its own: hits, one fill per fragment across concurrent reads,
// pins that keep a slot from eviction, forget() during a fill, CLOCK eviction.
import { describe, expect, it } from 'vitest';
import { ReadCache } from '../../../src/engine/read-cache.js';

const SEG = 64 * 1024;
const SLOT = 4112;
const frag = (byte: number, n = 100): Buffer => Buffer.alloc(n, byte);

/** Takes (segment, offset) and, on a miss, fills it with `byte`s; unpins. */
function use(cache: ReadCache, segment: number, offset: number, byte = 1): boolean {
  const t = cache.take(segment, offset, true)!;
  if (!t.ready) cache.fill(t.slot, frag(byte));
  cache.unpin(t.slot);
  return t.ready;
}

describe('ReadCache', () => {
  it('serves a fragment once a read filled it, and not while the fill is in flight', () => {
    const cache = new ReadCache(4 * SLOT, SEG);
    const a = cache.take(3, 4096, true)!;
    expect(a).toEqual({ slot: a.slot, ready: false, arenaOffset: a.slot * SLOT });
    expect(cache.take(3, 4096, true)).toBeUndefined(); // another read does not wait: uncached
    cache.fill(a.slot, frag(7));
    const hit = cache.take(3, 4096, false)!;
    expect(hit).toEqual({ slot: a.slot, ready: true, arenaOffset: a.slot * SLOT });
    expect(cache.arena.subarray(hit.arenaOffset, hit.arenaOffset + 100).equals(frag(7))).toBe(true);
    expect(cache.stats).toEqual({ bytes: 4 * SLOT, hits: 1, fills: 1 });
    expect(cache.take(3, 4112, false)).toBeUndefined(); // another fragment; no fill wanted: nothing claimed
    expect(cache.take(4, 4096, false)).toBeUndefined();
  });

  it('never evicts a pinned slot; reads go uncached when every slot is pinned', () => {
    const cache = new ReadCache(2 * SLOT, SEG);
    const a = cache.take(0, 0, true)!;
    const b = cache.take(0, 16, true)!;
    cache.fill(a.slot, frag(1));
    cache.fill(b.slot, frag(2));
    expect(cache.take(1, 0, true)).toBeUndefined();
    cache.unpin(a.slot);
    const c = cache.take(1, 0, true)!;
    expect(c.slot).toBe(a.slot); // the only unpinned slot
    expect(cache.take(0, 0, true)).toBeUndefined(); // evicted, and no slot free to refill
    cache.unpin(b.slot);
    cache.unpin(c.slot);
  });

  it('forgets a segment: a fill in flight is not kept, other segments stay, a pinned slot stays put', () => {
    const cache = new ReadCache(4 * SLOT, SEG);
    const f = cache.take(5, 0, true)!;
    use(cache, 5, 8192);
    use(cache, 6, 0);
    use(cache, 4, SEG - 16);
    cache.forget(5);
    cache.fill(f.slot, frag(9)); // completed after the segment was freed: not kept
    expect(cache.take(5, 8192, false)).toBeUndefined();
    expect(use(cache, 6, 0)).toBe(true);
    expect(use(cache, 4, SEG - 16)).toBe(true);
    const again = cache.take(5, 0, true)!;
    expect(again.ready).toBe(false);
    expect(again.slot).not.toBe(f.slot); // still pinned by the first read
    cache.unpin(f.slot);
    cache.unpin(again.slot);
    expect(cache.stats.fills).toBe(3);
  });

  it('evicts by CLOCK: a fragment hit since it was filled survives one sweep, one read once does not', () => {
    const cache = new ReadCache(2 * SLOT, SEG);
    use(cache, 0, 0);
    use(cache, 1, 0);
    use(cache, 2, 0); // neither was hit: takes the slot under the hand (segment 0's)
    expect(use(cache, 1, 0)).toBe(true); // a hit: segment 1's fragment is referenced
    use(cache, 3, 0); // clears its bit, evicts segment 2's
    expect(cache.take(1, 0, false)?.ready).toBe(true);
    expect(cache.take(2, 0, false)).toBeUndefined();
  });

  it('is disabled at size 0', () => {
    const cache = new ReadCache(0, SEG);
    expect(cache.enabled).toBe(false);
    expect(cache.take(0, 0, true)).toBeUndefined();
  });
});
