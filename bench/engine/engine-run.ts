// Runs one dataset through the real BlockEngine on a file-backed pool in a
// temporary directory: format, write everything in large batches, flush,
// close; measure the pool file's allocated bytes and the compacted LevelDB
// directory; reopen, let the metadata cache warm up (timed apart), read
// everything back as a device does (timed), verify every byte.
import assert from 'node:assert';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { BLOCK_BYTES } from '../../src/util/units.js';
import { ceilingOf, type CeilingResult, type Meter } from './ceiling.js';
import { allocatedBytes, compactLevelDir, dirBytes } from './disk-usage.js';
import { openEngineFactory, type EngineCounters } from './engine-adapter.js';
import { runOverwritePhase, type OverwriteResult } from './overwrite-phase.js';

export interface EngineRunResult {
  logicalBytes: number;
  /** Allocated bytes of the pool file (superblock and segment slack included). */
  physicalDataBytes: number;
  /** LevelDB directory after close + full compaction. */
  metaBytes: number;
  /** LevelDB directory right after close, before the manual compaction. */
  metaBytesAtClose: number;
  ratio: number;
  /** logical / (data + metadata). */
  ratioWithMeta: number;
  writeMBps: number;
  readMBps: number;
  /** The scans and metadata cache warm-up after the reopen, before the timed reads. */
  loadMs: number;
  /** Read requests of the read phase the native path served / handed to JavaScript. */
  readPaths: { native: number; js: number };
  /** Counters the engine reports about itself after the write phase. */
  counters: EngineCounters;
  /** Random overwrites of the mapped region after the read phase (space figures predate it). */
  overwrite: OverwriteResult;
  /** The engine's counters after the overwrite phase (its metadata cache figures among them). */
  overwriteCounters: EngineCounters;
  verifiedBlocks: number;
  /** Ceiling work timed batch by batch beside the engine calls, with the engine's
   * library (liblz4 + libxxhash, ceiling-native.ts). */
  pairedCeiling: CeilingResult | undefined;
  /** The same with lz4-napi + xxhash-addon (ceiling.ts), timed beside it. */
  pairedCeilingReference: CeilingResult | undefined;
}

const MB = 1e6;

export async function runEngine(
  data: Buffer,
  options: { batchBlocks: number; workDir?: string; meter?: Meter; referenceMeter?: Meter },
): Promise<EngineRunResult> {
  const meters = [options.meter, options.referenceMeter];
  const meterWriteMs = [0, 0];
  const meterReadMs = [0, 0];
  const meterWrite = (first: number, count: number): void => {
    meters.forEach((m, k) => {
      if (m) meterWriteMs[k] += m.writeBatch(first, count);
    });
  };
  const meterRead = (first: number, count: number): void => {
    meters.forEach((m, k) => {
      if (m) meterReadMs[k] += m.readBatch(first, count);
    });
  };
  assert(data.length > 0 && data.length % BLOCK_BYTES === 0);
  const factory = await openEngineFactory();
  const dir = mkdtempSync(join(options.workDir ?? tmpdir(), 'uc-bench-engine-'));
  const poolPath = join(dir, 'pool.img');
  const metaDir = join(dir, 'pool.img.meta');
  const batchBytes = options.batchBlocks * BLOCK_BYTES;
  try {
    const engine = await factory.format({ poolPath, metaDir, logicalBytes: data.length });
    let writeMs = 0;
    let batch = 0;
    for (let at = 0; at < data.length; at += batchBytes, batch += 1) {
      const chunk = data.subarray(at, Math.min(at + batchBytes, data.length));
      const blocks = chunk.length / BLOCK_BYTES;
      // Alternate who goes first, so neither side always finds the batch in cache.
      if (batch % 2 === 0) meterWrite(at / BLOCK_BYTES, blocks);
      const t0 = performance.now();
      await engine.write(at / BLOCK_BYTES, chunk);
      writeMs += performance.now() - t0;
      if (batch % 2 === 1) meterWrite(at / BLOCK_BYTES, blocks);
    }
    const flushStart = performance.now();
    await engine.flush();
    writeMs += performance.now() - flushStart;
    const counters = engine.counters();
    await engine.close();

    const physicalDataBytes = allocatedBytes(poolPath);
    const metaBytesAtClose = dirBytes(metaDir);
    await compactLevelDir(metaDir);
    const metaBytes = dirBytes(metaDir);

    for (const m of meters) m?.prepareRead();
    const reader = await factory.open({ poolPath, metaDir });
    const loadStart = performance.now();
    await reader.loaded();
    const loadMs = performance.now() - loadStart;
    const out = Buffer.alloc(batchBytes);
    let readMs = 0;
    let verifiedBlocks = 0;
    batch = 0;
    for (let at = 0; at < data.length; at += batchBytes, batch += 1) {
      const length = Math.min(batchBytes, data.length - at);
      const target = out.subarray(0, length);
      const blocks = length / BLOCK_BYTES;
      if (batch % 2 === 0) meterRead(at / BLOCK_BYTES, blocks);
      const t0 = performance.now();
      await reader.read(at / BLOCK_BYTES, target);
      readMs += performance.now() - t0;
      if (batch % 2 === 1) meterRead(at / BLOCK_BYTES, blocks);
      // Verification is outside the timed region: it is the benchmark's cost.
      if (target.compare(data, at, at + length) !== 0) {
        throw new Error(`read-back mismatch in blocks ${at / BLOCK_BYTES}..${(at + length) / BLOCK_BYTES - 1}`);
      }
      verifiedBlocks += length / BLOCK_BYTES;
    }
    const readPaths = reader.readPaths();
    const overwrite = await runOverwritePhase(reader, data, 7);
    const overwriteCounters = reader.counters();
    await reader.close();
    const logicalBytes = data.length;
    return {
      logicalBytes,
      physicalDataBytes,
      metaBytes,
      metaBytesAtClose,
      ratio: logicalBytes / physicalDataBytes,
      ratioWithMeta: logicalBytes / (physicalDataBytes + metaBytes),
      writeMBps: logicalBytes / MB / (writeMs / 1000),
      readMBps: logicalBytes / MB / (readMs / 1000),
      loadMs,
      readPaths,
      counters,
      overwrite,
      overwriteCounters,
      verifiedBlocks,
      pairedCeiling: meters[0] ? ceilingOf(logicalBytes, meterWriteMs[0], meterReadMs[0], 'paired', 1) : undefined,
      pairedCeilingReference: meters[1] ? ceilingOf(logicalBytes, meterWriteMs[1], meterReadMs[1], 'paired', 1) : undefined,
    };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
