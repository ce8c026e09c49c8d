// Binds the packed engine (src/engine) to a ublk device: creates the device
// (or, with `recover`, re-attaches to an existing one through ublk user
// recovery), serves it with the engine as BlockTarget, and answers `stats`
// (rendering the engine's figures; the engine persists its own cumulative
// counters), `compact` and `resize` (online grow) over the control socket.
// The engine's background compactor runs inside this process. FLUSH and FUA
// reach engine.flush()/write(fua) unchanged (consistency rule 1); DISCARD and
// WRITE_ZEROES are engine range operations.

import { readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { describeFlags, UblkDevice, type BlockTarget } from '../../device/index.js';
import type { BlockEngine } from '../../engine/index.js';
import type { IoRing, UblkQueue } from '../../native/index.js';
import { UcError } from '../../util/errors.js';
import type { PackedConfig } from '../config.js';
import type { ResizeResult } from '../control-protocol.js';
import { RequestLatency } from '../latency.js';
import { loggedTarget } from '../logged-target.js';
import type { Logger } from '../logger.js';
import { NoSpaceEpisode } from '../no-space-episode.js';
import type { ServedDevice, StartHooks } from '../serve-target.js';
import { closeRingWhenIdle, DeviceSession, type DeviceGeometry } from './device-session.js';
import { compactionRunner } from './packed-compaction.js';
import { growPackedOnline } from './packed-resize.js';
import { PackedNativeReads, packedReadPathFromEnv, startNativeApply } from './packed-native.js';
import { buildStatsSnapshot, type StatsSnapshot } from './packed-stats.js';

export interface PackedDeviceOptions extends Omit<DeviceGeometry, 'sizeBytes'>, StartHooks {
  readonly engine: BlockEngine;
  /** The ring the pool's file I/O runs on; the queues share it, so one wake-up serves
   * both. Closed once the engine is closed, before DEL_DEV. */
  readonly ring: IoRing;
  readonly packed: PackedConfig;
  readonly startTimeoutMs: number;
}

export interface ServedPacked extends ServedDevice {
  stats(): StatsSnapshot;
}

/** Bytes allocated on disk under `dir` (one level: a LevelDB directory is flat). */
function allocatedBytesOf(dir: string): number {
  let total = 0;
  try {
    for (const name of readdirSync(dir)) total += statSync(join(dir, name)).blocks * 512;
  } catch {
    // vanished meanwhile: report what was counted
  }
  return total;
}

function fileAllocatedBytes(path: string): number {
  try {
    return statSync(path).blocks * 512;
  } catch {
    return 0;
  }
}

/** The `stats` snapshot: engine state and totals, request counts, sizes on disk. */
function snapshotOf(
  opts: PackedDeviceOptions, device: UblkDevice, startedAtMs: number, latency: RequestLatency, reads: PackedNativeReads,
): StatsSnapshot {
  const { engine, packed } = opts;
  reads.countInto(engine);
  const e = engine.stats();
  const nativeRead = reads.report();
  return buildStatsSnapshot({
    devId: device.devId,
    pid: process.pid,
    startedAtMs,
    nowMs: Date.now(),
    pool: packed.poolPath,
    metaDir: packed.metaDir,
    dedup: packed.dedup,
    compression: packed.compression,
    engine: e,
    totals: e.totals,
    sessionBlocksRead: e.blocksRead,
    sessionBlocksWritten: e.blocksWritten,
    // Requests served natively never reach the dispatch's counts (a write served in
    // part is counted there: JS served its rest).
    requests: { ...device.stats, reads: device.stats.reads + nativeRead.requests, writes: device.stats.writes + reads.writeRequests() },
    nativeRead,
    poolAllocatedBytes: fileAllocatedBytes(packed.poolPath),
    metadataBytes: allocatedBytesOf(packed.metaDir),
    latency: latency.snapshot(),
    ublkFlags: describeFlags(device.info.flags),
  });
}

/** One log line per engine event (damaged block read, pool or metadata full). */
function logEngineEvents(engine: BlockEngine, log: () => Logger): void {
  engine.setEventHandler((event) => {
    if (event.kind === 'no-space-cleared') log().info({ event: event.kind }, 'space is available again; writes resume');
    else if (event.kind === 'cache-warmed') log().info({ ...event, event: event.kind }, 'metadata cache warmed from the store');
    else log().error({ ...event, event: event.kind }, event.kind === 'no-space' ? 'backing store full' : 'read verification failed');
  });
}

/** Re-attaches to device `devId` (user recovery) after checking it is this pool's. */
async function recoverDevice(
  session: DeviceSession, opts: PackedDeviceOptions, target: BlockTarget, reads: PackedNativeReads,
): Promise<void> {
  const id = opts.devId;
  if (id === undefined) throw new UcError('UC_INVALID_ARGUMENT', 'recovery needs a device id');
  const device = await UblkDevice.open(id);
  const logical = opts.engine.logicalBytes;
  if (device.sizeBytes !== logical) {
    device.close();
    throw new UcError(
      'UC_META_MISMATCH',
      `${device.path} is ${device.sizeBytes} bytes but pool ${opts.packed.poolPath} is ${logical}: not this pool's device`,
    );
  }
  session.device = device;
  session.log = session.log.child({ devId: id });
  session.log.info({ flags: `0x${device.info.flags.toString(16)}`, state: device.info.state }, 'recovering');
  await device.recover(target, {
    ...session.serveOptions(opts.startTimeoutMs), ring: opts.ring, onQueue: (q) => reads.onQueue(q, device.zeroCopy),
  });
}

/** A failed recovery leaves the device as it was found (quiesced) for another attempt or `del`. */
async function abandonRecovery(session: DeviceSession, engine: BlockEngine): Promise<void> {
  const device = session.device;
  if (device && device.state !== 'idle') await device.stop().catch(() => undefined);
  await engine.close().catch(() => undefined);
  await session.closeControl();
}

export async function startPackedDevice(opts: PackedDeviceOptions): Promise<ServedPacked> {
  const { engine, packed } = opts;
  const startedAtMs = Date.now();
  const logNow = (): Logger => session.log;
  const compaction = compactionRunner(engine);
  // Before any queue exists: the engine shares its tables once.
  const reads = PackedNativeReads.start(engine, packedReadPathFromEnv());
  reads.serveWrites(engine, startNativeApply(engine));
  logEngineEvents(engine, logNow);
  const session: DeviceSession = new DeviceSession(opts.log, {
    // Stop first (the queues drain: no request is left in the engine), then
    // close the engine, which flushes and commits durably.
    release: async () => {
      await compaction.idle();
      reads.countInto(engine);
      await engine.close().catch((err: unknown) => session.log.error({ err }, 'closing the pool failed'));
      closeRingWhenIdle(opts.ring, session.log);
    },
  });
  const stats = (): StatsSnapshot => {
    const device = session.device;
    if (device === undefined) throw new UcError('UC_DEVICE_NOT_FOUND', 'the device is not started yet');
    return snapshotOf(opts, device, startedAtMs, latency, reads);
  };
  const latency = new RequestLatency();
  const resize = (sizeBytes: number): Promise<ResizeResult> =>
    compaction.serialized(() => {
      const device = session.device;
      if (device === undefined) throw new UcError('UC_DEVICE_NOT_FOUND', 'the device is not started yet');
      return growPackedOnline({ engine, device, poolPath: packed.poolPath, log: session.log }, sizeBytes);
    });
  const target = loggedTarget(engine, opts.log, new NoSpaceEpisode(), latency);
  try {
    if (packed.recover) await recoverDevice(session, opts, target, reads);
    else {
      const device = await session.add({ ...opts, sizeBytes: engine.logicalBytes }, opts);
      const onQueue = (q: UblkQueue): void => reads.onQueue(q, device.zeroCopy);
      await device.start(target, { ...session.serveOptions(opts.startTimeoutMs), ring: opts.ring, onQueue });
    }
    session.log.info({ readPath: reads.path }, 'packed reads');
    await session.serveControl({ stats, compact: compaction.compact, resize }, opts.statsGid);
  } catch (err) {
    if (packed.recover) await abandonRecovery(session, engine);
    else await session.shutdownAfterFailure();
    throw err;
  }
  return { ...session.served(), stats };
}
