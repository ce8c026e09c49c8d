// Classifies a failed LevelDB open into a UcError a user can act on. classic-level
// wraps the cause: cause.code is LEVEL_LOCKED, LEVEL_CORRUPTION or LEVEL_IO_ERROR
// (an errno text inside the message), or none for "does not exist".
import { UcError, type UcCode } from '../util/errors.js';

interface LevelFailure {
  code?: string;
  message?: string;
  cause?: { code?: string; message?: string };
}

/** The UcError for a LevelDB open of `dir` that threw `err`; `shown` names it to the user. */
export function openFailure(err: unknown, dir: string, shown: string): UcError {
  const e = err as LevelFailure;
  const code = e.cause?.code ?? e.code ?? '';
  const text = (e.cause?.message ?? e.message ?? String(err)).replaceAll(dir, shown);
  const [uc, advice] = classify(code, text);
  return new UcError(uc, `cannot open metadata ${shown}: ${text}${advice}`, { cause: err });
}

function classify(code: string, text: string): [UcCode, string] {
  if (code === 'LEVEL_LOCKED') return ['UC_POOL_LOCKED', ' (another process uses it: stop that device first)'];
  if (/No space left on device/i.test(text)) return ['UC_NO_SPACE', ' (free space on its filesystem)'];
  if (/Permission denied|Operation not permitted|Read-only file system/i.test(text)) {
    return ['UC_PERMISSION_DENIED', ' (check ownership and modes; run as root)'];
  }
  if (code === 'LEVEL_CORRUPTION') return ['UC_META_CORRUPT', ' (restore the metadata directory from a backup)'];
  if (/does not exist|Not a directory/i.test(text)) return ['UC_META_MISSING', ''];
  if (/No such file or directory/i.test(text)) {
    return ['UC_META_CORRUPT', ' (a file the database lists is gone: restore the metadata directory from a backup)'];
  }
  if (code === 'LEVEL_INVALID_ARGUMENT' || /Invalid argument/i.test(text)) return ['UC_META_MISSING', ' (not a LevelDB database)'];
  return ['UC_IO', ''];
}
