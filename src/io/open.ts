// Opening a backing file or block device: one descriptor (O_CLOEXEC from
// libuv), its kind and size, then the ring implementation (on the caller's
// ring, or a small private one) or, on request, the node:fs one.

import fs from 'node:fs';
import { blockDeviceBytes, IoRing } from '../native/index.js';
import { ENOSYS, EPERM, errnoOf } from '../util/errno.js';
import type { BackingFile } from './backing-file.js';
import { ioError, openError } from './errors.js';
import type { OpenedFd } from './file-base.js';
import { openLocked, type FileIdentity } from './file-identity.js';
import { NodeFile } from './node-file.js';
import { RingFile } from './ring-file.js';

/** A private ring serves one file: its reads, writes and syncs. */
const PRIVATE_RING_ENTRIES = 64;

export interface OpenBackingOptions {
  /** Create a missing file and grow it (sparse) to `sizeBytes` if smaller. */
  create?: boolean;
  sizeBytes?: number;
  readOnly?: boolean;
  /** Ring to run on (stays the caller's); default: a private ring closed with the file. */
  ring?: IoRing;
  /** 'node': node:fs instead of io_uring (tests, comparisons). */
  transport?: 'ring' | 'node';
  /** The inode the caller locked: refuse (UC_POOL_LOCKED) when `path` now names another file. */
  lockedAs?: FileIdentity;
}

/** Opens `path`; I/O goes through io_uring unless `transport: 'node'`. */
export async function openBackingFile(path: string, options: OpenBackingOptions = {}): Promise<BackingFile> {
  const opened = openFd(path, options);
  try {
    if (options.transport === 'node') return new NodeFile(opened);
    if (options.ring !== undefined) return new RingFile(options.ring, opened, false);
    const ring = privateRing();
    return ring === undefined ? new NodeFile(opened) : new RingFile(ring, opened, true);
  } catch (err) {
    fs.closeSync(opened.fd);
    throw err;
  }
}

/** A function that opens backing files on `ring` (what a daemon hands the engine). */
export type BackingOpener = (path: string, options?: Omit<OpenBackingOptions, 'ring' | 'transport'>) => Promise<BackingFile>;

export function backingOpener(ring: IoRing): BackingOpener {
  return (path, options = {}) => openBackingFile(path, { ...options, ring });
}

/** `open`, refusing any file but the locked inode `lock` (the daemon's pool). */
export function lockedOpener(open: BackingOpener, lock: FileIdentity): BackingOpener {
  return (path, options = {}) => open(path, { ...options, lockedAs: lock });
}

/** A ring for one file; undefined where the kernel refuses io_uring (then node:fs serves). */
function privateRing(): IoRing | undefined {
  try {
    return new IoRing({ entries: PRIVATE_RING_ENTRIES });
  } catch (err) {
    const errno = errnoOf(err);
    if (errno === ENOSYS || errno === EPERM) return undefined; // io_uring disabled (kernel.io_uring_disabled)
    throw ioError('cannot create an io_uring', err);
  }
}

function openFd(path: string, options: OpenBackingOptions): OpenedFd {
  const { O_RDONLY, O_RDWR, O_CREAT } = fs.constants;
  const flags = options.readOnly ? O_RDONLY : O_RDWR | (options.create ? O_CREAT : 0);
  let fd: number;
  try {
    fd = openLocked(path, flags, options.lockedAs);
  } catch (err) {
    throw openError(path, err);
  }
  try {
    const st = fs.fstatSync(fd);
    const isBlockDevice = st.isBlockDevice();
    let sizeBytes = isBlockDevice ? blockDeviceBytes(fd) : st.size;
    if (options.create && !isBlockDevice && options.sizeBytes !== undefined && sizeBytes < options.sizeBytes) {
      fs.ftruncateSync(fd, options.sizeBytes);
      sizeBytes = options.sizeBytes;
    }
    return { fd, path, isBlockDevice, sizeBytes };
  } catch (err) {
    fs.closeSync(fd);
    throw ioError(`cannot open ${path}`, err);
  }
}
