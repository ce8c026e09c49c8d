// Crash simulation (docs/design.md, rules 1-4): seeded workloads over SimDisk + MemMetaStore,
// crashed at random instants (between operations and inside in-flight ones, at a
// random microtask), then reopened and verified block by block against the set of
// contents each LBA may legally hold, audited (refcounts vs map, live bytes,
// fingerprints), compacted and audited again. The whole run is done twice: on a
// disk that completes writes in order, and on one that completes them out of
// order (seeded; SimDisk `reorder`), each with >= 500 crash points. Now and
// then ENOSPC is injected into the disk or the metadata store for a few
// operations: mutations may then fail with UC_NO_SPACE (the blocks they touched
// are read back to learn which content they took), and must work again after.
// Some operations are writes to disjoint ranges started together, with a
// compaction step among them: each write is classified and its dedup candidates
// read before it takes the engine mutex, so their phases interleave.
// The engine's persisted counters (C record) are checked at each reopen: never
// below what was made durable, never above what was ever written.
// Every other case runs with a read cache of two fragments (constant eviction),
// the rest with the default one; most cases verify in small reads that fill it,
// so the compactor pass that follows frees segments whose fragments are cached.
// The cases without the tiny read cache run with a metadata cache (meta-cache.ts)
// far smaller than their working set, so records are evicted and paged in from
// the store all the time.
// The metadata cache is warmed from the store after each reopen (cache-warm.ts),
// racing the verification reads and the workload that follows.
// The packed native read path's tables (the same cache, read in place by the
// addon) are attached throughout: after every operation each LBA they resolve
// must resolve the same way in the engine's view, to a segment out of RAM; and
// now and then a native read is held in flight across a compaction, which must
// leave its fragment in place until the read ends (native-tables.ts). The
// addon's apply step and its one-block write path (native-writes.ts: applied
// outside the mutex while no exclusive section is held or queued, the journal
// record appended right after) are attached too.
//   CRASH_POINTS=<n>  crash points per completion order (default 540, >= 500)
//   CRASH_SEED=<n>    replay the one case with that seed (with CRASH_REORDER=1:
//                     the out-of-order run's case)
import { describe, expect, it } from 'vitest';
import { auditPool, formatEngine, openEngine, type BlockEngine, type Counters } from '../../src/engine/index.js';
import { KEY_S } from '../../src/meta/keys.js';
import { MemMetaStore } from '../../src/testing/mem-store.js';
import { decodeState } from '../../src/meta/records.js';
import { readSuperblock } from '../../src/pool/format.js';
import { SimDisk, type CrashFate } from '../../src/testing/sim-disk.js';
import { simJournalFile } from '../../src/testing/sim-journal.js';
import type { JournalFile } from '../../src/engine/write-journal.js';
import { ENOSPC } from '../../src/util/errno.js';
import { BLOCK_BYTES } from '../../src/util/units.js';
import { randInt, rng, Workload, ZERO_BLOCK } from './helpers.js';
import { checkNativeTables, heldAcrossCompaction, shareTables } from './native-tables.js';

const LOGICAL_BLOCKS = 384;
const SEGMENT_BYTES = 64 * 1024;
const POOL_BYTES = 4096 + 40 * SEGMENT_BYTES;
const CYCLES_PER_CASE = 3;
const DEDUPE = [0, 45, 90];
const COMPRESS = [0, 60, 90];
const OPTS = { flushDelayMs: 0, backgroundCompaction: false, commitRecordsMax: 48, stallRetryMs: 0 } as const;
/** A cache budget of ~2 KiB: a few dozen records per kind for 384 LBAs. */
const TINY_CACHE_MIB = 2 / 1024;
/** Chance per operation that ENOSPC is injected for the next 1-4 operations. */
const FAULT_CHANCE = 0.04;

function enospc(): Error {
  return Object.assign(new Error('ENOSPC: no space left on device (injected)'), { code: 'ENOSPC', errno: -ENOSPC });
}

const TORN_COPY = /^superblock copy \d is damaged: checksum mismatch/;

