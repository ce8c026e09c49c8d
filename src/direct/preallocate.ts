// `add --preallocate` for the 1:1 layout: writes zeros over the backing
// file's holes and unwritten extents (both read as zeros, so the content is
// unchanged) so that FIEMAP maps the whole file as written data and every
// request can take the direct-mapped path. Shared and other extents are
// left alone: they hold data. An online grow fills only the range it adds
// (no request can reach it yet), never a hole the device may be writing.

import { closeSync, constants, fdatasync, fstatSync, write as writeCb } from 'node:fs';
import { promisify } from 'node:util';
import { openLocked, type FileIdentity } from '../io/file-identity.js';
import { FIEMAP_EXTENT, fiemap, type FiemapExtent } from '../native/index.js';

const CHUNK_BYTES = 1024 * 1024;
const write = promisify(writeCb);
const datasync = promisify(fdatasync);

export interface ZeroRange {
  readonly offsetBytes: number;
  readonly lengthBytes: number;
}

/** The ranges of [fromBytes, sizeBytes) that read as zeros without being written data: holes and unwritten extents. */
export function unwrittenRanges(extents: readonly FiemapExtent[], sizeBytes: number, fromBytes = 0): ZeroRange[] {
  const out: ZeroRange[] = [];
  const add = (start: number, to: number): void => {
    const from = Math.max(start, fromBytes);
    const end = Math.min(to, sizeBytes);
    if (end <= from) return;
    const last = out[out.length - 1];
    if (last !== undefined && last.offsetBytes + last.lengthBytes === from) {
      out[out.length - 1] = { offsetBytes: last.offsetBytes, lengthBytes: end - last.offsetBytes };
    } else {
      out.push({ offsetBytes: from, lengthBytes: end - from });
    }
  };
  let pos = 0;
  for (const e of extents) {
    if (e.logicalBytes >= sizeBytes) break;
    add(pos, e.logicalBytes); // a hole before this extent
    if ((e.flags & FIEMAP_EXTENT.UNWRITTEN) !== 0) add(e.logicalBytes, e.logicalBytes + e.lengthBytes);
    pos = Math.max(pos, e.logicalBytes + e.lengthBytes);
  }
  add(pos, sizeBytes);
  return out;
}

/**
 * Fills the holes and unwritten extents of the regular file `fd` in
 * [fromBytes, toBytes) with written zeros, durably. -> bytes written.
 */
export async function zeroFillUnwritten(fd: number, fromBytes: number, toBytes: number): Promise<number> {
  const ranges = unwrittenRanges(fiemap(fd, { sync: true }), toBytes, fromBytes);
  const zeros = Buffer.alloc(CHUNK_BYTES);
  let written = 0;
  for (const r of ranges) {
    for (let off = r.offsetBytes; off < r.offsetBytes + r.lengthBytes; ) {
      const length = Math.min(CHUNK_BYTES, r.offsetBytes + r.lengthBytes - off);
      const { bytesWritten } = await write(fd, zeros, 0, length, off);
      off += bytesWritten;
      written += bytesWritten;
    }
  }
  await datasync(fd);
  return written;
}

/**
 * Fills the holes and unwritten extents of `path` below `sizeBytes` with
 * written zeros. -> bytes written (0 for a block device: it has no holes).
 * Refuses a file that is not `lockedAs`.
 */
export async function preallocate(path: string, sizeBytes: number, lockedAs?: FileIdentity): Promise<number> {
  const fd = openLocked(path, constants.O_RDWR, lockedAs);
  try {
    return fstatSync(fd).isFile() ? await zeroFillUnwritten(fd, 0, sizeBytes) : 0;
  } finally {
    closeSync(fd);
  }
}
