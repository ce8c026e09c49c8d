// The file a descriptor reaches, as (st_dev, st_ino). The serving process
// locks its backing by path and then opens the path again (for the ring, for
// O_DIRECT, to size it); a rename or symlink swap in between would make it
// serve a file it has not locked. Every such open checks the identity of
// what it opened against the lock's.

import { closeSync, fstatSync, lstatSync, openSync, unlinkSync } from 'node:fs';
import { UcError } from '../util/errors.js';

export interface FileIdentity {
  readonly dev: number;
  readonly ino: number;
}

/**
 * Throws UC_POOL_LOCKED unless `fd` is the file `expected` names (nothing to
 * check when `expected` is undefined). The caller closes `fd` on a throw.
 */
export function requireIdentity(fd: number, path: string, expected: FileIdentity | undefined): void {
  if (expected === undefined) return;
  const st = fstatSync(fd);
  if (st.dev === expected.dev && st.ino === expected.ino) return;
  throw new UcError(
    'UC_POOL_LOCKED',
    `${path} was replaced after it was locked (locked inode ${expected.dev}:${expected.ino}, ` +
      `opened ${st.dev}:${st.ino}); it is not served`,
  );
}

/** openSync(path, flags), refusing (and closing) a file that is not `lockedAs`. */
export function openLocked(path: string, flags: number, lockedAs: FileIdentity | undefined): number {
  const fd = openSync(path, flags);
  try {
    requireIdentity(fd, path, lockedAs);
  } catch (err) {
    closeSync(fd);
    throw err;
  }
  return fd;
}

/**
 * Unlinks `path` only while it still names `created` (a file this process
 * made): never a file someone put there since. A missing path is no error.
 */
export function unlinkIfSame(path: string, created: FileIdentity): void {
  let st;
  try {
    st = lstatSync(path);
  } catch {
    return; // already gone
  }
  if (st.dev === created.dev && st.ino === created.ino) unlinkSync(path);
}
