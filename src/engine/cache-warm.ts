// Fills the metadata cache from the store after open, in the background: the L
// records first, then the E records, in key order, until a table has no free
// room. A read whose records are cached is served by the native read path (and
// a write's lookups skip LevelDB); without this, every block's first read after
// a restart goes to JavaScript and two LevelDB point lookups.
//
// Never evicts (a full table keeps what reads brought in), and never breaks the
// cache rule (meta-cache.ts): a chunk is taken only if no batch was applied
// since its scan's snapshot, and keys with a pending change are skipped
// (MetaView.warm). A stale chunk is scanned again from the same key.
import { eKey, keySuccessor, lKey, PREFIX_E, PREFIX_L, prefixEnd } from '../meta/keys.js';
import type { MetaStore } from '../meta/store.js';
import { SCAN_CHUNK_ENTRIES } from '../util/limits.js';
import type { MetaView } from './meta-view.js';

export interface WarmResult {
  /** Records taken from each scan (pending ones skipped) before it ended. */
  maps: number;
  extents: number;
  /** Chunks scanned again because a batch was applied meanwhile. */
  rescans: number;
  /** A table ran out of room before its scan ended. */
  full: boolean;
  /** Ended early: closing, or writes committed under every scan (see STALE_MAX). */
  cut: boolean;
}

/** Consecutive stale chunks after which the warm-up ends: under a steady stream
 * of commits, the writes and their reads warm the cache anyway. */
const STALE_MAX = 8;

/** Warms both tables; `stopped()` ends it early (the engine is closing). */
export async function warmCache(meta: MetaStore, view: MetaView, stopped: () => boolean): Promise<WarmResult> {
  const r: WarmResult = { maps: 0, extents: 0, rescans: 0, full: false, cut: false };
  r.maps = await warmKind(meta, view, 'maps', lKey(0), prefixEnd(PREFIX_L), stopped, r);
  if (!r.cut) r.extents = await warmKind(meta, view, 'extents', eKey(0), prefixEnd(PREFIX_E), stopped, r);
  return r;
}

async function warmKind(
  meta: MetaStore, view: MetaView, kind: 'maps' | 'extents', gte: Buffer, lt: Buffer, stopped: () => boolean, r: WarmResult,
): Promise<number> {
  let placed = 0;
  let from = gte;
  let stale = 0;
  for (;;) {
    if (stopped() || stale === STALE_MAX) {
      r.cut = true;
      return placed;
    }
    const epoch = view.epoch;
    const entries = await meta.scan(from, lt, SCAN_CHUNK_ENTRIES);
    if (stopped()) continue;
    const taken = view.warm(kind, epoch, entries);
    if (taken < 0) {
      r.rescans += 1;
      stale += 1;
      continue;
    }
    stale = 0;
    placed += taken;
    if (taken < entries.length) {
      r.full = true;
      return placed;
    }
    if (entries.length < SCAN_CHUNK_ENTRIES) return placed;
    from = keySuccessor(entries[entries.length - 1][0]);
  }
}
