// One error class for the whole project (abstract-level style): a stable
// uppercase `code`, a human message, an optional `cause`, and the errno that a
// ublk commit carries when the error reaches the device.
import { EACCES, EBUSY, EEXIST, EINVAL, EIO, ENODEV, ENOENT, ENOSPC, EOPNOTSUPP, EPERM, ETIMEDOUT } from './errno.js';

export type UcCode =
  | 'UC_INVALID_ARGUMENT' // bad CLI input or API misuse reported to a user
  | 'UC_POOL_CORRUPT' // checksums or structure do not match
  | 'UC_POOL_FOREIGN' // not an ublk-compress pool
  | 'UC_POOL_VERSION' // a newer on-disk format than this build reads
  | 'UC_POOL_TRUNCATED' // the backing store is shorter than its superblock says
  | 'UC_POOL_LOCKED' // another process holds the pool or its metadata
  | 'UC_META_MISMATCH' // metadata belonging to another pool
  | 'UC_META_MISSING' // no metadata directory, or one that is not a LevelDB database
  | 'UC_META_CORRUPT' // LevelDB reports corruption, or a record is out of range
  | 'UC_META_ROLLBACK' // metadata older than the last commit the pool recorded as durable
  | 'UC_PERMISSION_DENIED' // the pool or its metadata cannot be opened (EACCES/EPERM)
  | 'UC_NO_SPACE' // the pool is full
  | 'UC_IO' // an I/O system call failed
  | 'UC_KERNEL_UNSUPPORTED' // no ublk_drv, or a needed feature is absent
  | 'UC_NOT_ROOT' // the operation needs CAP_SYS_ADMIN
  | 'UC_DEVICE_EXISTS' // a ublk device id is already taken
  | 'UC_DEVICE_NOT_FOUND' // no ublk device with that id
  | 'UC_TIMEOUT'; // a bounded wait ran out

const ERRNO_OF_CODE: Record<UcCode, number> = {
  UC_INVALID_ARGUMENT: EINVAL,
  UC_POOL_CORRUPT: EIO,
  UC_POOL_FOREIGN: EIO,
  UC_POOL_VERSION: EOPNOTSUPP,
  UC_POOL_TRUNCATED: EIO,
  UC_POOL_LOCKED: EBUSY,
  UC_META_MISMATCH: EIO,
  UC_META_MISSING: ENOENT,
  UC_META_CORRUPT: EIO, // a read the damage reaches fails like a bad sector
  UC_META_ROLLBACK: EIO,
  UC_PERMISSION_DENIED: EACCES,
  UC_NO_SPACE: ENOSPC,
  UC_IO: EIO,
  UC_KERNEL_UNSUPPORTED: EOPNOTSUPP,
  UC_NOT_ROOT: EPERM,
  UC_DEVICE_EXISTS: EEXIST,
  UC_DEVICE_NOT_FOUND: ENODEV,
  UC_TIMEOUT: ETIMEDOUT,
};

export class UcError extends Error {
  readonly code: UcCode;
  /** Positive errno from a failed system call, when there was one. */
  readonly errno: number | undefined;

  constructor(code: UcCode, message: string, options?: { cause?: unknown; errno?: number }) {
    super(message, options);
    this.name = 'UcError';
    this.code = code;
    this.errno = options?.errno;
  }
}

/** Negative errno to commit to the kernel for any error: the one place this mapping lives. */
export function toErrno(err: unknown): number {
  if (err instanceof UcError) return -(err.errno ?? ERRNO_OF_CODE[err.code]);
  const e = err as { errno?: unknown };
  if (typeof e?.errno === 'number' && e.errno > 0) return -e.errno;
  return -EIO; // an unknown failure must never read as success
}
