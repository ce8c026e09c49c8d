// O_DIRECT for the native request path: page-cache copies and writeback
// threads are what the 1:1 layout should not pay for on a filesystem that
// can do direct I/O. A filesystem without it refuses the open with EINVAL
// (FMODE_CAN_ODIRECT is checked at open); the caller then keeps buffered I/O.
// The JS path keeps its own buffered descriptor: its zero-fill fallback and
// short-transfer loops use buffers and offsets O_DIRECT would refuse.

import { closeSync, constants, openSync, statfsSync } from 'node:fs';

const EINVAL = 22;
const TMPFS_MAGIC = 0x01021994;

/**
 * True when `path` lives in memory (tmpfs): there the native path copies
 * reads and writes inline, since io_uring would punt each one to a worker
 * thread (tmpfs cannot do non-blocking I/O) and its direct I/O is a copy too.
 */
export function isMemoryFile(path: string): boolean {
  return statfsSync(path).type === TMPFS_MAGIC;
}

/** Opens `path` read-write with O_DIRECT, or returns undefined when its filesystem refuses direct I/O. */
export function openDirectIo(path: string): number | undefined {
  try {
    return openSync(path, constants.O_RDWR | constants.O_DIRECT);
  } catch (err) {
    if ((err as { errno?: number }).errno === -EINVAL || (err as { code?: string }).code === 'EINVAL') return undefined;
    throw err;
  }
}

export function closeFd(fd: number | undefined): void {
  if (fd !== undefined) closeSync(fd);
}
