// Offline audit of a pool and its metadata (`ublk-compress check`):
//  - every L entry maps a block inside the device to a fill pattern or a live extent;
//  - every extent lies inside a used segment, its fragment header matches, its
//    bytes decompress, and the fingerprint of the result equals the stored one;
//  - each extent's refcount equals the number of LBAs referencing it (no leaks);
//  - each H entry points at an extent with that fingerprint;
//  - each segment's live-byte count equals the sum of its extents' fragments;
//  - the mapped-block and extent counters in S are right;
//  - both superblock copies are valid and agree; the metadata is not older than
//    the commit the pool recorded durable; every scanned L key is also found by a
//    point lookup (which uses the table filters the scan does not); the metadata
//    logs have no damage before intact records; every table block checksum holds.
// checkPool never writes: it audits a private clone of the metadata directory.
// Memory: one Map entry per extent (fine up to tens of millions of extents).
import { CodecSet } from '../compress/index.js';
import { xxh128, type FingerprintFn } from '../dedup/index.js';
import { extentIdOfKey, KEY_C, KEY_J, KEY_S, keySuccessor, lbaOfKey, PREFIX_E, PREFIX_G, PREFIX_H, PREFIX_L, prefixEnd, segmentOfKey } from '../meta/keys.js';
import {
  decodeCounterRecord, decodeExtent, decodeMapValue, decodeState, decodeU64, type Extent, type MapValue, type MetaState,
} from '../meta/records.js';
import { decodeSegment, SEG_FREE } from '../pool/segment-record.js';
import { describeLogCut, type LogCut } from '../meta/log-scan.js';
import { tableDamage } from '../meta/table-verify.js';
import { lockHolder, withMetaClone } from '../meta/meta-clone.js';
import type { MetaStore } from '../meta/store.js';
import { openBackingFile, type FileIdentity } from '../io/index.js';
import { readCopies, readSuperblock, SLOT_BYTES, type SlotResult, type Superblock } from '../pool/format.js';
import { FRAGMENT_HEADER_BYTES, fragmentBytes, readFragmentHeader } from '../pool/fragment.js';
import type { PoolStore } from '../pool/store.js';
import { CHECK_PROBLEMS_MAX, SCAN_CHUNK_ENTRIES } from '../util/limits.js';
import { UcError } from '../util/errors.js';
import { BLOCK_BYTES } from '../util/units.js';
import { defaultMetaDir } from './open.js';
import { openJournalFilesReadOnly } from './journal-files.js';
import { decodeJournalSeq, WriteJournal } from './write-journal.js';

export interface CheckReport {
  /** True only when no problem was found. */
  clean: boolean;
  /** Human-readable problems (at most CHECK_PROBLEMS_MAX; problemCount has the total). */
  problems: string[];
  problemCount: number;
  counts: {
    mappedBlocks: number;
    fillBlocks: number;
    extents: number;
    sharedExtents: number;
    dedupEntries: number;
    usedSegments: number;
    liveBytes: number;
    storedPayloadBytes: number;
  };
  /**
   * Completed writes and discards in the write journal that the metadata does
   * not include yet (a killed daemon's last ones): the next open replays them.
   * Not a problem; the audit above is of the state before that replay.
   */
  pendingJournal: { records: number; blocks: number };
}

const NO_PENDING: CheckReport['pendingJournal'] = { records: 0, blocks: 0 };

class Problems {
  list: string[] = [];
  count = 0;
  add(text: string): void {
    this.count += 1;
    if (this.list.length < CHECK_PROBLEMS_MAX) this.list.push(text);
  }
}

async function scanAll(meta: MetaStore, prefix: number, each: (k: Buffer, v: Buffer) => void): Promise<void> {
  let from: Buffer = Buffer.from([prefix]);
  for (;;) {
    const entries = await meta.scan(from, prefixEnd(prefix), SCAN_CHUNK_ENTRIES);
    for (const [k, v] of entries) each(k, v);
    if (entries.length < SCAN_CHUNK_ENTRIES) return;
    from = keySuccessor(entries[entries.length - 1][0]);
  }
}

