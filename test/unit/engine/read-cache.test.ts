// ReadCache on its own: hits, one fill per chunk across concurrent reads, pins
// that keep a slot from eviction, forget() during a fill, and CLOCK eviction.
import { describe, expect, it } from 'vitest';
import { READ_CACHE_CHUNK_BYTES as C, ReadCache } from '../../../src/engine/read-cache.js';

const SEG = 64 * 1024;
const SLOT = C + 4112;

describe('ReadCache', () => {
  it('fills a chunk once, then serves every fragment that starts in it', () => {
    const cache = new ReadCache(4 * SLOT, SEG);
    const mine = new Set<number>();
    const a = cache.take(3, C + 100, mine, true)!;
    expect(a.ready).toBe(false);
    // The slot holds the chunk and one largest fragment past it (but not past the segment).
    expect(a.fill).toEqual({ segmentOffset: C, bytes: SLOT, arenaOffset: a.slot * SLOT });
    expect(a.arenaOffset).toBe(a.slot * SLOT + 100);
    mine.add(a.slot);
    // Same chunk, same read: no second fill. Another read does not wait for it.
    expect(cache.take(3, 2 * C - 16, mine, true)).toEqual({ slot: a.slot, ready: false, arenaOffset: a.slot * SLOT + C - 16 });
    expect(cache.take(3, C + 200, new Set(), true)).toBeUndefined();
    cache.filled(a.slot);
    const hit = cache.take(3, C + 4000, new Set(), false)!;
    expect(hit).toEqual({ slot: a.slot, ready: true, arenaOffset: a.slot * SLOT + 4000 });
    expect(cache.stats).toEqual({ bytes: 4 * SLOT, hits: 1, fills: 1 });
    // The last chunk of a segment reads no further than the segment's end.
    expect(cache.take(3, SEG - 32, new Set(), true)!.fill!.bytes).toBe(C);
    // Without mayFill a miss claims nothing.
    expect(cache.take(4, 0, new Set(), false)).toBeUndefined();
  });

  it('never evicts a pinned slot; reads go uncached when every slot is pinned', () => {
    const cache = new ReadCache(2 * SLOT, SEG);
    const a = cache.take(0, 0, new Set(), true)!;
    const b = cache.take(0, C, new Set(), true)!;
    cache.filled(a.slot);
    cache.filled(b.slot);
    expect(cache.take(1, 0, new Set(), true)).toBeUndefined();
    cache.unpin(a.slot);
    const c = cache.take(1, 0, new Set(), true)!;
    expect(c.slot).toBe(a.slot); // the only unpinned slot
    expect(cache.take(0, 0, new Set(), true)).toBeUndefined(); // evicted, and no slot free to refill
    cache.unpin(b.slot);
    cache.unpin(c.slot);
  });

  it('forgets a segment: a fill in flight is not served after it, and its pinned slot stays put', () => {
    const cache = new ReadCache(3 * SLOT, SEG);
    const f = cache.take(5, 0, new Set(), true)!;
    const other = cache.take(6, 0, new Set(), true)!;
    cache.filled(other.slot);
    cache.forget(5);
    cache.filled(f.slot); // the fill completed after the segment was freed: not indexed
    expect(cache.take(6, 0, new Set(), false)!.ready).toBe(true);
    const again = cache.take(5, 0, new Set(), true)!;
    expect(again.ready).toBe(false);
    expect(again.slot).not.toBe(f.slot); // still pinned by the first read
    cache.unpin(f.slot);
    cache.forget(6);
    expect(cache.take(6, 0, new Set(), false)).toBeUndefined();
  });

  it('evicts by CLOCK: a chunk hit since it was filled survives one sweep, one read once does not', () => {
    const cache = new ReadCache(2 * SLOT, SEG);
    const take = (seg: number) => {
      const t = cache.take(seg, 0, new Set(), true)!;
      if (!t.ready) cache.filled(t.slot);
      cache.unpin(t.slot);
      return t;
    };
    take(0);
    take(1);
    take(2); // neither was hit: takes the slot under the hand (segment 0's)
    take(1); // a hit: segment 1 is referenced
    take(3); // clears segment 1's bit, evicts segment 2's
    expect(cache.take(1, 0, new Set(), false)?.ready).toBe(true);
    expect(cache.take(2, 0, new Set(), false)).toBeUndefined();
  });

  it('is disabled at size 0', () => {
    const cache = new ReadCache(0, SEG);
    expect(cache.enabled).toBe(false);
    expect(cache.take(0, 0, new Set(), true)).toBeUndefined();
  });
});
