// The 1:1 layout's part of serving (`add --layout direct`, and `recover`):
// the checks, the backing file (locked, created sparse or extended as
// planned, the change undone when the start fails) and the device over it
// (direct-device.ts). A failed recovery leaves the device quiesced.

import { unlinkIfSame } from '../../io/index.js';
import { requireUblk } from '../../device/control.js';
import { formatBytes } from '../../util/units.js';
import { probeBacking } from '../backing-lock.js';
import type { AddConfig } from '../config.js';
import type { Logger } from '../logger.js';
import { requireFreeDeviceId, requireRoot } from '../preflight.js';
import type { BackingNote, OpenedTarget, ServeTarget } from '../serve-target.js';
import { applyDirectBacking, claimDirectBacking, describePlan, planDirectBacking, type BackingPlan } from './direct-backing.js';
import { deviceOptionsOf } from './device-session.js';
import { startDirectDevice } from './direct-device.js';

/**
 * Every check that needs no device, run by the parent `add` and again by
 * the daemon (which may start a moment later): root, ublk, free id, usable
 * backing path and size, backing not already served (its lock).
 */
export function preflightDirect(cfg: AddConfig, recover = false): BackingPlan {
  requireRoot();
  requireUblk();
  if (cfg.devId !== undefined && !recover) requireFreeDeviceId(cfg.devId);
  const plan = planDirectBacking(cfg.backing, cfg.sizeBytes);
  probeBacking(plan.path);
  return plan;
}

/** Runs `undo` after a failed start, logging (not throwing) its own failure. */
function undoQuietly(undo: (() => void) | undefined, log: Logger): void {
  try {
    undo?.();
  } catch (e) {
    log.error({ err: e }, 'could not undo the backing file change');
  }
}

async function openDirect(
  cfg: AddConfig,
  recover: boolean,
  first: BackingPlan,
  log: Logger,
  announce: (n: BackingNote) => void,
): Promise<OpenedTarget> {
  const { lock, plan } = claimDirectBacking(first, cfg.sizeBytes);
  let undo: (() => void) | undefined = lock.created ? () => unlinkIfSame(plan.path, lock) : undefined;
  try {
    const note = describePlan(plan);
    announce({ path: plan.path, action: plan.action, fromBytes: plan.fromBytes, note });
    undo = applyDirectBacking(plan, lock);
    if (note) log.info({ backing: plan.path, action: plan.action }, note);
  } catch (err) {
    undoQuietly(undo, log);
    lock.release();
    throw err;
  }
  return {
    lock,
    backing: plan.path,
    sizeBytes: plan.sizeBytes,
    recordFields: {},
    readyFields: { size: formatBytes(plan.sizeBytes), backing: plan.path },
    stoppedMessage: 'stopped and deleted',
    start: (hooks) =>
      startDirectDevice({
        ...deviceOptionsOf(cfg),
        ...hooks,
        backing: plan.path,
        lockedAs: lock,
        sizeBytes: plan.sizeBytes,
        preallocate: cfg.preallocate,
        zeroCopyChoice: cfg.zeroCopy,
        recover,
      }),
    abort: async (device) => {
      if (device) await device.shutdown().catch((e: unknown) => log.error({ err: e }, 'cleanup failed'));
      undoQuietly(undo, log); // the file holds no data of the user yet
    },
  };
}

export function directTarget(cfg: AddConfig, recover = false): ServeTarget {
  let plan: BackingPlan | undefined;
  return {
    layout: 'direct',
    recovering: recover,
    preflight: () => {
      plan = preflightDirect(cfg, recover);
    },
    open: (log, announce) => openDirect(cfg, recover, plan ?? preflightDirect(cfg, recover), log, announce),
  };
}
