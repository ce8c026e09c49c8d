// Creating and opening engines, over any stores (formatEngine/openEngine) or over
// a pool file or block device with its LevelDB directory (formatPool/openPool).
// Opening validates everything before writing anything: a foreign, newer,
// truncated, mismatched or rolled-back pool is refused with a UcError and left
// untouched. openPool validates on a private clone of the metadata directory
// first (LevelDB rewrites a directory it opens), and opens the real one only once
// validation passed.
import fs from 'node:fs';
import { gKey, KEY_C, KEY_J, KEY_S, PREFIX_G, prefixEnd, keySuccessor, segmentOfKey } from '../meta/keys.js';
import { decodeState, encodeState, type MetaState } from '../meta/records.js';
import { decodeSegment } from '../pool/segment-record.js';
import { LevelMetaStore } from '../meta/level-store.js';
import { applyValidatedLogCut, withMetaClone } from '../meta/meta-clone.js';
import type { LogCut } from '../meta/log-scan.js';
import type { MetaStore } from '../meta/store.js';
import { openBackingFile, type BackingOpener } from '../io/index.js';
import {
  FORMAT_VERSION, LAYOUT_PACKED, MAGIC, newUuid, readSuperblock, readSuperblockCopies, SUPERBLOCK_BYTES, uuidText,
  writeSuperblock,
  type Superblock,
} from '../pool/format.js';
import { SegmentTable } from '../pool/segments.js';
import type { PoolStore } from '../pool/store.js';
import { UcError } from '../util/errors.js';
import { RESERVED_SEGMENTS, SCAN_CHUNK_ENTRIES, SEGMENT_BYTES_DEFAULT, SEGMENT_BYTES_MIN } from '../util/limits.js';
import { BLOCK_BYTES } from '../util/units.js';
import { BlockEngine } from './block-engine.js';
import { defaultCapacityBytes } from './capacity.js';
import { EngineCore } from './core.js';
import { decodeCounters, encodeCounters, zeroCounters, type Counters } from './counters.js';
import type { EngineOptions, FormatOptions } from './types.js';
import { openJournalFiles } from './journal-files.js';
import { decodeJournalSeq, WriteJournal, type JournalFile } from './write-journal.js';

/** Writes a new superblock and metadata state over `pool` and opens the engine. */
export async function formatEngine(pool: PoolStore, meta: MetaStore, o: FormatOptions, ownsStores = false): Promise<BlockEngine> {
  const segmentBytes = o.segmentBytes ?? SEGMENT_BYTES_DEFAULT;
  if (!Number.isSafeInteger(o.logicalBytes) || o.logicalBytes <= 0 || o.logicalBytes % BLOCK_BYTES !== 0) {
    throw new UcError('UC_INVALID_ARGUMENT', `logical size ${o.logicalBytes} is not a positive multiple of 4096`);
  }
  if (segmentBytes < SEGMENT_BYTES_MIN || (segmentBytes & (segmentBytes - 1)) !== 0 || segmentBytes > 2 ** 30) {
    throw new UcError('UC_INVALID_ARGUMENT', `segment size ${segmentBytes} must be a power of two >= ${SEGMENT_BYTES_MIN}`);
  }
  const segmentCount = Math.floor((pool.sizeBytes - SUPERBLOCK_BYTES) / segmentBytes);
  if (segmentCount < RESERVED_SEGMENTS + 2) {
    throw new UcError('UC_NO_SPACE', `pool of ${pool.sizeBytes} bytes holds only ${Math.max(0, segmentCount)} segments`);
  }
  const sb0: Superblock = {
    version: FORMAT_VERSION, generation: 0, uuid: newUuid(), blockBytes: BLOCK_BYTES, segmentBytes,
    logicalBytes: o.logicalBytes, dataOffset: SUPERBLOCK_BYTES, segmentCount, layout: LAYOUT_PACKED, durableSeq: 0,
  };
  const state: MetaState = {
    version: FORMAT_VERSION, uuid: sb0.uuid, logicalBytes: o.logicalBytes, segmentBytes, segmentCount,
    nextExtentId: 1, commitSeq: 0, mappedBlocks: 0, extentCount: 0,
  };
  await writeSuperblock(pool, sb0);
  await meta.batch([
    { type: 'put', key: KEY_S, value: encodeState(state) },
    { type: 'put', key: KEY_C, value: encodeCounters(zeroCounters()) },
  ], true);
  return openEngine(pool, meta, o, ownsStores, true);
}