interface Case {
  seed: number;
  dedupePct: number;
  compressPct: number;
  compaction: boolean;
  /** Writes complete out of order (SimDisk reorder mode). */
  reorder: boolean;
  /** Read cache size: the default, or two fragments (constant eviction). */
  readCacheBytes: number | undefined;
  /** Blocks per read call when verifying: small reads fill the read cache, so a
   * compactor pass then frees segments whose fragments it holds. */
  verifyReadBlocks: number;
  /** The engine's cacheMib (undefined: the default, which holds everything). */
  cacheMib: number | undefined;
  /** Bytes of each write-journal file (small ones force durable commits to make room). */
  journalBytes: number;
  /** The crash kills the process only: every write issued survives in page cache,
   * so every mutation that completed must read back exactly (the write journal). */
  processCrash: boolean;
}

const TINY_READ_CACHE = 2 * 4112; // two fragments

/** Most microtasks an out-of-order write waits: long enough to outlast later seals. */
const REORDER_TICKS_MAX = 400;

function caseOf(seed: number, reorder: boolean): Case {
  const cell = seed % 9;
  return {
    seed,
    reorder,
    dedupePct: DEDUPE[Math.floor(cell / 3)],
    compressPct: COMPRESS[cell % 3],
    compaction: Math.floor(seed / 9) % 2 === 0,
    readCacheBytes: seed % 2 === 0 ? TINY_READ_CACHE : undefined,
    verifyReadBlocks: seed % 3 === 0 ? LOGICAL_BLOCKS : 12,
    cacheMib: seed % 2 === 1 ? TINY_CACHE_MIB : undefined,
    journalBytes: seed % 5 === 0 ? 96 * 1024 : 1024 * 1024,
    processCrash: seed % 4 === 3,
  };
}

/** Per LBA, the contents it may hold after a crash (the first is the durable one). */
class CrashModel {
  /** Bumped at each crash: an abandoned operation finishing later must not count. */
  epoch = 0;
  allowed = new Map<number, Buffer[]>();
  latest = new Map<number, Buffer>();
  /** ENOSPC was injected in this case: mutations may fail with UC_NO_SPACE. */
  faultSeen = false;
  /** The persisted blocksWritten total at the last reopen. */
  writtenBase = 0;
  /** Blocks of write calls started / completed since the last reopen. */
  writtenStarted = 0;
  writtenDone = 0;
  /** What the persisted total must at least hold: base + writes completed before the last durable point. */
  writtenFloor = 0;

  durablePoint(): void {
    this.writtenFloor = this.writtenBase + this.writtenDone;
  }

  /** After a reopen: the C record counts every write made durable, and none never started. */
  checkCounters(totals: Counters): void {
    const t = totals.blocksWritten;
    expect(t, 'persisted blocksWritten below what was made durable').toBeGreaterThanOrEqual(this.writtenFloor);
    expect(t, 'persisted blocksWritten above what was ever written').toBeLessThanOrEqual(this.writtenBase + this.writtenStarted);
    // Each written block is counted as exactly one kind, in the same synchronous step.
    expect(totals.sameFillBlocks + totals.dedupHits + totals.compressedBlocks + totals.rawBlocks, 'block kinds').toBe(t);
    this.writtenBase = t;
    this.writtenStarted = 0;
    this.writtenDone = 0;
    this.writtenFloor = t;
  }

  started(lba: number, data: Buffer): void {
    for (let i = 0; i * BLOCK_BYTES < data.length; i++) {
      const b = data.subarray(i * BLOCK_BYTES, (i + 1) * BLOCK_BYTES);
      const list = this.allowed.get(lba + i) ?? [ZERO_BLOCK];
      list.push(b);
      this.allowed.set(lba + i, list);
      this.latest.set(lba + i, b);
    }
  }

  durable(lba: number, blocks: number): void {
    for (let i = lba; i < lba + blocks; i++) this.allowed.set(i, [this.latest.get(i) ?? ZERO_BLOCK]);
  }

