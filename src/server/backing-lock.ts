// One daemon per pool: the serving process holds an exclusive flock on the
// pool or backing file itself (a block device is also claimed O_EXCL) from
// before it creates or changes anything until it exits. Every alias of the
// file (symlink, hard link, bind mount, copied metadata directory) meets the
// same lock, so "already served" never depends on how a path is spelled.
//
// A new file is created under a temporary name, locked, and only then linked
// into place (link(2) never replaces an existing file): a racing `add` sees
// either no file or a locked one, never an unlocked new pool.

import { linkSync, readFileSync, statSync, unlinkSync, type Stats } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { basename, dirname, join } from 'node:path';
import { lockFile, type FileLock } from '../native/index.js';
import { ENOENT } from '../util/errno.js';
import { UcError } from '../util/errors.js';
import { listRunRecords, processAlive } from './run-file.js';

/** How often a claim retries when the path changes under it (created, replaced). */
const CLAIM_ATTEMPTS_MAX = 5;

export interface BackingLock {
  readonly path: string;
  /** True when this process created the (empty) file: only then may it remove it. */
  readonly created: boolean;
  readonly dev: number;
  readonly ino: number;
  release(): void;
}

function errnoCode(err: unknown): string | undefined {
  return (err as NodeJS.ErrnoException)?.code;
}

function sameFile(st: Stats, target: { dev: number; ino: number }): boolean {
  return st.dev === target.dev && st.ino === target.ino;
}

/** The pid holding a flock on (dev, ino) according to /proc/locks, if any. */
function flockHolderPid(st: Stats): number | undefined {
  let text: string;
  try {
    text = readFileSync('/proc/locks', 'utf8');
  } catch {
    return undefined;
  }
  // glibc's dev_t split; /proc/locks prints the kernel's major:minor in hex.
  const major = Number((BigInt(st.dev) >> 8n) & 0xfffn) | Number((BigInt(st.dev) >> 32n) & ~0xfffn);
  const minor = Number(BigInt(st.dev) & 0xffn) | Number((BigInt(st.dev) >> 12n) & ~0xffn);
  const want = `${major.toString(16).padStart(2, '0')}:${minor.toString(16).padStart(2, '0')}:${st.ino}`;
  for (const line of text.split('\n')) {
    const f = line.trim().split(/\s+/);
    // "1: FLOCK  ADVISORY  WRITE 1234 08:01:5678 0 EOF" (a "->" marks a waiter)
    if (f[1] !== 'FLOCK' || f[5] !== want) continue;
    const pid = Number(f[4]);
    if (Number.isSafeInteger(pid) && pid > 0 && pid !== process.pid) return pid;
  }
  return undefined;
}

/**
 * Who holds `path`, as the end of a sentence: "is already served by
 * /dev/ublkbN (daemon pid P, ...)" from a run record naming the same file,
 * else "is in use by pid P" from /proc/locks.
 */
export function describeHolder(path: string): string {
  let st: Stats;
  try {
    st = statSync(path);
  } catch {
    return 'is in use by another process';
  }
  for (const r of listRunRecords()) {
    if (r.pid === process.pid || !processAlive(r.pid)) continue;
    try {
      const other = statSync(r.backing);
      const same = st.isBlockDevice() ? other.isBlockDevice() && other.rdev === st.rdev : sameFile(other, st);
      if (same) return `is already served by /dev/ublkb${r.devId} (daemon pid ${r.pid}, backing ${r.backing})`;
    } catch {
      // a record whose backing path is gone names nothing
    }
  }
  const pid = flockHolderPid(st);
  return pid === undefined ? 'is in use by another process' : `is in use by pid ${pid}`;
}

/** A block device's O_EXCL claim failed: a daemon of ours if a run record says so, else a mount or another claimant. */
function busyDeviceHolder(path: string): string {
  const holder = describeHolder(path);
  return holder.startsWith('is already served by') ? holder : 'is in use by a mount or another exclusive user of the device';
}

function lockedError(path: string, err: unknown): UcError {
  const code = errnoCode(err);
  const holder = code === 'EBUSY' ? busyDeviceHolder(path) : describeHolder(path);
  return new UcError('UC_POOL_LOCKED', `${path} ${holder}; nothing was changed`, {
    errno: (err as { errno?: number }).errno,
    cause: err,
  });
}

