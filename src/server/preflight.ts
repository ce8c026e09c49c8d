// Checks a serving process makes before anything is created (the parent
// `add` runs them too), so that every error a user is likely to hit is one
// clear line and leaves no device, file or log behind.

import { accessSync, constants, statSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { deviceIdInUse } from '../device/control.js';
import { DEVICE_BYTES_MIN } from '../device/params.js';
import { blockDeviceBytes } from '../util/block-device.js';
import { EACCES, EROFS } from '../util/errno.js';
import { UcError } from '../util/errors.js';
import { BLOCK_BYTES, formatBytes } from '../util/units.js';

export function requireRoot(): void {
  if (process.getuid?.() !== 0) {
    throw new UcError('UC_NOT_ROOT', 'must be run as root (ublk devices need CAP_SYS_ADMIN)');
  }
}

export function validateDeviceSize(sizeBytes: number, label = '--size'): void {
  if (sizeBytes < DEVICE_BYTES_MIN) {
    throw new UcError('UC_INVALID_ARGUMENT', `${label} ${formatBytes(sizeBytes)} is below the minimum of 1 MiB`);
  }
  if (sizeBytes % BLOCK_BYTES !== 0) {
    throw new UcError('UC_INVALID_ARGUMENT', `${label} ${sizeBytes} bytes is not a multiple of 4 KiB`);
  }
}

export function requireFreeDeviceId(devId: number): void {
  if (deviceIdInUse(devId)) {
    throw new UcError('UC_DEVICE_EXISTS', `ublk device ${devId} already exists (see 'ublk-compress list')`);
  }
}

export type BackingKind = 'file' | 'block-device';

export interface BackingInfo {
  /** Absolute path. */
  readonly path: string;
  readonly exists: boolean;
  readonly kind: BackingKind;
  /** Current size (0 when missing). */
  readonly sizeBytes: number;
}

function errnoCode(err: unknown): string | undefined {
  return (err as NodeJS.ErrnoException)?.code;
}

function accessError(path: string, err: unknown, what: string): UcError {
  const code = errnoCode(err);
  if (code === 'EROFS') {
    return new UcError('UC_IO', `${what} ${path} is on a read-only filesystem`, { errno: EROFS, cause: err });
  }
  if (code === 'EACCES' || code === 'EPERM') {
    return new UcError('UC_IO', `${what} ${path} is not writable`, { errno: EACCES, cause: err });
  }
  return new UcError('UC_IO', `${what} ${path}: ${(err as Error).message}`, { cause: err });
}

/**
 * Inspects the backing path without changing anything: it must be a regular
 * file or block device on a writable filesystem, or a missing file whose
 * directory exists and is writable.
 */
export function inspectBacking(pathArg: string): BackingInfo {
  const path = resolve(pathArg);
  let st;
  try {
    st = statSync(path);
  } catch (err) {
    if (errnoCode(err) !== 'ENOENT') throw accessError(path, err, 'backing path');
    const dir = dirname(path);
    let dirSt;
    try {
      dirSt = statSync(dir);
    } catch {
      throw new UcError('UC_INVALID_ARGUMENT', `directory ${dir} of the backing file does not exist`);
    }
    if (!dirSt.isDirectory()) throw new UcError('UC_INVALID_ARGUMENT', `${dir} is not a directory`);
    try {
      accessSync(dir, constants.W_OK);
    } catch (e) {
      throw accessError(dir, e, 'backing file directory');
    }
    return { path, exists: false, kind: 'file', sizeBytes: 0 };
  }
  if (st.isDirectory()) {
    throw new UcError('UC_INVALID_ARGUMENT', `backing path ${path} is a directory; give a file or block device`);
  }
  if (!st.isFile() && !st.isBlockDevice()) {
    throw new UcError('UC_INVALID_ARGUMENT', `backing path ${path} is neither a regular file nor a block device`);
  }
  try {
    accessSync(path, constants.R_OK | constants.W_OK);
  } catch (err) {
    throw accessError(path, err, 'backing file');
  }
  if (st.isBlockDevice()) {
    return { path, exists: true, kind: 'block-device', sizeBytes: blockDeviceBytes(st.rdev) };
  }
  return { path, exists: true, kind: 'file', sizeBytes: st.size };
}

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