/** Audits open stores (the engine using them must be closed or quiescent). */
export async function auditPool(pool: PoolStore, meta: MetaStore, o: { fingerprint?: FingerprintFn } = {}): Promise<CheckReport> {
  const fingerprint = o.fingerprint ?? xxh128;
  const p = new Problems();
  const sb = await readSuperblock(pool);
  for (const text of await copyProblems(pool)) p.add(text);
  const state = auditState(meta, sb, p);
  const { refs, mapped, fills } = await auditMap(meta, sb.logicalBytes / BLOCK_BYTES, p);
  const segs = new Map<number, { live: number; fill: number; state: number }>();
  await scanAll(meta, PREFIX_G, (k, v) => {
    const r = decodeSegment(v);
    segs.set(segmentOfKey(k), { live: r.liveBytes, fill: r.fillBytes, state: r.state });
  });
  const liveOf = new Map<number, number>();
  const extents: Extent[] = [];
  let shared = 0;
  let payloadBytes = 0;
  await scanAll(meta, PREFIX_E, (k, v) => {
    const e = decodeExtent(extentIdOfKey(k), v);
    const counted = refs.get(e.id) ?? 0;
    refs.delete(e.id);
    if (counted === 0) p.add(`extent ${e.id} leaked: refcount ${e.refs} but no LBA maps it`);
    else if (counted !== e.refs) p.add(`extent ${e.id}: refcount ${e.refs}, ${counted} LBAs map it`);
    if (counted > 1) shared += 1;
    const g = segs.get(e.segment);
    const end = e.offset + fragmentBytes(e.storedBytes);
    if (g === undefined || g.state === SEG_FREE || end > g.fill) {
      p.add(`extent ${e.id} lies outside the used part of segment ${e.segment}`);
    }
    liveOf.set(e.segment, (liveOf.get(e.segment) ?? 0) + fragmentBytes(e.storedBytes));
    payloadBytes += e.storedBytes;
    extents.push(e);
  });
  for (const [id, n] of refs) p.add(`${n} LBAs map missing extent ${id}`);
  await verifyFragments(pool, sb.dataOffset, sb.segmentBytes, extents, fingerprint, p);
  let dedupEntries = 0;
  const byId = new Map(extents.map((e) => [e.id, e]));
  await scanAll(meta, PREFIX_H, (k, v) => {
    dedupEntries += 1;
    const e = byId.get(decodeU64(v));
    if (e === undefined || !e.fingerprint.equals(k.subarray(1))) p.add(`dedup entry ${k.toString('hex')} is stale`);
  });
  let used = 0;
  let liveBytes = 0;
  for (const [s, g] of segs) {
    if (g.state !== SEG_FREE) used += 1;
    liveBytes += g.live;
    const counted = liveOf.get(s) ?? 0;
    if (counted !== g.live) p.add(`segment ${s}: live bytes ${g.live}, extents hold ${counted}`);
    if (s >= sb.segmentCount) p.add(`segment record ${s} beyond the pool`);
  }
  if (state !== undefined && state.mappedBlocks !== mapped) p.add(`state counts ${state.mappedBlocks} mapped blocks, map has ${mapped}`);
  if (state !== undefined && state.extentCount !== extents.length) p.add(`state counts ${state.extentCount} extents, found ${extents.length}`);
  return {
    clean: p.count === 0,
    problems: p.list,
    problemCount: p.count,
    counts: {
      mappedBlocks: mapped, fillBlocks: fills, extents: extents.length, sharedExtents: shared, dedupEntries,
      usedSegments: used, liveBytes, storedPayloadBytes: payloadBytes,
    },
    // checkPool reads the journal files; an audit of open stores has none.
    pendingJournal: NO_PENDING,
  };
}

/** The S record (returned when readable) and the C record. */
function auditState(meta: MetaStore, sb: Superblock, p: Problems): MetaState | undefined {
  const sv = meta.getSync(KEY_S);
  const state = sv === undefined ? undefined : decodeState(sv);
  if (state === undefined || !state.uuid.equals(sb.uuid)) p.add('metadata state missing or of another pool');
  if (state !== undefined && state.commitSeq < sb.durableSeq) {
    p.add(`metadata rolled back: it holds commit ${state.commitSeq}, the pool recorded ${sb.durableSeq} as durable`);
  }
  const cv = meta.getSync(KEY_C);
  if (cv !== undefined) {
    try {
      decodeCounterRecord(cv);
    } catch (err) {
      p.add(`counter record: ${String(err)}`);
    }
  }
  return state;
}

