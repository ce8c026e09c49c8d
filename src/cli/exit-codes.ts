// The CLI's exit statuses, one per kind of failure a script may want to tell
// apart. docs/cli.md carries the same table for users: keep them in step.

import type { UcCode } from '../util/errors.js';
import { isNoSpaceCode, toUserError } from '../server/user-error.js';

export const EXIT_OK = 0;
/** An I/O error or any failure without a more specific status. */
export const EXIT_FAILURE = 1;
/** Bad command line: unknown flag, bad value, missing option, bad backing path. */
export const EXIT_USAGE = 2;
export const EXIT_NOT_ROOT = 3;
/** ublk_drv is not loaded, or the kernel lacks a needed feature. */
export const EXIT_KERNEL_UNSUPPORTED = 4;
export const EXIT_DEVICE_EXISTS = 5;
export const EXIT_DEVICE_NOT_FOUND = 6;
/** The backing store cannot be used: corrupt, foreign, newer format, locked. */
export const EXIT_BACKING_UNUSABLE = 7;
/** The pool is full, or the filesystem under the pool or its metadata (ENOSPC). */
export const EXIT_NO_SPACE = 8;
/** A bounded wait ran out (daemon start, device stop). */
export const EXIT_TIMEOUT = 9;
/** The metadata is older than the pool recorded (a damaged LevelDB log or table). */
export const EXIT_META_ROLLBACK = 10;

/** Partial: a code added later without a row exits by its errno (ENOSPC: 8) or 1. */
const EXIT_OF_CODE: Partial<Record<UcCode, number>> = {
  UC_INVALID_ARGUMENT: EXIT_USAGE,
  UC_NOT_ROOT: EXIT_NOT_ROOT,
  UC_KERNEL_UNSUPPORTED: EXIT_KERNEL_UNSUPPORTED,
  UC_DEVICE_EXISTS: EXIT_DEVICE_EXISTS,
  UC_DEVICE_NOT_FOUND: EXIT_DEVICE_NOT_FOUND,
  UC_POOL_CORRUPT: EXIT_BACKING_UNUSABLE,
  UC_POOL_FOREIGN: EXIT_BACKING_UNUSABLE,
  UC_POOL_VERSION: EXIT_BACKING_UNUSABLE,
  UC_POOL_TRUNCATED: EXIT_BACKING_UNUSABLE,
  UC_POOL_LOCKED: EXIT_BACKING_UNUSABLE,
  UC_META_MISMATCH: EXIT_BACKING_UNUSABLE,
  UC_META_MISSING: EXIT_BACKING_UNUSABLE,
  UC_META_CORRUPT: EXIT_BACKING_UNUSABLE,
  UC_META_ROLLBACK: EXIT_META_ROLLBACK,
  UC_PERMISSION_DENIED: EXIT_BACKING_UNUSABLE,
  UC_NO_SPACE: EXIT_NO_SPACE,
  UC_TIMEOUT: EXIT_TIMEOUT,
  UC_IO: EXIT_FAILURE,
};

/** The exit status for an error that reached the top of a command. */
export function exitCodeOf(err: unknown): number {
  const uc = toUserError(err); // a UC_IO that hides ENOSPC is a full disk: exit 8
  const status = EXIT_OF_CODE[uc.code];
  if (status !== undefined) return status;
  return isNoSpaceCode(uc.code) ? EXIT_NO_SPACE : EXIT_FAILURE;
}

/** Rows for `--help` and docs: status, meaning. */
export const EXIT_CODE_TABLE: ReadonlyArray<readonly [number, string]> = [
  [EXIT_OK, 'success'],
  [EXIT_FAILURE, 'I/O error or other failure'],
  [EXIT_USAGE, 'bad command line (unknown flag, bad size, bad backing path)'],
  [EXIT_NOT_ROOT, 'not running as root'],
  [EXIT_KERNEL_UNSUPPORTED, 'no ublk in the kernel (modprobe ublk_drv) or feature missing'],
  [EXIT_DEVICE_EXISTS, 'device id already in use'],
  [EXIT_DEVICE_NOT_FOUND, 'no ublk device with that id'],
  [EXIT_BACKING_UNUSABLE, 'backing store corrupt, foreign, newer format or locked'],
  [EXIT_NO_SPACE, 'backing store full'],
  [EXIT_TIMEOUT, 'a bounded wait ran out'],
  [EXIT_META_ROLLBACK, 'metadata older than the pool (restore it from a backup)'],
];
