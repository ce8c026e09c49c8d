// EngineStats from the core's state and counters (BlockEngine.stats()).
import { uuidText } from '../pool/format.js';
import { BLOCK_BYTES } from '../util/units.js';
import type { Compactor } from './compactor.js';
import type { EngineCore } from './core.js';
import type { CompactionStats, EngineStats } from './types.js';

export function compactionStats(c: EngineCore, compactor: Compactor): CompactionStats {
  return {
    segmentsCleaned: c.counters.segmentsCleaned,
    bytesMoved: c.counters.bytesMoved,
    candidates: c.segments.candidates(c.opts.compactLiveFraction, Number.MAX_SAFE_INTEGER).length,
    running: compactor.running,
  };
}

export function engineStats(c: EngineCore, compactor: Compactor): Omit<EngineStats, 'mutex'> {
  const segs = c.segments;
  const liveBytes = segs.totalLiveBytes();
  const used = segs.usedCount();
  return {
    uuid: uuidText(c.sb.uuid),
    logicalBytes: c.logicalBytes,
    segmentBytes: c.sb.segmentBytes,
    segmentCount: segs.count,
    freeSegments: segs.freeCount,
    usedSegments: used,
    mappedBlocks: c.mappedBlocks,
    extents: c.extentCount,
    liveBytes,
    physicalBytes: used * c.sb.segmentBytes,
    ratio: liveBytes === 0 ? 1 : (c.mappedBlocks * BLOCK_BYTES) / liveBytes,
    ...c.counters,
    totals: c.totals(),
    compaction: compactionStats(c, compactor),
    readCache: c.readCache.stats,
    cache: c.cacheStats(),
    nativeAppliedBlocks: c.nativeApply?.applied ?? 0,
    nativeWrittenBlocks: c.nativeWrites?.applied ?? 0,
    ...(c.nativeWrites ? { nativeWriteDeclines: c.nativeWrites.declines() } : {}),
  };
}
