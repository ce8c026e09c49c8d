// How a failed group commit is classified. A full filesystem (the pool's or the
// metadata's) stalls the engine: writes get UC_NO_SPACE (ENOSPC) until a retried
// commit goes through, reads keep being served from RAM and the store. Other
// write failures stall it the same way with UC_IO. A failed fdatasync is final:
// the kernel may have dropped the unsynced pages, so a later commit could point
// at bytes that were never stored (rule 2); the engine then refuses commits.
import { isNoSpace } from '../util/errno.js';
import { UcError } from '../util/errors.js';

/** Where a commit failed. */
export type CommitStage = 'pool-write' | 'pool-sync' | 'meta-write' | 'meta-reopen';

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

/**
 * The engine's commit health: stalled (commits fail; a retry is allowed every
 * retryMs) or broken (an fdatasync failed; no commit may follow). Changed only
 * by the commit, which runs under the engine mutex.
 */
export class CommitHealth {
  /** Set while commits fail: mutations get this error until a retry commits. */
  stalled: UcError | undefined;
  /** Set after a failed fdatasync: final until restart. */
  broken: UcError | undefined;
  private retryAtMs = 0;

  constructor(
    private readonly retryMs: number,
    private readonly onNoSpace: (message: string) => void,
  ) {}

  /** Throws the stall error while stalled and no retry is due (unless forced). */
  checkRetry(force: boolean): void {
    if (this.stalled !== undefined && !force && Date.now() < this.retryAtMs) throw this.stalled;
  }

  /** Records a failed commit; returns the error mutations get from now on. */
  fail(stage: CommitStage, err: unknown): UcError {
    if (this.broken !== undefined && err === this.broken) return this.broken;
    const e = stallError(stage, err);
    if (stage === 'pool-sync') {
      this.broken = new UcError('UC_IO', `fdatasync of the pool failed; restart to recover: ${e.message}`, { cause: err });
      this.stalled = this.broken;
      return this.broken;
    }
    if (isNoSpace(err) && this.stalled?.code !== 'UC_NO_SPACE') this.onNoSpace(e.message);
    this.stalled = e;
    this.retryAtMs = Date.now() + this.retryMs;
    return e;
  }

  /** A commit went through; returns true when it ended a lack-of-space stall. */
  succeeded(): boolean {
    if (this.stalled === undefined) return false;
    const wasNoSpace = this.stalled.code === 'UC_NO_SPACE';
    this.stalled = undefined;
    return wasNoSpace;
  }
}