  flushed(): void {
    for (const [lba, b] of this.latest) this.allowed.set(lba, [b]);
  }
}

/** Failed mutations and the engine's recoveries, across the run (proves the faults bit). */
let stalls = 0;

/** Awaits a mutation; returns false when it failed with UC_NO_SPACE under an injected
 * fault, after reading back the blocks it touched (each must hold an allowed content). */
async function mutated(e: BlockEngine, m: CrashModel, p: Promise<void>, lba = 0, blocks = 0): Promise<boolean> {
  const epoch = m.epoch;
  try {
    await p;
    return true;
  } catch (err) {
    if (!m.faultSeen || (err as { code?: string }).code !== 'UC_NO_SPACE' || m.epoch !== epoch) throw err;
    stalls += 1;
    if (blocks === 0) return false;
    const out = Buffer.alloc(blocks * BLOCK_BYTES);
    await e.read(lba, blocks, out);
    for (let i = 0; i < blocks && m.epoch === epoch; i++) {
      const got = Buffer.from(out.subarray(i * BLOCK_BYTES, (i + 1) * BLOCK_BYTES));
      const allowed = m.allowed.get(lba + i) ?? [ZERO_BLOCK];
      expect(allowed.some((b) => b.equals(got)), `lba ${lba + i} after a failed mutation`).toBe(true);
      m.latest.set(lba + i, got);
    }
    return false;
  }
}

/** Writes to disjoint ranges started together (each classified and its dedup
 * candidates read before it takes the mutex; half the time all of one block,
 * which the engine applies as one coalesced batch), with a compaction step among
 * them when the case compacts, and a read of 8-39 blocks that resolves its
 * blocks while their applies and commits change the metadata. */
async function concurrentWrites(e: BlockEngine, m: CrashModel, w: Workload, r: () => number, c: Case): Promise<void> {
  const epoch = m.epoch;
  const k = 2 + randInt(r, 3);
  const region = Math.floor(LOGICAL_BLOCKS / k);
  const ops: Array<Promise<unknown>> = [concurrentRead(e, m, r)];
  const single = r() < 0.5;
  for (let j = 0; j < k; j++) {
    const blocks = single ? 1 : 1 + randInt(r, Math.min(12, region));
    const lba = j * region + randInt(r, region - blocks + 1);
    const data = Buffer.concat(Array.from({ length: blocks }, () => w.next()));
    m.started(lba, data);
    m.writtenStarted += blocks;
    ops.push(mutated(e, m, e.write(lba, blocks, data, false), lba, blocks).then((ok) => {
      if (ok && m.epoch === epoch) m.writtenDone += blocks;
    }));
    if (j === 0 && c.compaction && r() < 0.5) {
      // Half of them as the background compactor runs: in pieces, among the writes, its commit going on after.
      ops.push(mutated(e, m, e.compact({ liveFraction: 0.9, maxSegments: 1, background: r() < 0.5 }).then(() => undefined)));
    }
  }
  await Promise.all(ops);
}

/** Reads a range while writes run; each block must hold what it held before or after them. */
async function concurrentRead(e: BlockEngine, m: CrashModel, r: () => number): Promise<void> {
  const epoch = m.epoch;
  const n = 8 + randInt(r, 32);
  const lba = randInt(r, LOGICAL_BLOCKS - n);
  const before = Array.from({ length: n }, (_, i) => m.latest.get(lba + i) ?? ZERO_BLOCK);
  const out = Buffer.alloc(n * BLOCK_BYTES);
  // Let the writes started beside this read reach their applies first.
  for (let i = randInt(r, 4); i > 0; i--) await Promise.resolve();
  await e.read(lba, n, out);
  await Promise.resolve();
  for (let i = 0; i < n && m.epoch === epoch; i++) {
    const got = out.subarray(i * BLOCK_BYTES, (i + 1) * BLOCK_BYTES);
    const now = m.latest.get(lba + i) ?? ZERO_BLOCK;
    const ok = got.equals(before[i]) || got.equals(now) || (m.faultSeen && (m.allowed.get(lba + i) ?? []).some((b) => b.equals(got)));
    expect(ok, `read of lba ${lba + i} during concurrent writes`).toBe(true);
  }
}

