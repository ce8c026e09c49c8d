// The checks `add` runs before it creates anything (in the parent, and again
// in the daemon, which may start a moment later): layout, root, ublk, free
// id, usable backing path and size, backing not already served.

import { resolve } from 'node:path';
import { UcError } from '../util/errors.js';
import { requireAvailableLayout, type AddConfig } from './add-config.js';
import { planDirectBacking, type BackingPlan } from './direct-backing.js';
import { requireFreeDeviceId, requireRoot, requireUblk } from './preflight.js';
import { listRunRecords, processAlive } from './run-file.js';

/** Every check that needs no device: run by the parent and again by the daemon. */
export function preflightAdd(cfg: AddConfig): BackingPlan {
  requireAvailableLayout(cfg.layout);
  requireRoot();
  requireUblk();
  if (cfg.devId !== undefined) requireFreeDeviceId(cfg.devId);
  const plan = planDirectBacking(cfg.backing, cfg.sizeBytes);
  const holder = listRunRecords().find((r) => resolve(r.backing) === plan.path && r.pid !== process.pid && processAlive(r.pid));
  if (holder) {
    throw new UcError('UC_POOL_LOCKED', `backing ${plan.path} is already served by /dev/ublkb${holder.devId}`);
  }
  return plan;
}

