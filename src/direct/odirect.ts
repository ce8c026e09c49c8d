// O_DIRECT for the native request path: page-cache copies and writeback
// threads are what the 1:1 layout should not pay for on a filesystem that
// can do direct I/O. A filesystem without it refuses the open with EINVAL
// (FMODE_CAN_ODIRECT is checked at open); the caller then keeps buffered I/O.
// The JS path keeps its own buffered descriptor: its zero-fill fallback and
// short-transfer loops use buffers and offsets O_DIRECT would refuse.

import { closeSync, constants } from 'node:fs';
import { openLocked, type FileIdentity } from '../io/file-identity.js';
import { EINVAL, errnoOf } from '../util/errno.js';

/**
 * Opens `path` read-write with O_DIRECT, or returns undefined when its
 * filesystem refuses direct I/O. Refuses a file that is not `lockedAs`.
 */
export function openDirectIo(path: string, lockedAs?: FileIdentity): number | undefined {
  try {
    return openLocked(path, constants.O_RDWR | constants.O_DIRECT, lockedAs);
  } catch (err) {
    if (errnoOf(err) === EINVAL || (err as { code?: string }).code === 'EINVAL') return undefined;
    throw err;
  }
}

export function closeFd(fd: number | undefined): void {
  if (fd !== undefined) closeSync(fd);
}
