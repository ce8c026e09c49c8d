// What `ublk-compress stats` shows for a packed device: one snapshot built by
// the daemon from the engine's state and counters (buildStatsSnapshot), sent
// as JSON over the control socket, and rendered as an aligned table by the CLI
// (src/cli/render/packed-stats-table.ts).
//
// Two kinds of figures:
//  - state of the pool now: logical size, mapped bytes, physical data bytes
//    (fragments referenced by live extents), pool bytes in use (segments),
//    metadata bytes; compression ratio (unique blocks / their stored bytes)
//    and the combined ratio (mapped bytes / physical data bytes);
//  - totals of the write stream since the pool was formatted (the engine's
//    cumulative counters, persisted in its metadata): bytes written and read,
//    dedup hits, same-fill blocks; the dedup ratio ((stored + hits) / stored)
//    and the same-fill ratio (written / (written - same-fill)) come from them.
// IOPS and MB/s are averages since this daemon started.

import type { Counters, MetaCacheStats, NativeWriteDeclines, SectionStats } from '../../engine/index.js';
import type { DispatchStats } from '../../device/index.js';
import type { LatencySnapshot } from '../latency.js';
import type { NativeReadReport } from './packed-native.js';

/** Requests served by this daemon, by kind (the queue dispatch counts them). */
export type RequestCounters = DispatchStats;

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
  /** Reads failed with EIO because stored bytes did not verify (this daemon). */
  readVerifyFailures: number;
  compactor: { state: 'running' | 'idle'; candidates: number; segmentsCleaned: number; reclaimedBytes: number; bytesMoved: number };
  /** The engine's metadata cache and dedup filter, since this daemon started (docs/packed.md). */
  metadataCache: MetaCacheStats;
  session: RequestCounters & { iops: number; readMBps: number; writeMBps: number };
  /** Request latency histograms of this daemon, by operation (absent from older daemons). */
  latency?: LatencySnapshot;
  /** The native read path: which serves READs, and its counts since start (absent from older daemons). */
  nativeRead?: NativeReadReport;
  /** Blocks of one-block writes the addon applied, since start (absent from older daemons). */
  nativeAppliedBlocks?: number;
  /** One-block writes applied in the addon without the engine mutex (by the queues or engine.write), since start (absent from older daemons). */
  nativeWrittenBlocks?: number;
  /** One-block writes left to the JavaScript path, by reason, since start (absent without the native path or from older daemons). */
  nativeWriteDeclines?: NativeWriteDeclines;
  /** The engine mutex's sections since start, by kind (absent from older daemons). */
  engineMutex?: SectionStats;
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
  readVerifyFailures: number;
  compaction: { running: boolean; candidates: number };
  cache: MetaCacheStats;
  nativeAppliedBlocks: number;
  nativeWrittenBlocks: number;
  nativeWriteDeclines?: NativeWriteDeclines;
  mutex?: SectionStats;
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
  /** The engine's cumulative counters (EngineStats.totals). */
  totals: Counters;
  /** Blocks read/written by this daemon (for MB/s). */
  sessionBlocksRead: number;
  sessionBlocksWritten: number;
  requests: RequestCounters;
  poolAllocatedBytes: number;
  metadataBytes: number;
  latency?: LatencySnapshot;
  /** Negotiated UBLK_F_* names (default none known). */
  ublkFlags?: readonly string[];
  nativeRead?: NativeReadReport;
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
    readVerifyFailures: e.readVerifyFailures,
    compactor: {
      state: e.compaction.running ? 'running' : 'idle',
      candidates: e.compaction.candidates,
      segmentsCleaned: t.segmentsCleaned,
      reclaimedBytes: t.segmentsCleaned * e.segmentBytes,
      bytesMoved: t.bytesMoved,
    },
    metadataCache: { ...e.cache },
    session: {
      ...r,
      iops: perSec(r.reads + r.writes + r.flushes + r.discards + r.writeZeroes),
      readMBps: perSec((i.sessionBlocksRead * BLOCK) / 1e6),
      writeMBps: perSec((i.sessionBlocksWritten * BLOCK) / 1e6),
    },
    ...(i.latency ? { latency: i.latency } : {}),
    ...(i.nativeRead ? { nativeRead: { ...i.nativeRead } } : {}),
    nativeAppliedBlocks: e.nativeAppliedBlocks,
    nativeWrittenBlocks: e.nativeWrittenBlocks,
    ...(e.nativeWriteDeclines ? { nativeWriteDeclines: { ...e.nativeWriteDeclines } } : {}),
    ...(e.mutex ? { engineMutex: e.mutex } : {}),
  };
}
