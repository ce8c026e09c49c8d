// The packed layout's part of serving (`add --layout packed`, and `recover`,
// the same daemon re-attaching): the checks, the pool (locked, then formatted
// or opened and maybe grown: packed-pool.ts) and the device over its engine
// (packed-device.ts). A start that fails removes what it created; a failed
// recovery leaves the device quiesced.

import { requireUblk } from '../../device/control.js';
import { ringEntries } from '../../device/index.js';
import { backingOpener } from '../../io/index.js';
import { IoRing } from '../../native/index.js';
import { formatBytes } from '../../util/units.js';
import { probeBacking } from '../backing-lock.js';
import type { AddConfig, PackedConfig } from '../config.js';
import type { Logger } from '../logger.js';
import { requireFreeDeviceId, requireRoot } from '../preflight.js';
import type { BackingNote, OpenedTarget, ServeTarget } from '../serve-target.js';
import { toUserError } from '../user-error.js';
import { closeRingWhenIdle, deviceOptionsOf } from './device-session.js';
import { startPackedDevice } from './packed-device.js';
import { claimPackedPool, preflightPackedPool, type PoolPlan } from './packed-pool.js';

/** Every check that needs neither the pool's content nor a device. */
export function preflightPacked(cfg: AddConfig, p: PackedConfig): PoolPlan {
  requireRoot();
  requireUblk();
  if (cfg.devId !== undefined && !p.recover) requireFreeDeviceId(cfg.devId);
  const plan = preflightPackedPool(cfg, p);
  // The pool file's own lock says whether it is served, whatever path names it.
  probeBacking(plan.backing.path);
  return plan;
}

async function openPacked(cfg: AddConfig, p: PackedConfig, log: Logger, announce: (n: BackingNote) => void): Promise<OpenedTarget> {
  // One ring for the queues and the pool's file I/O: one wake-up serves both.
  const ring = new IoRing({ entries: ringEntries(2 * cfg.queues * cfg.depth) });
  const { opened, lock } = await claimPackedPool(cfg, p, backingOpener(ring)).catch((e: unknown) => {
    ring.close();
    throw toUserError(e, { pool: p.poolPath }); // an odd throw while opening: the pool's contents
  });
  const { engine, note } = opened;
  announce({ path: p.poolPath, action: 'none', fromBytes: 0, note });
  if (note) log.info({ pool: p.poolPath, action: opened.action }, note);
  const { records, blocks } = engine.replayed;
  if (records > 0) {
    log.info({ pool: p.poolPath, records, blocks }, 'replayed the write journal: writes the last server completed but had not committed');
  }
  return {
    lock,
    backing: p.poolPath,
    sizeBytes: engine.logicalBytes,
    recordFields: { metaDir: p.metaDir, dedup: p.dedup, compression: p.compression, cacheMib: p.cacheMib },
    readyFields: { size: formatBytes(engine.logicalBytes), pool: p.poolPath, meta: p.metaDir },
    stoppedMessage: 'pool closed; device stopped and deleted',
    start: (hooks) => startPackedDevice({ ...deviceOptionsOf(cfg), ...hooks, engine, ring, packed: p }),
    // startPackedDevice cleans up after itself (ring included); a pool this start created goes too.
    // A start that failed after the device came up stops it (engine closed) before the lock goes.
    abort: async (device) => {
      if (device) return device.shutdown();
      await opened.undo();
      closeRingWhenIdle(ring, log);
    },
  };
}

export function packedTarget(cfg: AddConfig, p: PackedConfig): ServeTarget {
  return {
    layout: 'packed',
    recovering: p.recover,
    preflight: () => void preflightPacked(cfg, p),
    open: (log, announce) => openPacked(cfg, p, log, announce),
  };
}