async function runOp(e: BlockEngine, m: CrashModel, w: Workload, r: () => number, c: Case): Promise<void> {
  const epoch = m.epoch;
  const x = r();
  const blocks = 1 + randInt(r, 12);
  const lba = randInt(r, LOGICAL_BLOCKS - blocks);
  if (x < 0.08) {
    await concurrentWrites(e, m, w, r, c);
  } else if (x < 0.6) {
    const data = Buffer.concat(Array.from({ length: blocks }, () => w.next()));
    const fua = r() < 0.1;
    m.started(lba, data);
    m.writtenStarted += blocks;
    const ok = await mutated(e, m, e.write(lba, blocks, data, fua), lba, blocks);
    if (ok && m.epoch === epoch) m.writtenDone += blocks;
    if (ok && c.processCrash && m.epoch === epoch) m.durable(lba, blocks);
    if (ok && fua && m.epoch === epoch) {
      m.durable(lba, blocks);
      m.durablePoint();
    }
  } else if (x < 0.7) {
    const n = r() < 0.3 ? 300 : blocks;
    const at = randInt(r, LOGICAL_BLOCKS - n);
    m.started(at, Buffer.alloc(n * BLOCK_BYTES));
    const ok = await mutated(e, m, r() < 0.5 ? e.discard(at, n) : e.writeZeroes(at, n, false), at, n);
    if (ok && c.processCrash && m.epoch === epoch) m.durable(at, n);
  } else if (x < 0.85) {
    if ((await mutated(e, m, e.flush())) && m.epoch === epoch) {
      m.flushed();
      m.durablePoint();
    }
  } else if (x < 0.92 && c.compaction) {
    await mutated(e, m, e.compact({ liveFraction: 0.9, maxSegments: 2, background: r() < 0.5 }).then(() => undefined));
  } else {
    const out = Buffer.alloc(blocks * BLOCK_BYTES);
    await e.read(lba, blocks, out);
    for (let i = 0; i < blocks && m.epoch === epoch; i++) {
      const got = out.subarray(i * BLOCK_BYTES, (i + 1) * BLOCK_BYTES);
      expect(got.equals(m.latest.get(lba + i) ?? ZERO_BLOCK), `live read of lba ${lba + i}`).toBe(true);
    }
  }
}

async function verifyAfterCrash(e: BlockEngine, m: CrashModel, c: Case): Promise<void> {
  const out = Buffer.alloc(LOGICAL_BLOCKS * BLOCK_BYTES);
  for (let lba = 0; lba < LOGICAL_BLOCKS; lba += c.verifyReadBlocks) {
    const n = Math.min(c.verifyReadBlocks, LOGICAL_BLOCKS - lba);
    await e.read(lba, n, out.subarray(lba * BLOCK_BYTES, (lba + n) * BLOCK_BYTES));
  }
  for (let lba = 0; lba < LOGICAL_BLOCKS; lba++) {
    const got = Buffer.from(out.subarray(lba * BLOCK_BYTES, (lba + 1) * BLOCK_BYTES));
    const allowed = m.allowed.get(lba) ?? [ZERO_BLOCK];
    if (!allowed.some((b) => b.equals(got))) {
      const durableOnly = allowed.length === 1 ? ' (flushed content lost, or completed content after a process crash)' : '';
      throw new Error(`lba ${lba} reads content that was never written there${durableOnly}`);
    }
    m.allowed.set(lba, [got]);
    m.latest.set(lba, got);
  }
}

/** Segments cleaned by compactor passes across the run (proves compaction ran). */
let segmentsCleaned = 0;
/** Cache records evicted in the tiny-cache cases (proves they paged in and out). */
let cacheEvictions = 0;
/** Write-journal records replayed at reopen (proves the journal was exercised). */
let replayedRecords = 0;
/** LBAs the native tables resolved at the checks, and native reads held while a
 * compaction freed their segment (prove both checks bit). */