/** Walks the map: per extent id, how many LBAs reference it. */
async function auditMap(
  meta: MetaStore, logicalBlocks: number, p: Problems,
): Promise<{ refs: Map<number, number>; mapped: number; fills: number }> {
  const refs = new Map<number, number>();
  let mapped = 0;
  let fills = 0;
  await scanAll(meta, PREFIX_L, (k, v) => {
    const lba = lbaOfKey(k);
    mapped += 1;
    if (meta.getSync(k) === undefined) p.add(`lba ${lba}: listed by a scan but missed by a point lookup (damaged table)`);
    if (lba >= logicalBlocks) p.add(`lba ${lba} mapped beyond the device end`);
    let m: MapValue;
    try {
      m = decodeMapValue(v);
    } catch (err) {
      p.add(`lba ${lba}: ${String(err)}`);
      return;
    }
    if (m.kind === 'fill') fills += 1;
    else refs.set(m.id, (refs.get(m.id) ?? 0) + 1);
  });
  return { refs, mapped, fills };
}

async function verifyFragments(
  pool: PoolStore, dataOffset: number, segmentBytes: number, extents: Extent[], fingerprint: FingerprintFn, p: Problems,
): Promise<void> {
  const codecs = new CodecSet();
  const plain = Buffer.allocUnsafe(BLOCK_BYTES);
  const CHUNK = 256;
  for (let i = 0; i < extents.length; i += CHUNK) {
    const batch = extents.slice(i, i + CHUNK);
    const bufs = batch.map((e) => Buffer.allocUnsafe(FRAGMENT_HEADER_BYTES + e.storedBytes));
    await Promise.all(batch.map((e, k) => pool.pread(bufs[k], 0, bufs[k].length, dataOffset + e.segment * segmentBytes + e.offset)));
    batch.forEach((e, k) => {
      const h = readFragmentHeader(bufs[k], 0);
      if (h === undefined || h.extentId !== e.id || h.storedBytes !== e.storedBytes || h.codecId !== e.codecId) {
        p.add(`extent ${e.id}: fragment header at segment ${e.segment} offset ${e.offset} does not match`);
        return;
      }
      try {
        codecs.decode(e.codecId, bufs[k].subarray(FRAGMENT_HEADER_BYTES), plain, 0);
      } catch (err) {
        p.add(`extent ${e.id}: stored bytes do not decode (${String(err)})`);
        return;
      }
      if (!fingerprint(plain).equals(e.fingerprint)) p.add(`extent ${e.id}: content does not match its fingerprint`);
    });
  }
}

/** Problems with the superblock copies: damaged, or stale (geometry differs from the winner). */
async function copyProblems(pool: PoolStore): Promise<string[]> {
  const { slots, winner } = await readCopies(pool);
  const w = slots[winner];
  if (w?.kind !== 'ok') return [];
  const out: string[] = [];
  slots.forEach((s, i) => {
    if (i === winner) return;
    const why = copyDefect(s, w.sb);
    if (why !== undefined) out.push(`superblock copy ${i} is ${why} (copy ${winner} is valid; check --repair rewrites it)`);
  });
  return out;
}

/** Why a non-winning copy needs repair, or undefined if it is fine. */
function copyDefect(s: SlotResult, winner: Superblock): string | undefined {
  if (s.kind === 'bad') return `damaged: ${s.why}`;
  if (s.kind === 'foreign') return 'damaged: bad magic';
  if (s.kind === 'newer') return `of a newer format version ${s.version}`;
  const a = s.sb;
  const same = a.uuid.equals(winner.uuid) && a.version === winner.version && a.segmentBytes === winner.segmentBytes &&
    a.logicalBytes === winner.logicalBytes && a.segmentCount === winner.segmentCount && a.layout === winner.layout;
  return same ? undefined : 'stale: its geometry differs from the newest copy';
}

/**
 * `check --repair`: rewrites a damaged or stale superblock copy with the bytes of
 * the valid newest one, then fdatasyncs. Provably safe: open already uses only the
 * winning copy, so this changes nothing a reader sees; nothing else is written.
 * Returns what it did (empty when nothing needed repair).
 */
