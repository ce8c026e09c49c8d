// Fills the mapped-block bitmap (MappedBits) from the store's L keys in the
// background at open, and confirms point-lookup misses while it runs.
import { lbaOfKey, lKey, PREFIX_L, prefixEnd } from '../meta/keys.js';
import { forEachKey, type MetaStore } from '../meta/store.js';
import { UcError } from '../util/errors.js';
import type { MappedBits } from './mapped-bits.js';

/** Scans every L key into `mapped`; on failure the bitmap stays incomplete (lookups still work). */
export function scanMapped(meta: MetaStore, mapped: MappedBits): Promise<void> {
  return (async () => {
    // Keys only: a value is a second buffer copied out of LevelDB per entry, and
    // the scan competes with the first reads after open for the same core.
    await forEachKey(meta, lKey(0), prefixEnd(PREFIX_L), (k) => mapped.seen(lbaOfKey(k)));
    mapped.complete = true;
  })().catch(() => undefined);
}

/**
 * A point lookup found no map entry while the mapped-block scan still runs, so
 * MappedBits cannot vouch for the miss: confirm it with an iterator seek, which
 * does not use table filters. A damaged filter must never read as zeros.
 */
export async function confirmUnmapped(meta: MetaStore, mapped: MappedBits, lba: number): Promise<undefined> {
  if (mapped.complete || mapped.wasTouched(lba)) return undefined;
  const hit = await meta.scan(lKey(lba), lKey(lba + 1), 1);
  if (hit.length > 0 && !mapped.wasTouched(lba)) {
    throw new UcError('UC_META_CORRUPT', `lba ${lba}: a seek finds its map entry but a point lookup misses it (damaged table)`);
  }
  return undefined;
}
