// The one place that knows BlockEngine's API (src/engine/index.ts): the
// benchmark drives the engine through this narrow interface, so an engine API
// change touches only this file. The engine runs with its product defaults
// (dedup verify, lz4, 200 ms flush delay, background compaction on). A reopened
// engine reads as a packed device does: through the addon's native read path
// (PackedTables.probeRead, the device's own code without ublk), and a request
// it hands back goes to the engine in JavaScript.
import { formatPool, openPool, type BlockEngine, type EngineStats } from '../../src/engine/index.js';
import { isMemoryFile } from '../../src/io/index.js';
import { createWriteApply, IoRing, PackedTables } from '../../src/native/index.js';
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
  /** Waits for the scans and the metadata cache warm-up after open. */
  loaded(): Promise<void>;
  /** Read requests the native path served, and those it handed to JavaScript. */
  readPaths(): { native: number; js: number };
}

export interface EngineFactory {
  format(p: { poolPath: string; metaDir: string; logicalBytes: number }): Promise<EngineUnderTest>;
  open(p: { poolPath: string; metaDir: string }): Promise<EngineUnderTest>;
}

function wrap(engine: BlockEngine, read: EngineUnderTest['read'], readPaths: EngineUnderTest['readPaths'], closeReads: () => void): EngineUnderTest {
  return {
    write: (lba, data) => engine.write(lba, data.length / BLOCK_BYTES, data, false),
    read,
    flush: () => engine.flush(),
    close: async () => {
      closeReads();
      await engine.close();
    },
    counters: () => {
      const s = engine.stats();
      return { dedupBlocks: s.dedupHits, sameFillBlocks: s.sameFillBlocks, liveBytes: s.liveBytes, raw: s };
    },
    loaded: () => engine.whenLoaded(),
    readPaths,
  };
}

/** As packed-device.ts sets a device up: new blocks applied in the addon. */
function withNativeApply(engine: BlockEngine): BlockEngine {
  engine.shareNativeApply(createWriteApply());
  return engine;
}

function jsOnly(engine: BlockEngine): EngineUnderTest {
  let js = 0;
  const read = (lba: number, out: Buffer): Promise<void> => {
    js += 1;
    return engine.read(lba, out.length / BLOCK_BYTES, out);
  };
  return wrap(engine, read, () => ({ native: 0, js }), () => undefined);
}

/** Reads as packed-native.ts sets a device up: inline preads for a pool in memory, else on the ring. */
function nativeReads(engine: BlockEngine, poolPath: string): EngineUnderTest {
  const tables = new PackedTables();
  const geometry = engine.shareNativeReads(tables);
  if (geometry === undefined) return jsOnly(engine);
  const ring = new IoRing({ entries: 64 });
  const inline = isMemoryFile(poolPath);
  const paths = { native: 0, js: 0 };
  const read = async (lba: number, out: Buffer): Promise<void> => {
    const blocks = out.length / BLOCK_BYTES;
    const r = await tables.probeRead(ring, geometry, lba, blocks, out, inline);
    if (r !== 'js') {
      paths.native += 1;
      engine.countNativeReads(blocks);
      return;
    }
    paths.js += 1;
    await engine.read(lba, blocks, out);
  };
  const close = (): void => {
    tables.closeProbes();
    ring.close();
  };
  return wrap(engine, read, () => ({ ...paths }), close);
}

/** Why the engine cannot be benchmarked here, or undefined. */
export async function engineUnavailableReason(): Promise<string | undefined> {
  return undefined;
}

export async function openEngineFactory(): Promise<EngineFactory> {
  return {
    format: async ({ poolPath, metaDir, logicalBytes }) =>
      jsOnly(withNativeApply(await formatPool({ backingPath: poolPath, metaDir, logicalBytes }))),
    open: async ({ poolPath, metaDir }) => nativeReads(withNativeApply(await openPool({ backingPath: poolPath, metaDir })), poolPath),
  };
}
