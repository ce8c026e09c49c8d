// The checks `add` runs before it creates anything (in the parent, and again
// in the daemon, which may start a moment later): layout, root, ublk, free
// id, usable backing path and size, backing not already served (its lock).

import { requireAvailableLayout, type AddConfig } from './add-config.js';
import { probeBacking } from './backing-lock.js';
import { planDirectBacking, type BackingPlan } from './direct-backing.js';
import { inspectBacking, requireFreeDeviceId, requireRoot, requireUblk } from './preflight.js';
import { UcError } from '../util/errors.js';

/**
 * Mistakes in the --backing argument itself (a directory, a missing parent
 * directory, a special file) are reported before root and the kernel are
 * checked: `add --backing /tmp` exits 2 on any machine. Other problems with
 * the path (permissions) wait for the full preflight, in its order.
 */
export function rejectBackingArgument(path: string): void {
  try {
    inspectBacking(path);
  } catch (err) {
    if (err instanceof UcError && err.code === 'UC_INVALID_ARGUMENT') throw err;
  }
}

/** Every check that needs no device: run by the parent and again by the daemon. */
export function preflightAdd(cfg: AddConfig): BackingPlan {
  requireAvailableLayout(cfg.layout);
  requireRoot();
  requireUblk();
  if (cfg.devId !== undefined) requireFreeDeviceId(cfg.devId);
  const plan = planDirectBacking(cfg.backing, cfg.sizeBytes);
  probeBacking(plan.path);
  return plan;
}

