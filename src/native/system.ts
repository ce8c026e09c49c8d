// FIEMAP, block device ioctls, prctl(PR_SET_IO_FLUSHER) and the compiled ABI description.

import assert from 'node:assert';
import type { FiemapExtent, UblkAbi } from './abi.js';
import { native } from './addon.js';

// ---------------------------------------------------------------- misc

/** FS_IOC_FIEMAP of an open file: every extent, in logical order. */
export function fiemap(fd: number, options: { sync?: boolean } = {}): FiemapExtent[] {
  const flat = native().fiemap(fd, options.sync ?? false);
  assert(flat.length % 4 === 0);
  const out: FiemapExtent[] = [];
  for (let i = 0; i < flat.length; i += 4) {
    out.push({ logicalBytes: flat[i], physicalBytes: flat[i + 1], lengthBytes: flat[i + 2], flags: flat[i + 3] });
  }
  return out;
}

/** ioctl BLKDISCARD (synchronous): the range of an open block device is discarded. */
export function blkDiscard(fd: number, offsetBytes: number, lengthBytes: number): void {
  native().blkDiscard(fd, offsetBytes, lengthBytes);
}

/** ioctl BLKGETSIZE64: the size of an open block device in bytes. */
export function blockDeviceBytes(fd: number): number {
  return native().blockDeviceBytes(fd);
}

/** prctl(PR_SET_IO_FLUSHER, 1): reclaim never waits on writeback to our own device. */
export function setIoFlusher(): void {
  native().setIoFlusher();
}

/** Struct layouts and opcodes compiled into the addon (for tests and diagnostics). */
export function ublkAbi(): UblkAbi {
  return native().abi();
}

