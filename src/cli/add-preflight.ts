// The checks `add` runs before it creates anything (in the parent, and again
// in the daemon, which may start a moment later): layout, root, ublk, free
// id, usable backing path and size, backing not already served (its lock).

import { requireAvailableLayout, type AddConfig } from './add-config.js';
import { probeBacking } from './backing-lock.js';
import { planDirectBacking, type BackingPlan } from './direct-backing.js';
import { requireFreeDeviceId, requireRoot, requireUblk } from './preflight.js';

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

