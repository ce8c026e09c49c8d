// What `ublk-compress stats` shows for a packed device: one snapshot built by
// the daemon from the engine's state and counters (buildStatsSnapshot), sent
// as JSON over the control socket, and rendered as an aligned table here.
//
// Two kinds of figures:
//  - state of the pool now: logical size, mapped bytes, physical data bytes
//    (fragments referenced by live extents), pool bytes in use (segments),
//    metadata bytes; compression ratio (unique blocks / their stored bytes)
//    and the combined ratio (mapped bytes / physical data bytes);
//  - totals of the write stream since the pool was formatted (persisted
//    across daemon restarts by counter-store.ts): bytes written and read,
//    dedup hits, same-fill blocks; the dedup ratio ((stored + hits) / stored)
//    and the same-fill ratio (written / (written - same-fill)) come from them.
// IOPS and MB/s are averages since this daemon started.

import { formatBytes } from '../util/units.js';

/** Counters that survive a daemon restart (sums over every run of the pool). */
export interface PersistedCounters {
  blocksWritten: number;
  blocksRead: number;
  dedupHits: number;
  sameFillBlocks: number;
  compressedBlocks: number;
  rawBlocks: number;
  fingerprintCollisions: number;
  segmentsCleaned: number;
  bytesMoved: number;
  reclaimedBytes: number;
}

export const ZERO_COUNTERS: PersistedCounters = {
  blocksWritten: 0, blocksRead: 0, dedupHits: 0, sameFillBlocks: 0, compressedBlocks: 0,
  rawBlocks: 0, fingerprintCollisions: 0, segmentsCleaned: 0, bytesMoved: 0, reclaimedBytes: 0,
};

export function addCounters(a: PersistedCounters, b: PersistedCounters): PersistedCounters {
  const out = { ...ZERO_COUNTERS };
  for (const k of Object.keys(out) as Array<keyof PersistedCounters>) out[k] = a[k] + b[k];
  return out;
}

export interface RequestCounters {
  reads: number;
  writes: number;
  flushes: number;
  discards: number;
  writeZeroes: number;
  errors: number;
}

export interface StatsSnapshot {
  devId: number;
  device: string;
  pid: number;
  uptimeSec: number;
  startedAt: string;
  pool: string;
  metaDir: string;
  uuid: string;
  dedup: string;
  compression: string;
  /** UBLK_F_* names the kernel and the daemon negotiated at ADD_DEV. */
  ublkFlags: string[];
  logicalBytes: number;
  mappedBytes: number;
  bytesWritten: number;
  bytesRead: number;
  physicalDataBytes: number;
  poolUsedBytes: number;
  poolAllocatedBytes: number;
  metadataBytes: number;
  ratio: { compression: number; dedup: number; sameFill: number; combined: number };
  dedupHits: number;
  sameFillBlocks: number;
  extents: number;
  compactor: { state: 'running' | 'idle'; candidates: number; segmentsCleaned: number; reclaimedBytes: number; bytesMoved: number };
  session: RequestCounters & { iops: number; readMBps: number; writeMBps: number };
}

/** The engine figures the snapshot needs (a subset of EngineStats). */
export interface EngineFigures {
  uuid: string;
  logicalBytes: number;
  segmentBytes: number;
  mappedBlocks: number;
  extents: number;
  liveBytes: number;
  physicalBytes: number;
  compaction: { running: boolean; candidates: number };
}

export interface SnapshotInput {
  devId: number;
  pid: number;
  startedAtMs: number;
  nowMs: number;
  pool: string;
  metaDir: string;
  dedup: string;
  compression: string;
  engine: EngineFigures;
  totals: PersistedCounters;
  /** Blocks read/written by this daemon (for MB/s). */
  sessionBlocksRead: number;
  sessionBlocksWritten: number;
  requests: RequestCounters;
  poolAllocatedBytes: number;
  metadataBytes: number;
  /** Negotiated UBLK_F_* names (default none known). */
  ublkFlags?: readonly string[];
}

const BLOCK = 4096;

function ratioOf(num: number, den: number): number {
  return den > 0 ? num / den : 1;
}

