// Range prefetch of clean metadata: before a multi-block read (or write) resolves
// its blocks one by one, the L records of its range that neither an overlay nor
// the cache holds, and then the E records they point at, are loaded into the
// clean-record cache (meta-cache.ts) with range scans. A LevelDB point lookup
// costs several times a scanned entry; a cold 1 MiB read made 512 of them.
//
// Safety: the cache's rule is that an entry equals the store's value for its key.
// A scan runs without the mutex and reads a snapshot of the store; a batch applied
// while it ran (or a thaw) bumps MetaView.epoch, and then nothing it returned is
// cached. With the epoch unchanged, the store held the scanned values when the
// scan ended and still does: a later batch refreshes or drops these entries as it
// does any other. Keys an overlay holds are skipped (the overlay answers them).
// Failures are swallowed: the point lookups that follow find (and report) them.
import { eKey, extentIdOfKey, lbaOfKey, lKey } from '../meta/keys.js';
import { decodeExtent, decodeMapValue } from '../meta/records.js';
import { PREFETCH_EXTENT_GAP, PREFETCH_RECORDS_MIN } from '../util/limits.js';
import type { MetaView } from './meta-view.js';

/** Loads [lba, lba + blocks)'s missing map records and their extents into the cache;
 * undefined (synchronously) when too few are missing to be worth a scan. */
export function prefetchRange(view: MetaView, lba: number, blocks: number): Promise<void> | undefined {
  let first = -1;
  let last = -1;
  let missing = 0;
  for (let l = lba; l < lba + blocks; l++) {
    if (view.mapped.isClear(l) || view.hasPendingMap(l) || view.cache.hasMap(l)) continue;
    if (first < 0) first = l;
    last = l;
    missing += 1;
  }
  if (missing < PREFETCH_RECORDS_MIN) return undefined;
  return loadMaps(view, first, last);
}

async function loadMaps(view: MetaView, first: number, last: number): Promise<void> {
  try {
    const epoch = view.epoch;
    const entries = await view.store.scan(lKey(first), lKey(last + 1), last + 1 - first);
    if (view.epoch !== epoch) return;
    const ids: number[] = [];
    for (const [k, v] of entries) {
      const l = lbaOfKey(k);
      const m = decoded(() => decodeMapValue(v));
      if (m === undefined || view.hasPendingMap(l)) continue;
      view.cache.putMap(l, m); // a cached entry already equals this value: no harm
      if (m.kind === 'extent' && !view.hasPendingExtent(m.id) && !view.cache.hasExtent(m.id)) ids.push(m.id);
    }
    if (ids.length >= PREFETCH_RECORDS_MIN) await prefetchExtents(view, ids);
  } catch {
    // An optimisation only: the point lookups report what went wrong.
  }
}

/** Loads the E records of `ids` (not cached, not pending) with one scan per dense run. */
async function prefetchExtents(view: MetaView, ids: number[]): Promise<void> {
  ids.sort((a, b) => a - b);
  const runs: Array<[number, number]> = [];
  for (const id of ids) {
    const run = runs.at(-1);
    if (run !== undefined && id - run[1] <= PREFETCH_EXTENT_GAP) run[1] = id;
    else runs.push([id, id]);
  }
  const epoch = view.epoch;
  const scanned = await Promise.all(runs.map(([lo, hi]) => view.store.scan(eKey(lo), eKey(hi + 1), hi + 1 - lo)));
  if (view.epoch !== epoch) return;
  const wanted = new Set(ids);
  for (const entries of scanned) {
    for (const [k, v] of entries) {
      const id = extentIdOfKey(k);
      if (!wanted.has(id) || view.hasPendingExtent(id)) continue;
      const e = decoded(() => decodeExtent(id, v));
      if (e !== undefined) view.cache.putExtent(e);
    }
  }
}

/** A record's decoded value, or undefined when it is damaged (its point lookup reports it). */
function decoded<T>(decode: () => T): T | undefined {
  try {
    return decode();
  } catch {
    return undefined;
  }
}
