// How a failed group commit is classified. A full filesystem (the pool's or the
// metadata's) stalls the engine: writes get UC_NO_SPACE (ENOSPC) until a retried
// commit goes through, reads keep being served from RAM and the store. Other
// write failures stall it the same way with UC_IO. A failed fdatasync is final:
// the kernel may have dropped the unsynced pages, so a later commit could point
// at bytes that were never stored (rule 2); the engine then refuses commits.
import { UcError } from '../util/errors.js';

const ENOSPC = 28;
/** Causes followed when looking for the errno under wrappers (UcError, LevelDB). */
const CAUSE_DEPTH_MAX = 6;

/** Where a commit failed. */
export type CommitStage = 'pool-write' | 'pool-sync' | 'meta-write' | 'meta-reopen';

/** True when err, or an error it wraps, says the filesystem is full. */
export function isNoSpace(err: unknown): boolean {
  let e: unknown = err;
  for (let depth = 0; depth < CAUSE_DEPTH_MAX && e !== undefined && e !== null; depth++) {
    const x = e as { code?: unknown; errno?: unknown; message?: unknown; cause?: unknown };
    if (x.code === 'ENOSPC' || x.code === 'UC_NO_SPACE') return true;
    if (typeof x.errno === 'number' && Math.abs(x.errno) === ENOSPC) return true;
    if (typeof x.message === 'string' && /No space left on device|ENOSPC/.test(x.message)) return true;
    e = x.cause;
  }
  return false;
}

/** The error writes see after a commit failed at `stage`. */
export function stallError(stage: CommitStage, err: unknown): UcError {
  const what = stage.startsWith('pool') ? "the pool's filesystem" : "the metadata's filesystem";
  const detail = err instanceof Error ? err.message : String(err);
  if (isNoSpace(err)) {
    return new UcError('UC_NO_SPACE', `${what} is full (${detail}); writes resume once space is freed`, { cause: err });
  }
  return new UcError('UC_IO', `a group commit failed writing to ${what}: ${detail}`, { cause: err });
}

/** Tags an error with the stage it came from, for the commit's failure handler. */
export class StageError extends Error {
  constructor(
    readonly stage: CommitStage,
    readonly original: unknown,
  ) {
    super(`${stage}: ${original instanceof Error ? original.message : String(original)}`, { cause: original });
  }
}

/** Runs fn and tags any failure with `stage`. */
export async function staged<T>(stage: CommitStage, fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (err) {
    throw new StageError(stage, err);
  }
}
