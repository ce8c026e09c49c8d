// The one place that knows BlockEngine's API (src/engine/index.ts): the
// benchmark drives the engine through this narrow interface, so an engine API
// change touches only this file. The engine runs with its product defaults
// (dedup verify, lz4, 200 ms flush delay, background compaction on).
import { formatPool, openPool, type BlockEngine, type EngineStats } from '../../src/engine/index.js';
import { BLOCK_BYTES } from '../../src/util/units.js';

export interface EngineCounters {
  /** Blocks the engine shared with an existing extent. */
  dedupBlocks: number;
  /** Blocks stored as a fill pattern, no data bytes. */
  sameFillBlocks: number;
  /** Fragment bytes (headers + payload + padding) of live extents. */
  liveBytes: number;
  /** Everything stats() returned, for the JSON report. */
  raw: EngineStats;
}

export interface EngineUnderTest {
  /** Writes data (whole blocks) at `lba`. */
  write(lba: number, data: Buffer): Promise<void>;
  /** Reads out.length bytes (whole blocks) from `lba` into `out`. */
  read(lba: number, out: Buffer): Promise<void>;
  flush(): Promise<void>;
  close(): Promise<void>;
  counters(): EngineCounters;
}

export interface EngineFactory {
  format(p: { poolPath: string; metaDir: string; logicalBytes: number }): Promise<EngineUnderTest>;
  open(p: { poolPath: string; metaDir: string }): Promise<EngineUnderTest>;
}

function wrap(engine: BlockEngine): EngineUnderTest {
  return {
    write: (lba, data) => engine.write(lba, data.length / BLOCK_BYTES, data, false),
    read: (lba, out) => engine.read(lba, out.length / BLOCK_BYTES, out),
    flush: () => engine.flush(),
    close: () => engine.close(),
    counters: () => {
      const s = engine.stats();
      return { dedupBlocks: s.dedupHits, sameFillBlocks: s.sameFillBlocks, liveBytes: s.liveBytes, raw: s };
    },
  };
}

/** Why the engine cannot be benchmarked here, or undefined. */
export async function engineUnavailableReason(): Promise<string | undefined> {
  return undefined;
}

export async function openEngineFactory(): Promise<EngineFactory> {
  return {
    format: async ({ poolPath, metaDir, logicalBytes }) =>
      wrap(await formatPool({ backingPath: poolPath, metaDir, logicalBytes })),
    open: async ({ poolPath, metaDir }) => wrap(await openPool({ backingPath: poolPath, metaDir })),
  };
}
