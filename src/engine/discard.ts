// Discard and write-zeroes: range operations on the map. Short ranges are
// resolved LBA by LBA (synchronous lookups); long ones scan only the L keys
// that exist in the range, so an unwritten range costs one scan, not a loop.
// The caller holds the engine mutex.
import { lbaOfKey, lKey, keySuccessor } from '../meta/keys.js';
import { SCAN_CHUNK_ENTRIES } from '../util/limits.js';
import type { EngineCore } from './core.js';

const SHORT_RANGE_BLOCKS = 256;

export async function unmapRange(core: EngineCore, lba: number, blocks: number): Promise<void> {
  const end = lba + blocks;
  if (blocks <= SHORT_RANGE_BLOCKS) {
    for (let l = lba; l < end; l++) if (core.getMap(l) !== undefined) core.setMap(l, null);
    return;
  }
  // The scan below sees the store only: let a commit in flight land, then walk the
  // pending (uncommitted) entries first.
  await core.settleCommit();
  for (const l of core.pendingMappedIn(lba, end)) core.setMap(l, null);
  let from = lKey(lba);
  const to = lKey(end);
  for (;;) {
    const entries = await core.meta.scan(from, to, SCAN_CHUNK_ENTRIES);
    for (const [k] of entries) {
      const l = lbaOfKey(k);
      if (core.getMap(l) !== undefined) core.setMap(l, null);
    }
    if (entries.length < SCAN_CHUNK_ENTRIES) break;
    from = keySuccessor(entries[entries.length - 1][0]);
    if (core.needsCommit()) {
      await core.commit(false);
      await core.settleCommit();
    }
  }
}