function isBusy(err: unknown): boolean {
  const code = errnoCode(err);
  return code === 'EWOULDBLOCK' || code === 'EAGAIN' || code === 'EBUSY';
}

function ioError(what: string, err: unknown): UcError {
  return new UcError('UC_IO', `${what}: ${(err as Error).message}`, { errno: (err as { errno?: number }).errno, cause: err });
}

function asBackingLock(path: string, lock: FileLock, created: boolean): BackingLock {
  return { path, created, dev: lock.dev, ino: lock.ino, release: () => lock.release() };
}

/** Creates `path` (mode 0600) already locked, or returns undefined when something exists there. */
function createLocked(path: string, mode: number): BackingLock | undefined {
  const tmp = join(dirname(path), `.${basename(path)}.${process.pid}.${randomBytes(4).toString('hex')}.new`);
  let lock: FileLock;
  try {
    lock = lockFile(tmp, { create: true, mode });
  } catch (err) {
    throw ioError(`cannot create ${path}`, err);
  }
  try {
    linkSync(tmp, path);
  } catch (err) {
    lock.release();
    unlinkSync(tmp);
    if (errnoCode(err) === 'EEXIST') return undefined;
    throw ioError(`cannot create ${path}`, err);
  }
  unlinkSync(tmp);
  return asBackingLock(path, lock, true);
}

/** Locks the existing `path`; undefined when it vanished or was replaced while locking. */
function lockExisting(path: string, shared: boolean): BackingLock | undefined {
  let lock: FileLock;
  try {
    lock = lockFile(path, { exclusive: !shared, claimDevice: !shared });
  } catch (err) {
    if (errnoCode(err) === 'ENOENT') return undefined;
    if (isBusy(err)) throw lockedError(path, err);
    throw ioError(`cannot lock ${path}`, err);
  }
  let st: Stats | undefined;
  try {
    st = statSync(path);
  } catch {
    st = undefined;
  }
  if (!st || !sameFile(st, lock)) {
    lock.release(); // unlinked or replaced between open and flock: the lock names nothing
    return undefined;
  }
  return asBackingLock(path, lock, false);
}

export interface ClaimOptions {
  /** Create the file (empty, mode 0600) when it is missing. */
  readonly create?: boolean;
  /** A shared lock (check): excludes daemons, not other readers. */
  readonly shared?: boolean;
}

/**
 * Takes the lock on `path` for this process's lifetime (until release()).
 * Refuses with UC_POOL_LOCKED, naming the holder, when another process holds it.
 */
export function claimBacking(path: string, options: ClaimOptions = {}): BackingLock {
  for (let attempt = 0; attempt < CLAIM_ATTEMPTS_MAX; attempt += 1) {
    const claimed = lockExisting(path, options.shared ?? false);
    if (claimed) return claimed;
    if (!options.create) {
      throw new UcError('UC_INVALID_ARGUMENT', `${path} does not exist`, { errno: ENOENT });
    }
    const made = createLocked(path, 0o600);
    if (made) return made;
  }
  throw new UcError('UC_IO', `${path} kept changing while it was being locked (is a dangling symlink in the way?)`);
}

/** Preflight: refuses when `path` is held by another process; takes and drops the lock. */
export function probeBacking(path: string): void {
  try {
    statSync(path);
  } catch {
    return; // nothing there yet: the serving process creates it locked
  }
  claimBacking(path).release();
}

/**
 * Runs `fn` holding a shared lock on `path` (offline tools such as check): a
 * serving daemon makes it refuse with UC_POOL_LOCKED, and no daemon can start
 * on the pool while `fn` runs. `exclusive` (check --repair, which writes):
 * another reader is refused too. A missing path is left for `fn` to report;
 * `fn` gets the lock (undefined then) to open only the locked inode.
 */
export async function withSharedLock<T>(
  path: string, fn: (lock: BackingLock | undefined) => Promise<T>, options: { exclusive?: boolean } = {},
): Promise<T> {
  let lock: BackingLock;
  try {
    lock = claimBacking(path, { shared: !(options.exclusive ?? false) });
  } catch (err) {
    if (err instanceof UcError && err.errno === ENOENT) return fn(undefined);
    throw err;
  }
  try {
    return await fn(lock);
  } finally {
    lock.release();
  }
}
