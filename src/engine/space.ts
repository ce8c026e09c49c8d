// Space reservation before a write: makes sure the fragments of a batch fit,
// committing (freed segments are reusable only after a durable commit) and
// compacting when the free segments run short. Runs under the engine mutex.
import { FRAGMENT_BYTES_MAX } from '../pool/fragment.js';
import { UcError } from '../util/errors.js';
import { RESERVED_SEGMENTS } from '../util/limits.js';
import type { Compactor } from './compactor.js';
import type { EngineCore } from './core.js';

/** Liveness under which a segment is worth cleaning when space runs out. */
const URGENT_LIVE_FRACTION = 0.95;

/** Free segments a batch of `blocks` needs before it may start. */
function segmentsNeeded(core: EngineCore, blocks: number): number {
  return Math.ceil((blocks * FRAGMENT_BYTES_MAX) / core.segments.segmentBytes) + 1 + RESERVED_SEGMENTS;
}

/** Whether the fragments of `blocks` fit now (then ensureSpace has nothing to do). */
export function hasSpace(core: EngineCore, blocks: number): boolean {
  return core.segments.freeCount >= segmentsNeeded(core, blocks);
}

export async function ensureSpace(core: EngineCore, compactor: Compactor, blocks: number): Promise<void> {
  const segs = core.segments;
  const need = segmentsNeeded(core, blocks);
  if (segs.freeCount >= need) return;
  await core.commit(true);
  await core.settleReclaims();
  for (let round = 0; segs.freeCount < need && round < segs.count; round++) {
    const cleaned = await compactor.step({ liveFraction: URGENT_LIVE_FRACTION, maxSegments: 1 });
    await core.settleReclaims();
    if (cleaned === 0) break;
  }
  if (segs.freeCount < need) {
    throw new UcError('UC_NO_SPACE', `pool is full (${segs.freeCount} free segments, ${need} needed)`);
  }
}
