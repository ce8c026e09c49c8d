// The packed native read path's view of an engine (PackedTables reading the
// engine's clean-record tables in place), checked against the engine's own
// JS view: what the crash simulation asserts after every operation, and a
// native read held in flight across a compaction (the read guard must keep
// its fragment's segment from being punched or reused until it ends).
import { expect } from 'vitest';
import type { BlockEngine, NativeReadGeometry } from '../../src/engine/index.js';
import type { EngineCore } from '../../src/engine/core.js';
import { createWriteApply, PackedTables } from '../../src/native/index.js';
import { readFragmentHeader } from '../../src/pool/fragment.js';
import type { PoolStore } from '../../src/pool/store.js';

export interface SharedTables {
  tables: PackedTables;
  geometry: NativeReadGeometry;
}

function coreOf(e: BlockEngine): EngineCore {
  return (e as unknown as { core: EngineCore }).core;
}

/** Shares the engine's tables with a native reader, and attaches the addon's apply step, as a daemon does. */
export function shareTables(e: BlockEngine): SharedTables {
  if (!e.shareNativeApply(createWriteApply())) throw new Error('the engine did not take the native apply step');
  const tables = new PackedTables();
  const geometry = e.shareNativeReads(tables);
  if (geometry === undefined) throw new Error('the engine did not share its tables');
  return { tables, geometry };
}

/** Every LBA the native side resolves resolves the same way in the JS view: to
 * zeros (unmapped), or to the same extent (when its segment is still in RAM,
 * the RAM copy holds that extent's fragment header there: what a native read
 * copies). Returns how many LBAs it resolved. */
export function checkNativeTables(e: BlockEngine, s: SharedTables, blocks: number): number {
  const core = coreOf(e);
  let hits = 0;
  // Plain comparisons, not expect(): this runs for every LBA after every operation.
  const fail = (lba: number, what: string): never => {
    throw new Error(`native tables disagree with the engine at lba ${lba}: ${what}`);
  };
  for (let lba = 0; lba < blocks; lba++) {
    if (s.tables.unmapped(lba)) {
      const v = core.getMap(lba);
      if (v !== undefined) fail(lba, `reads zeros natively but maps to ${JSON.stringify(v)}`);
      hits += 1;
      continue;
    }
    const loc = s.tables.lookup(lba);
    if (loc === undefined) continue;
    hits += 1;
    const v = core.getMap(lba);
    if (v?.kind !== 'extent' || v.id !== loc.extentId) fail(lba, `native extent ${loc.extentId}, engine ${JSON.stringify(v)}`);
    const x = core.getExtent(loc.extentId);
    if (x === undefined || x.segment !== loc.segment || x.offset !== loc.offset || x.storedBytes !== loc.storedBytes || x.codecId !== loc.codecId) {
      fail(lba, `native location ${JSON.stringify(loc)}, engine ${JSON.stringify(x)}`);
    }
    const mem = core.unwritten(loc.segment);
    if (mem !== undefined && headerExtentIn(mem, loc.offset) !== loc.extentId) {
      fail(lba, `segment ${loc.segment} in RAM holds extent ${headerExtentIn(mem, loc.offset)} at ${loc.offset}`);
    }
  }
  return hits;
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** The extent id in the fragment header at `offset` of `buf` (-1: no header there). */
function headerExtentIn(buf: Buffer, offset: number): number {
  return readFragmentHeader(buf, offset)?.extentId ?? -1;
}

/** The extent id in the fragment header at (segment, offset) of the pool file. */
async function headerExtent(pool: PoolStore, g: NativeReadGeometry, segment: number, offset: number): Promise<number> {
  const h = Buffer.alloc(16);
  await pool.pread(h, 0, 16, g.dataOffset + segment * g.segmentBytes + offset);
  return headerExtentIn(h, 0);
}

/**
 * Holds a native read of the first LBA the tables resolve from `from` on (as
 * the addon does: a read sequence number taken when the location is resolved)
 * while `compact` runs. While held, the fragment must stay where the read
 * found it; when its segment was freed meanwhile, the compaction (which
 * awaits the reclaim) must not finish before the read ends. Returns true when
 * the held segment was freed, false when it was not (or nothing resolved).
 */
export async function heldAcrossCompaction(
  e: BlockEngine, s: SharedTables, from: number, blocks: number, compact: () => Promise<boolean>,
): Promise<boolean> {
  const core = coreOf(e);
  // A read from the pool file (one from a segment in RAM copies its bytes when it starts).
  const inFile = (l: number): ReturnType<PackedTables['lookup']> => {
    const r = s.tables.lookup(l);
    return r !== undefined && core.unwritten(r.segment) === undefined ? r : undefined;
  };
  let lba = from;
  let loc = inFile(lba);
  for (let k = 1; loc === undefined && k < blocks; k++) loc = inFile((lba = (from + k) % blocks));
  if (loc === undefined) return false;
  const seq = s.tables.handle.beginForTest();
  let done: boolean | undefined; // the compaction's outcome once it settled: committed or not
  const run = compact().then((ok) => {
    done = ok;
  });
  let freed = false;
  try {
    for (let i = 0; i < 10 && done === undefined; i++) await sleep(2);
    const now = core.getExtent(loc.extentId);
    freed = now === undefined || now.segment !== loc.segment;
    // A committed compaction awaits its reclaims, and a reclaim waits for this read.
    if (freed) expect(done, 'a compaction that freed a segment under a native read finished before the read').not.toBe(true);
    const id = await headerExtent(e.pool, s.geometry, loc.segment, loc.offset);
    expect(id, `lba ${lba}: the fragment under a native read in flight was punched or overwritten`).toBe(loc.extentId);
  } finally {
    s.tables.handle.endForTest(seq);
  }
  await run;
  return freed && done === true;
}
