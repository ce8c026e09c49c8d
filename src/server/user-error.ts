// Turns any error that reaches the top of a command, or ends a daemon's
// start, into a UcError, so that the CLI's exit status comes from
// src/cli/exit-codes.ts and the message is one clear line:
// a full disk is UC_NO_SPACE (exit 8) however it surfaced (an errno, a
// LevelDB status, an engine code), LevelDB's own codes get project codes,
// and an assertion, RangeError or other unexpected throw never reaches the
// user as its raw class name or code.

import { causeChain, ENOSPC, isNoSpace } from '../util/errno.js';
import { toErrno, UcError, type UcCode } from '../util/errors.js';

interface ErrorLike {
  readonly name?: unknown;
  readonly message?: unknown;
  readonly code?: unknown;
  readonly errno?: unknown;
  readonly cause?: unknown;
}

/** The error and its causes, outermost first. */
function chainOf(err: unknown): ErrorLike[] {
  return causeChain(err) as ErrorLike[];
}

function firstLine(e: ErrorLike): string {
  return String(e.message ?? e).split('\n')[0];
}

function levelError(e: ErrorLike, code: string): UcError {
  const cause = chainOf(e.cause).map(firstLine).find((m) => m.length > 0) ?? firstLine(e);
  if (code === 'LEVEL_LOCKED') {
    return new UcError('UC_POOL_LOCKED', `the metadata directory is in use by another process (${cause})`, { cause: e });
  }
  if (code === 'LEVEL_CORRUPTION') {
    return new UcError('UC_POOL_CORRUPT', `the metadata is damaged (${cause}); run 'ublk-compress check'`, { cause: e });
  }
  return new UcError('UC_IO', `metadata I/O failed: ${cause}`, { cause: e });
}

/** True for a code that itself means "no space" (UC_NO_SPACE, or any code whose errno is ENOSPC). */
export function isNoSpaceCode(code: UcCode): boolean {
  return toErrno(new UcError(code, '')) === -ENOSPC;
}

export interface UserErrorContext {
  /** The pool or backing file being opened: an unexpected throw there means inconsistent contents. */
  readonly pool?: string;
}

/**
 * The UcError to report for `err`: the same object when it already is one,
 * unless a full disk hides in it (anywhere in its causes, under any code):
 * running out of space is the root cause the user can act on.
 */
export function toUserError(err: unknown, ctx: UserErrorContext = {}): UcError {
  const noSpace = isNoSpace(err);
  if (err instanceof UcError && (!noSpace || isNoSpaceCode(err.code))) return err;
  const e = (err ?? {}) as ErrorLike;
  if (noSpace) {
    return new UcError('UC_NO_SPACE', `no space left on the device: ${firstLine(e)}`, { errno: ENOSPC, cause: err });
  }
  const code = typeof e.code === 'string' ? e.code : undefined;
  if (code?.startsWith('LEVEL_')) return levelError(e, code);
  const errno = typeof e.errno === 'number' ? Math.abs(e.errno) : undefined;
  if (code?.startsWith('E') && code !== 'ERR_ASSERTION' && !code.startsWith('ERR_') && errno !== undefined) {
    return new UcError('UC_IO', firstLine(e), { errno, cause: err }); // a failed system call: its message says what
  }
  if (ctx.pool !== undefined) {
    return new UcError(
      'UC_POOL_CORRUPT',
      `pool ${ctx.pool} or its metadata is inconsistent (${firstLine(e)}); nothing was changed; run 'ublk-compress check'`,
      { cause: err },
    );
  }
  return new UcError('UC_IO', `unexpected internal error: ${firstLine(e)} (please report it, with the log)`, { cause: err });
}
