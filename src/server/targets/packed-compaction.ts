// Hand-triggered compaction of a packed device (`compact -n ID`, over the
// control socket): one run at a time, one segment per step so that progress
// can be reported and foreground I/O interleaves. The engine's background
// compactor runs on its own; this only asks for more, now. Other control
// operations that change the pool (an online grow) queue behind it through
// `serialized`.

import type { BlockEngine } from '../../engine/index.js';
import type { CompactProgress, CompactResult } from '../control-protocol.js';

export interface CompactionRunner {
  compact(liveFraction: number, onProgress: (p: CompactProgress) => void): Promise<CompactResult>;
  /** Runs `op` once every earlier run and operation finished, and before any later one. */
  serialized<T>(op: () => Promise<T>): Promise<T>;
  /** Resolves once no hand-triggered run is in progress (shutdown waits for it). */
  idle(): Promise<unknown>;
}

export function compactionRunner(engine: BlockEngine): CompactionRunner {
  const segmentBytes = engine.stats().segmentBytes;
  let compacting: Promise<unknown> = Promise.resolve();
  const runOnce = async (liveFraction: number, onProgress: (p: CompactProgress) => void): Promise<CompactResult> => {
    const started = Date.now();
    const before = engine.stats().compaction;
    const total = engine.stats().compaction.candidates;
    let cs = before;
    for (let step = 0; step < engine.stats().segmentCount + 1; step += 1) {
      const prev = cs.segmentsCleaned;
      cs = await engine.compact({ liveFraction, maxSegments: 1 });
      const done = cs.segmentsCleaned - before.segmentsCleaned;
      onProgress({ type: 'progress', done, total: Math.max(total, done), reclaimedBytes: done * segmentBytes });
      if (cs.segmentsCleaned === prev) break;
    }
    // Make the reclaimed space durable and the punched holes final.
    await engine.flush();
    const cleaned = cs.segmentsCleaned - before.segmentsCleaned;
    return {
      segmentsCleaned: cleaned,
      bytesMoved: cs.bytesMoved - before.bytesMoved,
      reclaimedBytes: cleaned * segmentBytes,
      durationMs: Date.now() - started,
    };
  };
  const serialized = <T>(op: () => Promise<T>): Promise<T> => {
    const run = compacting.then(op);
    compacting = run.catch(() => undefined);
    return run;
  };
  return {
    compact: (liveFraction, onProgress) => serialized(() => runOnce(liveFraction, onProgress)),
    serialized,
    idle: () => compacting,
  };
}
