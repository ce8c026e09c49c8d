// `add --preallocate` for the 1:1 layout: writes zeros over the backing
// file's holes and unwritten extents (both read as zeros, so the content is
// unchanged) so that FIEMAP maps the whole file as written data and every
// request can take the direct-mapped path. Shared and other extents are
// left alone: they hold data.

import { closeSync, constants, fdatasyncSync, fstatSync, writeSync } from 'node:fs';
import { openLocked, type FileIdentity } from '../io/file-identity.js';
import { FIEMAP_EXTENT, fiemap, type FiemapExtent } from '../native/index.js';

const CHUNK_BYTES = 1024 * 1024;

export interface ZeroRange {
  readonly offsetBytes: number;
  readonly lengthBytes: number;
}

/** The ranges of [0, sizeBytes) that read as zeros without being written data: holes and unwritten extents. */
export function unwrittenRanges(extents: readonly FiemapExtent[], sizeBytes: number): ZeroRange[] {
  const out: ZeroRange[] = [];
  const add = (from: number, to: number): void => {
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
 * Fills the holes and unwritten extents of `path` below `sizeBytes` with
 * written zeros. -> bytes written (0 for a block device: it has no holes).
 * Refuses a file that is not `lockedAs`.
 */
export function preallocate(path: string, sizeBytes: number, lockedAs?: FileIdentity): number {
  const fd = openLocked(path, constants.O_RDWR, lockedAs);
  try {
    if (!fstatSync(fd).isFile()) return 0;
    const ranges = unwrittenRanges(fiemap(fd, { sync: true }), sizeBytes);
    const zeros = Buffer.alloc(CHUNK_BYTES);
    let written = 0;
    for (const r of ranges) {
      for (let off = r.offsetBytes; off < r.offsetBytes + r.lengthBytes; ) {
        const n = writeSync(fd, zeros, 0, Math.min(CHUNK_BYTES, r.offsetBytes + r.lengthBytes - off), off);
        off += n;
        written += n;
      }
    }
    fdatasyncSync(fd);
    return written;
  } finally {
    closeSync(fd);
  }
}