let nativeHits = 0;
let heldFreed = 0;
/** Blocks the addon's apply step wrote (native-apply.ts; proves it ran before the crashes). */
let nativeApplied = 0;
let nativeWritten = 0;

/** Runs one case; returns the number of crash points it exercised. */
async function runCase(c: Case): Promise<number> {
  const r = rng(c.seed);
  const w = new Workload(r, c.dedupePct, c.compressPct);
  const order = c.reorder ? { reorder: rng(c.seed ^ 0x5eed), reorderTicksMax: REORDER_TICKS_MAX } : {};
  let disk = new SimDisk(POOL_BYTES, undefined, order);
  let meta = new MemMetaStore();
  let journal: [SimDisk, SimDisk] = [new SimDisk(c.journalBytes, undefined, order), new SimDisk(c.journalBytes, undefined, order)];
  const journalFiles = (): [JournalFile, JournalFile] => [simJournalFile(journal[0]), simJournalFile(journal[1])];
  const opts = { ...OPTS, readCacheBytes: c.readCacheBytes, cacheMib: c.cacheMib, journalBytes: c.journalBytes };
  const fmt = { logicalBytes: LOGICAL_BLOCKS * BLOCK_BYTES, segmentBytes: SEGMENT_BYTES, ...opts, journalFiles: journalFiles() };
  let e = await formatEngine(disk, meta, fmt);
  let shared = shareTables(e);
  const clearFaults = (): void => {
    disk.failWrites = undefined;
    meta.failBatches = undefined;
    for (const j of journal) j.failWrites = undefined;
  };
  const m = new CrashModel();
  for (let cycle = 0; cycle < CYCLES_PER_CASE; cycle++) {
    const ops = 5 + randInt(r, 40);
    let faultOps = 0;
    for (let i = 0; i < ops; i++) {
      if (faultOps === 0 && r() < FAULT_CHANCE) {
        faultOps = 1 + randInt(r, 4);
        m.faultSeen = true;
        const where = r();
        if (where < 0.4) disk.failWrites = enospc();
        else if (where < 0.8) meta.failBatches = enospc();
        // The journal cannot take a record: a durable commit stands in for it.
        else journal[randInt(r, 2)].failWrites = enospc();
      }
      await runOp(e, m, w, r, c);
      nativeHits += checkNativeTables(e, shared, LOGICAL_BLOCKS);
      if (c.compaction && r() < 0.05) {
        const compact = (): Promise<boolean> => mutated(e, m, e.compact({ liveFraction: 1, maxSegments: 4 }).then(() => undefined));
        if (await heldAcrossCompaction(e, shared, randInt(r, LOGICAL_BLOCKS), LOGICAL_BLOCKS, compact)) heldFreed += 1;
      }
      if (faultOps > 0 && --faultOps === 0) clearFaults();
    }
    clearFaults();
    // Crash inside in-flight work: start an operation and stop at a random microtask.
    if (r() < 0.8) {
      void runOp(e, m, w, r, c).catch(() => undefined);
      const ticks = randInt(r, 40);
      for (let t = 0; t < ticks; t++) await Promise.resolve();
    }
    m.epoch += 1;
    // A power cut drops, keeps or tears each unsynced write; a process crash keeps them all.
    const fates: CrashFate[] = c.processCrash ? ['keep'] : ['drop', 'keep', 'tear'];
    const fate = (): CrashFate => fates[randInt(r, fates.length)];
    nativeApplied += e.stats().nativeAppliedBlocks;
    nativeWritten += e.stats().nativeWrittenBlocks;
    disk = disk.crash(fate, () => r() < 0.5);
    journal = [journal[0].crash(fate, () => r() < 0.5), journal[1].crash(fate, () => r() < 0.5)];
    meta = meta.crash(c.processCrash ? meta.pendingBatches : randInt(r, meta.pendingBatches + 1));
    e = await openEngine(disk, meta, { ...opts, journalFiles: journalFiles() });
    shared = shareTables(e);
    replayedRecords += e.replayed.records;
    m.checkCounters(e.stats().totals);
    await verifyAfterCrash(e, m, c);
    nativeHits += checkNativeTables(e, shared, LOGICAL_BLOCKS);
    if (c.cacheMib !== undefined) cacheEvictions += e.stats().cache.evictions;
    const audit = await auditPool(disk, meta);
    // A superblock copy torn by the crash is legal: the other one is valid and the
    // next superblock write goes over the torn one.
    expect(audit.problems.filter((t) => !TORN_COPY.test(t)), 'audit after reopen').toEqual([]);
    if (c.compaction || cycle === CYCLES_PER_CASE - 1) {
      await e.compact({ liveFraction: 1, maxSegments: 1000 });
      const again = await auditPool(disk, meta);
      expect(again.problems.filter((t) => !TORN_COPY.test(t)), 'audit after a compactor pass').toEqual([]);
      expect(again.counts.liveBytes).toBe(e.stats().liveBytes);
      segmentsCleaned += e.stats().compaction.segmentsCleaned;
      await verifyAfterCrash(e, m, c);
    }
  }
  await e.close();
  return CYCLES_PER_CASE;
}

