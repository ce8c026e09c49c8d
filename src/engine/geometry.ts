// A change of an open engine's logical size (BlockEngine.resize, under the
// mutex): growing extends a file pool's capacity in proportion; shrinking
// needs allowShrink and fails if any block beyond the new end holds data.
import { lKey, PREFIX_L, prefixEnd } from '../meta/keys.js';
import { UcError } from '../util/errors.js';
import { BLOCK_BYTES } from '../util/units.js';
import { defaultCapacityBytes } from './capacity.js';
import type { EngineCore } from './core.js';

export interface ResizeOptions {
  allowShrink?: boolean;
  capacityBytes?: number;
}

/** [mutex] Sets the logical size to `logicalBytes` (a checked multiple of 4096). */
export async function changeGeometry(c: EngineCore, logicalBytes: number, options: ResizeOptions): Promise<void> {
  if (logicalBytes < c.logicalBytes) {
    if (!options.allowShrink) {
      throw new UcError('UC_INVALID_ARGUMENT', `refusing to shrink from ${c.logicalBytes} to ${logicalBytes} bytes`);
    }
    await c.commit(true);
    const beyond = await c.meta.scan(lKey(logicalBytes / BLOCK_BYTES), prefixEnd(PREFIX_L), 1);
    if (beyond.length > 0) {
      throw new UcError('UC_INVALID_ARGUMENT', 'cannot shrink: blocks beyond the new size hold data');
    }
  }
  await c.applyGeometry(logicalBytes, await grownSegmentCount(c, logicalBytes, options.capacityBytes));
}

/** Grows the pool toward the wanted capacity; returns the segment count it now holds. */
async function grownSegmentCount(c: EngineCore, logicalBytes: number, capacityBytes: number | undefined): Promise<number> {
  const { sb, segments } = c;
  const wanted = capacityBytes ?? defaultCapacityBytes(logicalBytes, sb.segmentBytes);
  const segmentCount = Math.max(segments.count, Math.floor((wanted - sb.dataOffset) / sb.segmentBytes));
  if (segmentCount <= segments.count) return segments.count;
  try {
    await c.pool.grow(sb.dataOffset + segmentCount * sb.segmentBytes);
    return segmentCount;
  } catch (err) {
    // A block device cannot grow: keep its capacity unless more was asked for explicitly.
    if (capacityBytes !== undefined) throw err;
    return segments.count;
  }
}
