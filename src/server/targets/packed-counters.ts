// The packed device's cumulative counters: the totals saved by earlier runs
// of this pool (counter-store.ts) plus this process's engine counters, saved
// again every COUNTERS_SAVE_MS while serving and at shutdown.

import type { BlockEngine } from '../../engine/index.js';
import type { Logger } from '../logger.js';
import { loadCounters, saveCounters } from './counter-store.js';
import { addCounters, ZERO_COUNTERS, type PersistedCounters } from './packed-stats.js';

/** Cumulative counters are saved this often while serving (bounds the loss at a kill -9). */
export const COUNTERS_SAVE_MS = 5000;

/** The engine's counters of this process as the persisted shape. */
function sessionCounters(engine: BlockEngine, reclaimedBytes: number): PersistedCounters {
  const s = engine.stats();
  return {
    ...ZERO_COUNTERS,
    blocksWritten: s.blocksWritten,
    blocksRead: s.blocksRead,
    dedupHits: s.dedupHits,
    sameFillBlocks: s.sameFillBlocks,
    compressedBlocks: s.compressedBlocks,
    rawBlocks: s.rawBlocks,
    fingerprintCollisions: s.fingerprintCollisions,
    segmentsCleaned: s.compaction.segmentsCleaned,
    bytesMoved: s.compaction.bytesMoved,
    reclaimedBytes,
  };
}

export interface CounterKeeper {
  /** Earlier runs plus this one. */
  totals(): PersistedCounters;
  /** Saves the totals now (a failure is logged: the pool's data does not depend on them). */
  save(): void;
  /** Saves every COUNTERS_SAVE_MS until stop(). */
  startSaving(): void;
  stop(): void;
}

export function counterKeeper(engine: BlockEngine, metaDir: string, log: () => Logger): CounterKeeper {
  const uuid = engine.uuid;
  const base = loadCounters(metaDir, uuid);
  const segmentBytes = engine.stats().segmentBytes;
  let saveTimer: NodeJS.Timeout | undefined;
  const totals = (): PersistedCounters => {
    const session = sessionCounters(engine, 0);
    session.reclaimedBytes = session.segmentsCleaned * segmentBytes;
    return addCounters(base, session);
  };
  const save = (): void => {
    try {
      saveCounters(metaDir, uuid, totals());
    } catch (err) {
      log().warn({ err }, 'could not save the counters');
    }
  };
  return {
    totals,
    save,
    startSaving: () => {
      saveTimer = setInterval(save, COUNTERS_SAVE_MS);
      saveTimer.unref();
    },
    stop: () => {
      if (saveTimer !== undefined) clearInterval(saveTimer);
    },
  };
}