/** Opens an existing engine; throws before modifying anything if pool and metadata disagree. */
export async function openEngine(
  pool: PoolStore, meta: MetaStore, o: EngineOptions = {}, ownsStores = false, fresh = false,
): Promise<BlockEngine> {
  const { sb, slot, state, segs, counters } = await loadPoolState(pool, meta);
  // A pool written before the C record existed starts from the host's legacy totals.
  const totals = counters ?? o.legacyCounters?.(uuidText(sb.uuid));
  const loaded = o.journalFiles === undefined ? undefined : await WriteJournal.load([...o.journalFiles], decodeJournalSeq(meta.getSync(KEY_J)), o.journalBytes);
  const core = new EngineCore(pool, meta, sb, state, segs, o, slot, totals, counters !== undefined, loaded?.journal);
  core.sealLeftOpen();
  core.startScans(fresh);
  const engine = new BlockEngine(core, ownsStores);
  if (loaded !== undefined) {
    // A new pool replays nothing: whatever the files hold belongs to no state of it.
    await engine.replay(fresh ? [] : loaded.ops).catch(async (err: unknown) => {
      await engine.close().catch(() => undefined);
      throw err;
    });
  }
  return engine;
}

interface PoolState {
  sb: Superblock;
  /** The superblock copy that won (the next superblock write goes to the other). */
  slot: number;
  state: MetaState;
  segs: SegmentTable;
  /** The C record; undefined for a pool written before it existed. */
  counters: Counters | undefined;
}

/** Reads and cross-checks superblock and metadata; reads only, throws a UcError on any refusal. */
export async function loadPoolState(pool: PoolStore, meta: MetaStore): Promise<PoolState> {
  const { sb, slot } = await readSuperblockCopies(pool);
  if (sb.layout !== LAYOUT_PACKED) {
    throw new UcError('UC_INVALID_ARGUMENT', 'pool uses the direct (1:1) layout, not the packed engine');
  }
  try {
    const state = readState(meta, sb);
    // The superblock is written before S when resizing, so it wins after a crash between them.
    state.logicalBytes = sb.logicalBytes;
    state.segmentCount = sb.segmentCount;
    const c = meta.getSync(KEY_C);
    const counters = c === undefined ? undefined : decodeCounters(c);
    return { sb, slot, state, segs: await loadSegments(meta, sb), counters };
  } catch (err) {
    if (err instanceof UcError) throw err;
    // LevelDB reports damage it meets while reading (a bad block) as its own errors.
    throw new UcError('UC_META_CORRUPT', `metadata cannot be read: ${String(err)}`, { cause: err });
  }
}

async function loadSegments(meta: MetaStore, sb: Superblock): Promise<SegmentTable> {
  const segs = new SegmentTable(sb.segmentCount, sb.segmentBytes);
  let from = gKey(0);
  for (;;) {
    const entries = await meta.scan(from, prefixEnd(PREFIX_G), SCAN_CHUNK_ENTRIES);
    for (const [k, v] of entries) {
      if (k.length !== gKey(0).length) throw new UcError('UC_META_CORRUPT', `segment key ${k.toString('hex')} is malformed`);
      segs.load(segmentOfKey(k), decodeSegment(v));
    }
    if (entries.length < SCAN_CHUNK_ENTRIES) break;
    from = keySuccessor(entries[entries.length - 1][0]);
  }
  segs.finishLoad();
  return segs;
}

function readState(meta: MetaStore, sb: Superblock): MetaState {
  const v = meta.getSync(KEY_S);
  if (v === undefined) throw new UcError('UC_META_MISSING', 'metadata holds no pool state (empty or not ours)');
  const state = decodeState(v);
  if (state.version > FORMAT_VERSION) {
    throw new UcError('UC_POOL_VERSION', `metadata format ${state.version} is newer than this build reads`);
  }
  if (!state.uuid.equals(sb.uuid)) {
    throw new UcError('UC_META_MISMATCH', 'metadata belongs to another pool (uuid mismatch)');
  }
  if (state.segmentBytes !== sb.segmentBytes) {
    throw new UcError('UC_META_CORRUPT', `metadata says segments of ${state.segmentBytes} bytes, the pool ${sb.segmentBytes}`);
  }
  if (state.commitSeq < sb.durableSeq) {
    throw new UcError(
      'UC_META_ROLLBACK',
      `metadata is older than the pool: the pool recorded commit ${sb.durableSeq} as durable but the ` +
        `metadata holds commit ${state.commitSeq} (its log or a table was damaged or lost), so flushed ` +
        'blocks would read back stale. Nothing was modified. Restore the metadata directory from a ' +
        'backup taken after that commit; `check` lists what the metadata holds.',
    );
  }
  return state;
}

