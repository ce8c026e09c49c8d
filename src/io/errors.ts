// System-call failures of the backing file as UcError, with errno and context.
import { EACCES, EPERM, errnoOf } from '../util/errno.js';
import { UcError } from '../util/errors.js';

/** UC_IO carrying the failed call's errno; `what` names the call, path and range. */
export function ioError(what: string, err: unknown): UcError {
  if (err instanceof UcError) return err;
  return new UcError('UC_IO', `${what}: ${String(err)}`, {
    cause: err,
    errno: errnoOf(err),
  });
}

/** An open that failed: permission problems get their own code. */
export function openError(path: string, err: unknown): UcError {
  const errno = errnoOf(err);
  if (errno === EACCES || errno === EPERM) {
    return new UcError('UC_PERMISSION_DENIED', `cannot open ${path}: ${String(err)}`, { cause: err, errno: EACCES });
  }
  return ioError(`cannot open ${path}`, err);
}

/** "pread 4096 bytes at 8192 of /pool" */
export function describe(call: string, path: string, length: number, position: number): string {
  return `${call} ${length} bytes at ${position} of ${path}`;
}