export function buildStatsSnapshot(i: SnapshotInput): StatsSnapshot {
  const e = i.engine;
  const t = i.totals;
  const uptimeSec = Math.max(0, (i.nowMs - i.startedAtMs) / 1000);
  const perSec = (n: number): number => (uptimeSec > 0 ? n / uptimeSec : 0);
  const stored = t.compressedBlocks + t.rawBlocks;
  const r = i.requests;
  return {
    devId: i.devId,
    device: `/dev/ublkb${i.devId}`,
    pid: i.pid,
    uptimeSec: Math.round(uptimeSec * 10) / 10,
    startedAt: new Date(i.startedAtMs).toISOString(),
    pool: i.pool,
    metaDir: i.metaDir,
    uuid: e.uuid,
    dedup: i.dedup,
    compression: i.compression,
    ublkFlags: [...(i.ublkFlags ?? [])],
    logicalBytes: e.logicalBytes,
    mappedBytes: e.mappedBlocks * BLOCK,
    bytesWritten: t.blocksWritten * BLOCK,
    bytesRead: t.blocksRead * BLOCK,
    physicalDataBytes: e.liveBytes,
    poolUsedBytes: e.physicalBytes,
    poolAllocatedBytes: i.poolAllocatedBytes,
    metadataBytes: i.metadataBytes,
    ratio: {
      compression: ratioOf(e.extents * BLOCK, e.liveBytes),
      dedup: ratioOf(stored + t.dedupHits, stored),
      sameFill: ratioOf(t.blocksWritten, t.blocksWritten - t.sameFillBlocks),
      combined: ratioOf(e.mappedBlocks * BLOCK, e.liveBytes),
    },
    dedupHits: t.dedupHits,
    sameFillBlocks: t.sameFillBlocks,
    extents: e.extents,
    compactor: {
      state: e.compaction.running ? 'running' : 'idle',
      candidates: e.compaction.candidates,
      segmentsCleaned: t.segmentsCleaned,
      reclaimedBytes: t.reclaimedBytes,
      bytesMoved: t.bytesMoved,
    },
    session: {
      ...r,
      iops: perSec(r.reads + r.writes + r.flushes + r.discards + r.writeZeroes),
      readMBps: perSec((i.sessionBlocksRead * BLOCK) / 1e6),
      writeMBps: perSec((i.sessionBlocksWritten * BLOCK) / 1e6),
    },
  };
}

function fmtRatio(x: number): string {
  return `${x.toFixed(2)}:1`;
}

function fmtDuration(sec: number): string {
  const s = Math.floor(sec);
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  return h > 0 ? `${h}h${String(m).padStart(2, '0')}m` : m > 0 ? `${m}m${String(s % 60).padStart(2, '0')}s` : `${sec.toFixed(1)}s`;
}

/** Two aligned columns: label, value. */
export function renderStatsTable(s: StatsSnapshot): string {
  const rows: Array<[string, string]> = [
    ['device', `${s.device} (packed, dedup ${s.dedup}, compress ${s.compression})`],
    ['pool', s.pool],
    ['metadata dir', s.metaDir],
    ['daemon', `pid ${s.pid}, up ${fmtDuration(s.uptimeSec)}`],
    ['ublk flags', s.ublkFlags.length > 0 ? s.ublkFlags.join(' ') : '-'],
    ['logical size', formatBytes(s.logicalBytes)],
    ['mapped data', formatBytes(s.mappedBytes)],
    ['bytes written', formatBytes(s.bytesWritten)],
    ['bytes read', formatBytes(s.bytesRead)],
    ['physical data', formatBytes(s.physicalDataBytes)],
    ['pool in use', `${formatBytes(s.poolUsedBytes)} (allocated on disk ${formatBytes(s.poolAllocatedBytes)})`],
    ['metadata', formatBytes(s.metadataBytes)],
    ['ratio compression', fmtRatio(s.ratio.compression)],
    ['ratio dedup', fmtRatio(s.ratio.dedup)],
    ['ratio same-fill', fmtRatio(s.ratio.sameFill)],
    ['ratio combined', fmtRatio(s.ratio.combined)],
    ['dedup hits', String(s.dedupHits)],
    ['same-fill blocks', String(s.sameFillBlocks)],
    ['extents', String(s.extents)],
    [
      'compactor',
      `${s.compactor.state}, ${s.compactor.candidates} candidate segments, ${s.compactor.segmentsCleaned} cleaned, ` +
        `${formatBytes(s.compactor.reclaimedBytes)} reclaimed`,
    ],
    ['IOPS', `${s.session.iops.toFixed(0)} (since start)`],
    ['MB/s', `read ${s.session.readMBps.toFixed(1)}, write ${s.session.writeMBps.toFixed(1)} (since start)`],
  ];
  const width = Math.max(...rows.map(([k]) => k.length));
  return rows.map(([k, v]) => `${k.padEnd(width)}  ${v}\n`).join('');
}