async function runReported(c: Case): Promise<number> {
  try {
    return await runCase(c);
  } catch (err) {
    const env = c.reorder ? 'CRASH_REORDER=1 ' : '';
    const how = `replay: ${env}CRASH_SEED=${c.seed} npx vitest run test/engine/crash.test.ts`;
    console.error(
      `crash case failed: seed ${c.seed} dedupe ${c.dedupePct}% compress ${c.compressPct}% compaction ${c.compaction} ` +
        `reorder ${c.reorder} read cache ${c.readCacheBytes ?? 'default'} cacheMib ${c.cacheMib ?? 'default'} ` +
        `journal ${c.journalBytes} process crash ${c.processCrash}\n${how}`,
    );
    throw new Error(`seed ${c.seed}: ${String(err)} (${how})`, { cause: err });
  }
}

async function image(disk: SimDisk): Promise<Buffer> {
  const b = Buffer.alloc(disk.sizeBytes);
  await disk.pread(b, 0, b.length, 0);
  return b;
}

describe('durable commit sequence (pool side) vs metadata rollback', () => {
  const FMT = { logicalBytes: LOGICAL_BLOCKS * BLOCK_BYTES, segmentBytes: SEGMENT_BYTES, ...OPTS };
  it('never refuses after a crash between a durable commit and its record in the superblock', async () => {
    let lagging = 0;
    for (let seed = 1; seed <= 60; seed++) {
      const r = rng(seed * 7919);
      const w = new Workload(r, 30, 60);
      const disk = new SimDisk(POOL_BYTES);
      const meta = new MemMetaStore();
      const e = await formatEngine(disk, meta, FMT);
      const flushed = new Map<number, Buffer>();
      for (let round = 0; round < 1 + randInt(r, 4); round++) {
        const lba = randInt(r, LOGICAL_BLOCKS - 16);
        const data = Buffer.concat([w.next(), w.next(), w.next(), w.next()]);
        await e.write(lba, 4, data, false);
        await e.flush();
        for (let i = 0; i < 4; i++) flushed.set(lba + i, data.subarray(i * BLOCK_BYTES, (i + 1) * BLOCK_BYTES));
      }
      // One more flush, crashed at a random microtask: between its metadata commit and
      // its superblock record, or anywhere around them.
      await e.write(LOGICAL_BLOCKS - 1 - randInt(r, 8), 1, w.next(), false); // not a block checked below
      void e.flush().catch(() => undefined);
      for (let t = randInt(r, 40); t > 0; t--) await Promise.resolve();
      const fates: CrashFate[] = ['drop', 'keep', 'tear'];
      const d2 = disk.crash(() => fates[randInt(r, 3)], () => r() < 0.5);
      const m2 = meta.crash(randInt(r, meta.pendingBatches + 1));
      if ((await readSuperblock(d2)).durableSeq < decodeState(m2.getSync(KEY_S)!).commitSeq) lagging += 1;
      const again = await openEngine(d2, m2, OPTS);
      const out = Buffer.alloc(BLOCK_BYTES);
      for (const [lba, want] of flushed) {
        await again.read(lba, 1, out);
        expect(out.equals(want), `seed ${seed} lba ${lba}`).toBe(true);
      }
      await again.close();
    }
    expect(lagging, 'crashes that hit the window before the record').toBeGreaterThan(0);
  });

  it('refuses metadata older than the recorded durable commit, modifying nothing', async () => {
    const r = rng(4242);
    const w = new Workload(r, 0, 60);
    const disk = new SimDisk(POOL_BYTES);
    const meta = new MemMetaStore();
    const e = await formatEngine(disk, meta, FMT);
    await e.write(0, 8, Buffer.concat(Array.from({ length: 8 }, () => w.next())), false);
    await e.flush();
    const backup = meta.backup(); // a metadata state from before the next flush
    await e.write(8, 8, Buffer.concat(Array.from({ length: 8 }, () => w.next())), true);
    await e.close();
    const before = await image(disk);
    await expect(openEngine(disk, backup, OPTS)).rejects.toMatchObject({ code: 'UC_META_ROLLBACK' });
    expect((await image(disk)).equals(before)).toBe(true);
    const ok = await openEngine(disk, meta, OPTS); // the real metadata still opens
    await ok.close();
  });
});

