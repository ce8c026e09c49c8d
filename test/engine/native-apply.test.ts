// The apply step of new unique blocks in the addon (native-apply.ts,
// native/write-apply.cc) against the JavaScript one: the same writes, with and
// without it (engine.shareNativeApply), leave byte-identical pools and metadata, and while its changes
// are uncommitted every read and every native table lookup already sees them.
import { describe, expect, it } from 'vitest';
import { formatEngine, type BlockEngine } from '../../src/engine/index.js';
import { PREFIX_E, PREFIX_G, PREFIX_H, PREFIX_L } from '../../src/meta/keys.js';
import { createWriteApply, PackedTables } from '../../src/native/index.js';
import { MemMetaStore } from '../../src/testing/mem-store.js';
import { SimDisk } from '../../src/testing/sim-disk.js';
import { BLOCK_BYTES } from '../../src/util/units.js';
import { randInt, rng, Workload, ZERO_BLOCK } from './helpers.js';
import { checkNativeTables } from './native-tables.js';

const BLOCKS = 512;
const SEGMENT_BYTES = 64 * 1024;
const POOL_BYTES = 16 * 1024 * 1024;

interface Outcome {
  records: Array<[string, string]>;
  pool: Buffer;
  nativeApplied: number;
  nativeWritten: number;
}

/** JavaScript alone; the addon's apply step (under the mutex); that and its one-block write path. */
type Mode = 'js' | 'apply' | 'writes';

/** Rounds of one-block writes started together (one coalesced batch each), some flushed;
 * `sequential`: each write awaited before the next starts (so that the one-block path,
 * which applies a write at once, applies them in the order JavaScript does). */
async function run(mode: Mode, seed: number, cacheMib: number, dedupePct: number, sequential = false): Promise<Outcome> {
  const disk = new SimDisk(POOL_BYTES);
  const meta = new MemMetaStore();
  const e: BlockEngine = await formatEngine(disk, meta, {
    logicalBytes: BLOCKS * BLOCK_BYTES, segmentBytes: SEGMENT_BYTES, flushDelayMs: 0, backgroundCompaction: false,
    // Few commits: the addon's changes stay uncommitted across many rounds.
    commitRecordsMax: 100_000, cacheMib,
  });
  // Both runs share the tables with a native reader; only one attaches the apply step
  // (without the one-block write path: writes outside the mutex apply in another order).
  if (mode !== 'js') e.shareNativeApply(createWriteApply(), mode === 'writes');
  const tables = new PackedTables();
  const geometry = e.shareNativeReads(tables);
  if (geometry === undefined) throw new Error('no native reads');
  const shared = { tables, geometry };
  const r = rng(seed);
  const w = new Workload(r, dedupePct, 60);
  const model = new Map<number, Buffer>();
  for (let round = 0; round < 60; round++) {
    const n = 1 + randInt(r, 24);
    const writes: Array<Promise<void>> = [];
    // Writes in flight together complete in any order: a round writes each LBA once.
    const busy = new Set<number>();
    for (let i = 0; i < n; i++) {
      // Mostly one-block writes (coalesced), some of several blocks (applied as one batch).
      const blocks = r() < 0.8 ? 1 : 2 + randInt(r, 30);
      const lba = randInt(r, BLOCKS - blocks);
      const span = Array.from({ length: blocks }, (_, b) => lba + b);
      if (span.some((l) => busy.has(l))) continue;
      for (const l of span) busy.add(l);
      const data = Buffer.alloc(blocks * BLOCK_BYTES);
      for (let b = 0; b < blocks; b++) {
        const block = w.next();
        block.copy(data, b * BLOCK_BYTES);
        model.set(lba + b, block);
      }
      const write = e.write(lba, blocks, data, false);
      // A turn of the event loop after each: background work (a freed segment's
      // reclaim) lands between the same two writes in both runs.
      if (sequential) await write.then(() => new Promise((resolve) => setImmediate(resolve)));
      writes.push(write);
    }
    await Promise.all(writes);
    // Before any commit: the tables a native read uses agree with the engine, and reads see the writes.
    checkNativeTables(e, shared, BLOCKS);
    const probe = randInt(r, BLOCKS);
    const got = Buffer.alloc(BLOCK_BYTES);
    await e.read(probe, 1, got);
    expect(got.equals(model.get(probe) ?? ZERO_BLOCK), `lba ${probe} after round ${round}`).toBe(true);
    if (r() < 0.15) await e.flush();
  }
  await e.flush();
  const { nativeAppliedBlocks: nativeApplied, nativeWrittenBlocks: nativeWritten } = e.stats();
  await e.close();
  const all = await meta.scan(Buffer.from([0]), Buffer.from([0xff]), 1 << 20);
  const kept = new Set([PREFIX_L, PREFIX_E, PREFIX_H, PREFIX_G]);
  const records = all.filter(([k]) => kept.has(k[0])).map(([k, v]): [string, string] => [k.toString('hex'), v.toString('hex')]);
  const pool = Buffer.alloc(POOL_BYTES);
  await disk.pread(pool, 0, POOL_BYTES, 0);
  return { records, pool, nativeApplied, nativeWritten };
}

describe('native apply of new unique blocks', () => {
  for (const [name, cacheMib, dedupe] of [
    ['default cache, 30% duplicates', 48, 30],
    ['~2 KiB of cache (constant misses and evictions), 30% duplicates', 2 / 1024, 30],
    ['no duplicates', 48, 0],
  ] as const) {
    it(`leaves the same pool and metadata as JavaScript alone: ${name}`, async () => {
      for (const seed of [1, 2, 3]) {
        const js = await run('js', seed, cacheMib, dedupe);
        const native = await run('apply', seed, cacheMib, dedupe);
        expect(js.nativeApplied).toBe(0);
        expect(native.nativeApplied, 'the addon applied blocks').toBeGreaterThan(100);
        expect(native.records).toEqual(js.records);
        // The superblocks hold each pool's own uuid: compare the segments only.
        expect(native.pool.subarray(SEGMENT_BYTES).equals(js.pool.subarray(SEGMENT_BYTES)), 'segment bytes').toBe(true);
      }
    });

    it(`one-block writes applied in the addon outside the mutex leave the same pool and metadata: ${name}`, async () => {
      for (const seed of [4, 5]) {
        const js = await run('js', seed, cacheMib, dedupe, true);
        const native = await run('writes', seed, cacheMib, dedupe, true);
        expect(js.nativeWritten).toBe(0);
        expect(native.nativeWritten, 'the addon wrote blocks outside the mutex').toBeGreaterThan(100);
        expect(native.records).toEqual(js.records);
        expect(native.pool.subarray(SEGMENT_BYTES).equals(js.pool.subarray(SEGMENT_BYTES)), 'segment bytes').toBe(true);
      }
    });
  }
});
