// Binds the packed engine (src/engine) to a ublk device: creates the device
// (or, with `recover`, re-attaches to an existing one through ublk user
// recovery), serves it with the engine as BlockTarget, keeps the cumulative
// counters on disk, and answers `stats` and `compact` over the control socket.
// The engine's background compactor runs inside this process. FLUSH and FUA
// reach engine.flush()/write(fua) unchanged (consistency rule 1); DISCARD and
// WRITE_ZEROES are engine range operations.

import { readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { describeFlags } from '../../device/params.js';
import { UblkDevice } from '../../device/ublk-device.js';
import type { BlockEngine } from '../../engine/index.js';
import { UcError } from '../../util/errors.js';
import { MAX_IO_BUF_BYTES } from '../add-config.js';
import { controlSocketPath, type CompactProgress, type CompactResult, type ResizeResult } from '../control-protocol.js';
import { readRunRecord, writeRunRecord } from '../run-file.js';
import { formatBytes } from '../../util/units.js';
import type { Logger } from '../logger.js';
import type { PackedConfig } from '../packed-options.js';
import { addCounters, buildStatsSnapshot, ZERO_COUNTERS, type PersistedCounters, type StatsSnapshot } from '../packed-stats.js';
import { startControlServer, type ControlServer } from './control-server.js';
import { loadCounters, saveCounters } from './counter-store.js';
import { loggedTarget } from './logged-target.js';

/** Cumulative counters are saved this often while serving (bounds the loss at a kill -9). */
export const COUNTERS_SAVE_MS = 5000;

export interface PackedDeviceOptions {
  readonly engine: BlockEngine;
  readonly packed: PackedConfig;
  readonly devId: number | undefined;
  readonly queues: number;
  readonly depth: number;
  readonly startTimeoutMs: number;
  readonly log: Logger;
  /** Called right after ADD_DEV (not when recovering), before START_DEV. */
  readonly onAdded: (devId: number) => void;
}

export interface ServedPacked {
  readonly devId: number;
  readonly path: string;
  readonly stopped: Promise<void>;
  stats(): StatsSnapshot;
  /** Stops the device, closes the engine (flush + close), saves counters, deletes the device. */
  shutdown(): Promise<void>;
}

function isGone(err: unknown): boolean {
  return err instanceof UcError && err.code === 'UC_DEVICE_NOT_FOUND';
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

/** The engine's counters of this process as the persisted shape. */
function sessionCounters(engine: BlockEngine, reclaimedBytes: number): PersistedCounters {
  const s = engine.stats();
  return {
    ...ZERO_COUNTERS,
    blocksWritten: s.blocksWritten,
    blocksRead: s.blocksRead,
    dedupHits: s.dedupHits,
    sameFillBlocks: s.sameFillBlocks,
    compressedBlocks: s.compressedBlocks,
    rawBlocks: s.rawBlocks,
    fingerprintCollisions: s.fingerprintCollisions,
    segmentsCleaned: s.compaction.segmentsCleaned,
    bytesMoved: s.compaction.bytesMoved,
    reclaimedBytes,
  };
}

export async function startPackedDevice(opts: PackedDeviceOptions): Promise<ServedPacked> {
  const { engine, packed } = opts;
  const uuid = engine.uuid;
  const base = loadCounters(packed.metaDir, uuid);
  const startedAtMs = Date.now();
  let log = opts.log;
  let device: UblkDevice | undefined;
  let control: ControlServer | undefined;
  let saveTimer: NodeJS.Timeout | undefined;
  let compacting: Promise<unknown> = Promise.resolve();
  const segmentBytes = engine.stats().segmentBytes;
  const totals = (): PersistedCounters => {
    const session = sessionCounters(engine, 0);
    session.reclaimedBytes = session.segmentsCleaned * segmentBytes;
    return addCounters(base, session);
  };
  const save = (): void => {
    try {
      saveCounters(packed.metaDir, uuid, totals());
    } catch (err) {
      log.warn({ err }, 'could not save the counters');
    }
  };

  const stats = (): StatsSnapshot => {
    const e = engine.stats();
    const dev = device;
    assertDevice(dev);
    return buildStatsSnapshot({
      devId: dev.devId,
      pid: process.pid,
      startedAtMs,
      nowMs: Date.now(),
      pool: packed.poolPath,
      metaDir: packed.metaDir,
      dedup: packed.dedup,
      compression: packed.compression,
      engine: e,
      totals: totals(),
      sessionBlocksRead: e.blocksRead,
      sessionBlocksWritten: e.blocksWritten,
      requests: dev.stats,
      poolAllocatedBytes: fileAllocatedBytes(packed.poolPath),
      metadataBytes: allocatedBytesOf(packed.metaDir),
      ublkFlags: describeFlags(dev.info.flags),
    });
  };

  // One hand-triggered compaction at a time, one segment per step so that
  // progress can be reported and foreground I/O interleaves.
  const compact = (liveFraction: number, onProgress: (p: CompactProgress) => void): Promise<CompactResult> => {
    const run = compacting.then(async () => {
      const started = Date.now();
      const before = engine.stats().compaction;
      const total = engine.stats().compaction.candidates;
      let cs = before;
      for (let step = 0; step < engine.stats().segmentCount + 1; step += 1) {
        const prev = cs.segmentsCleaned;
        cs = await engine.compact({ liveFraction, maxSegments: 1 });
        const done = cs.segmentsCleaned - before.segmentsCleaned;
        onProgress({ type: 'progress', done, total: Math.max(total, done), reclaimedBytes: done * segmentBytes });
        if (cs.segmentsCleaned === prev) break;
      }
      // Make the reclaimed space durable and the punched holes final.
      await engine.flush();
      save();
      const cleaned = cs.segmentsCleaned - before.segmentsCleaned;
      return {
        segmentsCleaned: cleaned,
        bytesMoved: cs.bytesMoved - before.bytesMoved,
        reclaimedBytes: cleaned * segmentBytes,
        durationMs: Date.now() - started,
      };
    });
    compacting = run.catch(() => undefined);
    return run;
  };

  // Online grow (docs/kernels.md): the pool first (durable: superblock and
  // state committed), then the queues and the kernel's view of the size.
  // Serialized with compaction; a pool never shrinks.
  const resize = (sizeBytes: number): Promise<ResizeResult> => {
    const run = compacting.then(async () => {
      const dev = device;
      assertDevice(dev);
      const fromBytes = engine.logicalBytes;
      if (sizeBytes < fromBytes) {
        throw new UcError('UC_INVALID_ARGUMENT', `--size ${formatBytes(sizeBytes)} is smaller than ${dev.path} (${formatBytes(fromBytes)}); a pool never shrinks`);
      }
      if (sizeBytes === fromBytes) return { fromBytes, toBytes: sizeBytes };
      if (!dev.canGrowLive) {
        throw new UcError(
          'UC_KERNEL_UNSUPPORTED',
          `this kernel cannot resize a live ublk device (UBLK_F_UPDATE_SIZE, Linux 6.16 or later); grow it offline: ` +
            `ublk-compress del -n ${dev.devId}, then ublk-compress add --backing ${packed.poolPath} --size ${sizeBytes}`,
        );
      }
      await engine.resize(sizeBytes);
      await dev.grow(sizeBytes);
      const rec = readRunRecord(dev.devId);
      if (rec && rec.pid === process.pid) writeRunRecord({ ...rec, sizeBytes });
      log.info({ from: fromBytes, to: sizeBytes }, 'grew online');
      return { fromBytes, toBytes: sizeBytes };
    });
    compacting = run.catch(() => undefined);
    return run;
  };

  let shuttingDown: Promise<void> | undefined;
  const shutdown = (): Promise<void> => {
    shuttingDown ??= (async () => {
      if (saveTimer !== undefined) clearInterval(saveTimer);
      await control?.close().catch(() => undefined);
      try {
        // Stop first (the queues drain: no request is left in the engine),
        // then close the engine, which flushes and commits durably.
        if (device) await device.stop().catch((err: unknown) => { if (!isGone(err)) throw err; });
      } finally {
        await compacting;
        await engine.close().catch((err: unknown) => log.error({ err }, 'closing the pool failed'));
        save();
      }
      if (device) await device.delete().catch((err: unknown) => { if (!isGone(err)) throw err; });
    })();
    return shuttingDown;
  };

  const target = loggedTarget(engine, log);
  try {
    if (packed.recover) {
      const id = opts.devId;
      if (id === undefined) throw new UcError('UC_INVALID_ARGUMENT', 'recovery needs a device id');
      device = await UblkDevice.open(id);
      log = log.child({ devId: id });
      if (device.sizeBytes !== engine.logicalBytes) {
        device.close();
        const d = device;
        device = undefined;
        throw new UcError(
          'UC_META_MISMATCH',
          `${d.path} is ${d.sizeBytes} bytes but pool ${packed.poolPath} is ${engine.logicalBytes}: not this pool's device`,
        );
      }
      log.info({ flags: `0x${device.info.flags.toString(16)}`, state: device.info.state }, 'recovering');
      await device.recover(target, { startTimeoutMs: opts.startTimeoutMs, onError: (err, what) => log.error({ err, what }, 'queue error') });
    } else {
      device = await UblkDevice.create({
        devId: opts.devId,
        queues: opts.queues,
        depth: opts.depth,
        sizeBytes: engine.logicalBytes,
        maxIoBufBytes: MAX_IO_BUF_BYTES,
      });
      log = log.child({ devId: device.devId });
      opts.onAdded(device.devId);
      log.info({ flags: `0x${device.info.flags.toString(16)}`, queues: opts.queues, depth: opts.depth }, 'added');
      await device.start(target, { startTimeoutMs: opts.startTimeoutMs, onError: (err, what) => log.error({ err, what }, 'queue error') });
    }
    control = await startControlServer(controlSocketPath(device.devId), { stats, compact, resize }, log);
  } catch (err) {
    if (packed.recover) {
      // Leave the device as we found it (quiesced) for another attempt or `del`.
      if (device && device.state !== 'idle') await device.stop().catch(() => undefined);
      await engine.close().catch(() => undefined);
      await control?.close();
      throw err;
    }
    await shutdown().catch((e: unknown) => log.error({ err: e }, 'cleanup after a failed start failed'));
    throw err;
  }
  saveTimer = setInterval(save, COUNTERS_SAVE_MS);
  saveTimer.unref();
  const served = device;
  return { devId: served.devId, path: served.path, stopped: served.stopped, stats, shutdown };
}

function assertDevice(d: UblkDevice | undefined): asserts d is UblkDevice {
  if (d === undefined) throw new UcError('UC_DEVICE_NOT_FOUND', 'the device is not started yet');
}
