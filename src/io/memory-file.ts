// Whether a file lives in memory (tmpfs). There a read or write is a copy
// that cannot block on a disk, and io_uring hands every one to a worker
// thread (tmpfs cannot do non-blocking I/O): the callers copy inline instead.
import { statfsSync, statSync } from 'node:fs';

const TMPFS_MAGIC = 0x01021994;

/**
 * True when `path` lives in memory (tmpfs). Never a block device: /dev is
 * devtmpfs, whose statfs magic is tmpfs's, but the node's I/O goes to the device.
 */
export function isMemoryFile(path: string): boolean {
  return !statSync(path).isBlockDevice() && statfsSync(path).type === TMPFS_MAGIC;
}
