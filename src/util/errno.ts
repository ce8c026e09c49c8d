// Errno numbers by name, from the running platform's table (os.constants.errno),
// so no module writes an errno as a literal. The kernel takes them negated in a
// ublk commit; system-call errors from the addon and node:fs carry them positive
// (node:fs also negates them in `errno`), which `errnoOf` folds to positive.
import { constants } from 'node:os';

const table = constants.errno;

export const EPERM = table.EPERM;
export const ENOENT = table.ENOENT;
export const EIO = table.EIO;
export const ENXIO = table.ENXIO;
export const EBADF = table.EBADF;
export const EAGAIN = table.EAGAIN;
export const ENOMEM = table.ENOMEM;
export const EACCES = table.EACCES;
export const EBUSY = table.EBUSY;
export const EEXIST = table.EEXIST;
export const ENODEV = table.ENODEV;
export const ENOTDIR = table.ENOTDIR;
export const EISDIR = table.EISDIR;
export const EINVAL = table.EINVAL;
export const EFBIG = table.EFBIG;
export const ENOSPC = table.ENOSPC;
export const EROFS = table.EROFS;
export const ENOTTY = table.ENOTTY;
export const ENOSYS = table.ENOSYS;
export const ELOOP = table.ELOOP;
export const EOPNOTSUPP = table.EOPNOTSUPP;
export const ETIMEDOUT = table.ETIMEDOUT;
export const ECANCELED = table.ECANCELED;
export const EWOULDBLOCK = table.EWOULDBLOCK;

/** The positive errno carried by an error from node:fs, the addon or a UcError; undefined if none. */
export function errnoOf(err: unknown): number | undefined {
  const e = err as { errno?: unknown } | null | undefined;
  if (typeof e?.errno !== 'number' || e.errno === 0) return undefined;
  return Math.abs(e.errno);
}

/** Causes followed under wrappers (UcError, LevelDB): bounded, since causes can form a cycle. */
const CAUSE_DEPTH_MAX = 8;

/** `err` and the errors it wraps (`cause`), outermost first. */
export function causeChain(err: unknown): object[] {
  const out: object[] = [];
  let e: unknown = err;
  for (let depth = 0; depth < CAUSE_DEPTH_MAX && e !== null && typeof e === 'object'; depth += 1) {
    out.push(e);
    e = (e as { cause?: unknown }).cause;
  }
  return out;
}

/**
 * True when `err` or anything it wraps says the filesystem is full: errno
 * ENOSPC (either sign), code ENOSPC or UC_NO_SPACE, or the text LevelDB's
 * status carries ("No space left on device", no errno of its own).
 */
export function isNoSpace(err: unknown): boolean {
  return causeChain(err).some((e) => {
    const x = e as { code?: unknown; errno?: unknown; message?: unknown };
    if (x.code === 'ENOSPC' || x.code === 'UC_NO_SPACE') return true;
    if (typeof x.errno === 'number' && Math.abs(x.errno) === ENOSPC) return true;
    return typeof x.message === 'string' && /No space left on device|\bENOSPC\b/i.test(x.message);
  });
}