export async function repairSuperblock(o: { backingPath: string; metaDir?: string; lockedAs?: FileIdentity }): Promise<string[]> {
  const metaDir = o.metaDir ?? defaultMetaDir(o.backingPath);
  const holder = lockHolder(metaDir);
  if (holder !== undefined) {
    throw new UcError('UC_POOL_LOCKED', `pool is in use (process ${holder} has its metadata open): stop that device first`);
  }
  const pool = await openBackingFile(o.backingPath, { lockedAs: o.lockedAs });
  try {
    await readSuperblock(pool); // refuses foreign, newer, truncated or doubly damaged pools
    const { slots, winner } = await readCopies(pool);
    const w = slots[winner];
    if (w.kind !== 'ok') return [];
    const done: string[] = [];
    for (const [i, s] of slots.entries()) {
      if (i === winner || s.kind === 'newer') continue;
      const why = copyDefect(s, w.sb);
      if (why === undefined) continue;
      const bytes = Buffer.alloc(SLOT_BYTES);
      await pool.pread(bytes, 0, SLOT_BYTES, winner * SLOT_BYTES);
      await pool.pwrite(bytes, 0, SLOT_BYTES, i * SLOT_BYTES);
      await pool.fdatasync();
      done.push(`rewrote superblock copy ${i} (${why}) from copy ${winner}`);
    }
    return done;
  } finally {
    await pool.close();
  }
}

/** tableDamage(), or none when the directory cannot be listed (withMetaClone says why). */
function tablesOrNone(metaDir: string): string[] {
  try {
    return tableDamage(metaDir);
  } catch {
    return [];
  }
}

/**
 * The audit ran on the state an open would serve: the logs ending at their first
 * gap. A gap is a problem only when that state misses durable commits (the audit
 * found the rollback): a power loss leaves gaps only in the unsynced end.
 */
function withLogCut(report: CheckReport, cut: LogCut | undefined): CheckReport {
  if (cut === undefined || !report.problems.some((p) => p.startsWith('metadata rolled back'))) return report;
  const gap = `${describeLogCut(cut)}, and that loses commits the pool recorded as durable: restore from a backup`;
  return { ...report, clean: false, problems: [gap, ...report.problems], problemCount: report.problemCount + 1 };
}

/** The report when the metadata cannot be opened safely: superblock copies only. */
async function unauditedReport(pool: PoolStore): Promise<CheckReport> {
  const problems = [...(await copyProblems(pool)), 'metadata records not audited: restore the metadata directory from a backup first'];
  const counts = {
    mappedBlocks: 0, fillBlocks: 0, extents: 0, sharedExtents: 0, dedupEntries: 0, usedSegments: 0, liveBytes: 0, storedPayloadBytes: 0,
  };
  return { clean: false, problems, problemCount: problems.length, counts, pendingJournal: NO_PENDING };
}

/** The journal records above the metadata's J: what the next open replays. */
async function pendingJournal(metaDir: string, meta: MetaStore): Promise<CheckReport['pendingJournal']> {
  const files = await openJournalFilesReadOnly(metaDir);
  try {
    const { ops } = await WriteJournal.load(files, decodeJournalSeq(meta.getSync(KEY_J)));
    return { records: ops.length, blocks: ops.reduce((n, op) => n + op.blocks, 0) };
  } finally {
    await Promise.all(files.map((f) => f.close()));
  }
}

/** Audits a pool file or block device and its metadata directory; writes nothing. */
export async function checkPool(o: { backingPath: string; metaDir?: string }): Promise<CheckReport> {
  const pool = await openBackingFile(o.backingPath, { readOnly: true });
  try {
    await readSuperblock(pool);
    const metaDir = o.metaDir ?? defaultMetaDir(o.backingPath);
    const tables = tablesOrNone(metaDir);
    // LevelDB over a damaged table can abort the process (a compaction meeting keys
    // that no longer sort): report the damage without letting LevelDB open it.
    const report = tables.length > 0
      ? await unauditedReport(pool)
      : await withMetaClone(metaDir, async (meta, cut) => ({
        ...withLogCut(await auditPool(pool, meta), cut),
        pendingJournal: await pendingJournal(metaDir, meta),
      }));
    if (tables.length === 0) return report;
    return { ...report, clean: false, problems: [...tables, ...report.problems], problemCount: report.problemCount + tables.length };
  } finally {
    await pool.close();
  }
}