describe('crash simulation', () => {
  const single = process.env.CRASH_SEED;
  if (single !== undefined) {
    const reorder = process.env.CRASH_REORDER === '1';
    it(`replays seed ${single}${reorder ? ' (out-of-order completion)' : ''}`, async () => {
      await runReported(caseOf(Number(single), reorder));
    });
    return;
  }
  const points = Number(process.env.CRASH_POINTS ?? 540);
  const cases = Math.ceil(points / CYCLES_PER_CASE);
  for (const reorder of [false, true]) {
    const order = reorder ? 'writes completing out of order' : 'writes completing in order';
    it(`survives ${cases * CYCLES_PER_CASE} crash points across dedupe x compressibility, ${order}`, async () => {
      segmentsCleaned = 0;
      stalls = 0;
      cacheEvictions = 0;
      replayedRecords = 0;
      nativeHits = 0;
      heldFreed = 0;
      nativeApplied = 0;
      nativeWritten = 0;
      let crashed = 0;
      const started = Date.now();
      for (let seed = 1; seed <= cases; seed++) crashed += await runReported(caseOf(seed, reorder));
      const took = ((Date.now() - started) / 1000).toFixed(1);
      console.log(
        `crash simulation (${order}): ${crashed} crash points, ${stalls} mutations failed on injected ENOSPC, ` +
          `${cacheEvictions} cache evictions in the tiny-cache cases, ${replayedRecords} journal records replayed, ` +
          `${nativeHits} native table hits checked, ${heldFreed} segments freed under a held native read, ` +
          `${nativeApplied} blocks applied in the addon, ${nativeWritten} one-block writes applied outside the mutex, ${took} s`,
      );
      expect(nativeHits, 'the native tables resolved LBAs').toBeGreaterThan(0);
      expect(heldFreed, 'compactions freed a segment under a native read').toBeGreaterThan(0);
      expect(nativeApplied, 'the addon applied blocks').toBeGreaterThan(0);
      expect(nativeWritten, 'the addon applied one-block writes outside the mutex').toBeGreaterThan(0);
      expect(crashed).toBeGreaterThanOrEqual(Math.min(points, 500));
      expect(segmentsCleaned).toBeGreaterThan(0);
      expect(cacheEvictions, 'tiny-cache cases evicted records').toBeGreaterThan(0);
      expect(replayedRecords, 'reopens replayed write-journal records').toBeGreaterThan(0);
      if (points >= 500) expect(stalls).toBeGreaterThan(0);
    }, 600_000);
  }
});
