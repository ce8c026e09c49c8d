// Whole-file locks (native/file-lock.cc): a non-blocking flock(2) on the
// inode, held until release() or until the process dies. A block device can
// in addition be claimed O_EXCL, which the kernel enforces across every node
// that names the device and against mounts.

import { native, type NativeFileLockHandle } from './addon.js';

export interface LockFileOptions {
  /** LOCK_EX (default) or LOCK_SH. */
  readonly exclusive?: boolean;
  /** Create a new file (O_CREAT|O_EXCL|O_NOFOLLOW); EEXIST when the path exists. */
  readonly create?: boolean;
  /** Mode of a created file (default 0600). */
  readonly mode?: number;
  /** For a block device: also open it O_EXCL (EBUSY when claimed or mounted). */
  readonly claimDevice?: boolean;
}

/** The held lock: st_dev/st_ino of what was locked (st_rdev for a block device);
 * release() drops it (closes its descriptor) and is idempotent. */
export type FileLock = NativeFileLockHandle;

/** Locks `path`; throws an Error with errno/code (EWOULDBLOCK: held by another). */
export function lockFile(path: string, options: LockFileOptions = {}): FileLock {
  return new (native().FileLock)(path, {
    exclusive: options.exclusive ?? true,
    create: options.create ?? false,
    mode: options.mode ?? 0o600,
    claimDevice: options.claimDevice ?? false,
  });
}
