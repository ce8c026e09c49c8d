// `check`'s exit statuses, in the manner of fsck(8): a script must tell "the
// pool has problems" from "the pool could not be checked at all" (in use,
// missing, foreign, newer format, unreadable). docs/check.md documents them.

import type { UcCode } from '../util/errors.js';
import { toUserError } from '../server/user-error.js';
import { EXIT_OK, EXIT_USAGE } from './exit-codes.js';

export const CHECK_CLEAN = EXIT_OK;
/** The audit found problems (or the pool's contents are too damaged to read). */
export const CHECK_PROBLEMS = 4;
/** Nothing was audited: the pool is in use, missing, foreign, newer, or unreadable. */
export const CHECK_NOT_CHECKED = 8;

/** Errors that are themselves a finding about the pool's contents. */
const DAMAGE: ReadonlySet<UcCode> = new Set<UcCode>(['UC_POOL_CORRUPT', 'UC_POOL_TRUNCATED', 'UC_META_CORRUPT', 'UC_META_ROLLBACK']);

/** The status for an error thrown by check (a usage error keeps the CLI's 2). */
export function checkExitOf(err: unknown): number {
  const uc = toUserError(err);
  if (uc.code === 'UC_INVALID_ARGUMENT') return EXIT_USAGE;
  return DAMAGE.has(uc.code) ? CHECK_PROBLEMS : CHECK_NOT_CHECKED;
}

/** Rows for check --help and docs/check.md. */
export const CHECK_EXIT_TABLE: ReadonlyArray<readonly [number, string]> = [
  [CHECK_CLEAN, 'the pool is clean (after --repair rewrote a superblock copy, too)'],
  [EXIT_USAGE, 'bad command line'],
  [CHECK_PROBLEMS, 'problems found: the report lists them (or the pool is too damaged to open)'],
  [CHECK_NOT_CHECKED, 'not checked: pool in use, missing, foreign, newer format, unreadable'],
];
