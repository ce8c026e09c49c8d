// Sizing and preparing the backing file of a 1:1 (direct) device: created
// sparse when missing, extended when smaller than the device, never
// truncated. Planning is separate from doing so that `add` can report every
// error before it touches the disk, and undo what it did if startup fails.

import { closeSync, ftruncateSync, constants } from 'node:fs';
import { openLocked, unlinkIfSame, type FileIdentity } from '../../io/index.js';
import { UcError } from '../../util/errors.js';
import { BLOCK_BYTES, formatBytes } from '../../util/units.js';
import { claimBacking, type BackingLock } from '../backing-lock.js';
import { inspectBacking, validateDeviceSize } from '../preflight.js';

export interface BackingPlan {
  readonly path: string;
  readonly sizeBytes: number;
  /** create: new sparse file; extend: grow a smaller file; none: use as is. */
  readonly action: 'create' | 'extend' | 'none';
  /** Size before `extend` (to undo it). */
  readonly fromBytes: number;
}

export function planDirectBacking(pathArg: string, sizeArg: number | undefined): BackingPlan {
  const info = inspectBacking(pathArg);
  if (sizeArg === undefined) {
    if (!info.exists) {
      throw new UcError('UC_INVALID_ARGUMENT', `--size is required to create the backing file ${info.path}`);
    }
    const sizeBytes = Math.floor(info.sizeBytes / BLOCK_BYTES) * BLOCK_BYTES;
    validateDeviceSize(sizeBytes, `backing ${info.path} size`);
    return { path: info.path, sizeBytes, action: 'none', fromBytes: info.sizeBytes };
  }
  validateDeviceSize(sizeArg);
  if (!info.exists) return { path: info.path, sizeBytes: sizeArg, action: 'create', fromBytes: 0 };
  if (info.sizeBytes >= sizeArg) {
    return { path: info.path, sizeBytes: sizeArg, action: 'none', fromBytes: info.sizeBytes };
  }
  if (info.kind === 'block-device') {
    throw new UcError(
      'UC_INVALID_ARGUMENT',
      `--size ${formatBytes(sizeArg)} is larger than the block device ${info.path} (${formatBytes(info.sizeBytes)})`,
    );
  }
  return { path: info.path, sizeBytes: sizeArg, action: 'extend', fromBytes: info.sizeBytes };
}

/** A human note about what applying the plan does, or undefined when nothing. */
export function describePlan(plan: BackingPlan): string | undefined {
  if (plan.action === 'create') {
    return `creating sparse backing file ${plan.path} (${formatBytes(plan.sizeBytes)})`;
  }
  if (plan.action === 'extend') {
    return `extending backing file ${plan.path} from ${formatBytes(plan.fromBytes)} to ${formatBytes(plan.sizeBytes)}`;
  }
  return undefined;
}

/**
 * Applies the plan; returns the function that undoes it (for a failed start).
 * A `create` plan sizes the empty file the caller's lock has just created
 * (../backing-lock.ts: created atomically, mode 0600, never an existing file).
 * Every open refuses a file that is not the locked inode `lockedAs`.
 */
export function applyDirectBacking(plan: BackingPlan, lockedAs: FileIdentity): () => void {
  if (plan.action === 'none') return () => {};
  if (plan.action === 'create') {
    // A failure leaves the empty file to the caller's undo (it created it).
    const fd = openLocked(plan.path, constants.O_RDWR | constants.O_NOFOLLOW, lockedAs);
    try {
      ftruncateSync(fd, plan.sizeBytes);
    } finally {
      closeSync(fd);
    }
    return () => unlinkIfSame(plan.path, lockedAs);
  }
  const fd = openLocked(plan.path, constants.O_RDWR, lockedAs);
  try {
    ftruncateSync(fd, plan.sizeBytes);
  } finally {
    closeSync(fd);
  }
  return () => {
    const undoFd = openLocked(plan.path, constants.O_RDWR, lockedAs);
    try {
      ftruncateSync(undoFd, plan.fromBytes);
    } finally {
      closeSync(undoFd);
    }
  };
}

/**
 * Locks the backing file for the daemon's lifetime (creating it, empty, 0600
 * and already locked, when the plan creates it) and plans again under the
 * lock, since another process may have created or changed it after the first look.
 */
export function claimDirectBacking(first: BackingPlan, sizeArg: number | undefined): { plan: BackingPlan; lock: BackingLock } {
  const lock = claimBacking(first.path, { create: first.action === 'create' });
  try {
    if (lock.created) return { plan: { ...first, action: 'create', fromBytes: 0 }, lock };
    return { plan: planDirectBacking(first.path, sizeArg), lock };
  } catch (err) {
    lock.release();
    throw err;
  }
}