/** Where a pool's metadata lives unless --meta says otherwise. */
export function defaultMetaDir(backingPath: string): string {
  return `${backingPath}.meta`;
}

export interface PoolPaths {
  backingPath: string;
  metaDir?: string;
  /** Opens the pool file (default: on a private io_uring); a daemon passes its shared ring's. */
  openBacking?: BackingOpener;
  /** Opens the write journal's files in the metadata directory (default: like openBacking's default). */
  openJournal?: BackingOpener;
}

/** Formats a pool file (created sparse if missing) or block device and opens it. */
export async function formatPool(o: PoolPaths & FormatOptions & { capacityBytes?: number; overwrite?: boolean }): Promise<BlockEngine> {
  const metaDir = o.metaDir ?? defaultMetaDir(o.backingPath);
  const segmentBytes = o.segmentBytes ?? SEGMENT_BYTES_DEFAULT;
  if (!o.overwrite && (await looksLikePool(o.backingPath))) {
    throw new UcError('UC_INVALID_ARGUMENT', `${o.backingPath} already holds a pool (overwrite to replace it)`);
  }
  if (fs.existsSync(metaDir)) {
    if (!o.overwrite && fs.readdirSync(metaDir).length > 0) {
      throw new UcError('UC_INVALID_ARGUMENT', `metadata directory ${metaDir} is not empty`);
    }
    fs.rmSync(metaDir, { recursive: true, force: true });
  }
  const capacity = o.capacityBytes ?? defaultCapacityBytes(o.logicalBytes, segmentBytes);
  const pool = await (o.openBacking ?? openBackingFile)(o.backingPath, { create: true, sizeBytes: capacity });
  try {
    const meta = await LevelMetaStore.open(metaDir, { create: true });
    const journalFiles = await openJournalFiles(metaDir, o.openJournal);
    return await formatEngine(pool, meta, { ...o, journalFiles }, true);
  } catch (err) {
    await pool.close();
    throw err;
  }
}

/** Opens an existing pool file or block device with its metadata directory. */
export async function openPool(o: PoolPaths & EngineOptions): Promise<BlockEngine> {
  const metaDir = o.metaDir ?? defaultMetaDir(o.backingPath);
  const pool = await (o.openBacking ?? openBackingFile)(o.backingPath);
  let meta: LevelMetaStore | undefined;
  let journalFiles: [JournalFile, JournalFile] | undefined;
  try {
    await readSuperblock(pool);
    // Decide on a clone: a refusal must leave every byte of the metadata directory as it was.
    const cut = await withMetaClone(metaDir, async (clone, cut) => {
      await loadPoolState(pool, clone).catch((err: unknown) => {
        throw cut !== undefined ? durableBeyondGap(err, cut, metaDir) : err;
      });
      return cut;
    });
    // The clone's state is valid: make the same cut here before LevelDB replays past the gap.
    if (cut !== undefined) applyValidatedLogCut(metaDir, cut);
    meta = await LevelMetaStore.open(metaDir, { create: false });
    journalFiles = await openJournalFiles(metaDir, o.openJournal);
    return await openEngine(pool, meta, { ...o, journalFiles }, true);
  } catch (err) {
    await meta?.close();
    for (const f of journalFiles ?? []) await f.close().catch(() => undefined);
    await pool.close();
    throw err;
  }
}

/**
 * A state that ends at a log gap yet misses commits the pool recorded as
 * durable: the gap hides synced batches, which a power loss cannot do.
 */
function durableBeyondGap(err: unknown, cut: LogCut, metaDir: string): unknown {
  if (!(err instanceof UcError) || err.code !== 'UC_META_ROLLBACK') return err;
  return new UcError(
    'UC_META_CORRUPT',
    `metadata log ${cut.file} is damaged at byte ${cut.at} with ${cut.recordsDropped} intact record(s) after it, ` +
      `and commits the pool recorded as durable lie beyond the damage (${err.message.split(' (')[0]}). ` +
      `Nothing was modified. Restore the metadata directory ${metaDir} from a backup; \`check\` shows what it holds.`,
    { cause: err },
  );
}

async function looksLikePool(path: string): Promise<boolean> {
  if (!fs.existsSync(path)) return false;
  const fh = await fs.promises.open(path, 'r');
  try {
    const head = Buffer.alloc(MAGIC.length);
    await fh.read(head, 0, head.length, 0);
    return head.equals(MAGIC);
  } finally {
    await fh.close();
  }
}
