// Every error that reaches the top of a command becomes one clear line and
// the documented exit status (issue 7 item 5, CLI side): a full disk exits 8
// however it surfaced; no refusal shows a raw assertion, RangeError or LEVEL_ code.
import assert from 'node:assert';
import { describe, expect, it } from 'vitest';
import { toUserError } from '../../../src/server/user-error.js';
import { exitCodeOf } from '../../../src/cli/exit-codes.js';
import { formatError } from '../../../src/cli/format-error.js';
import { UcError } from '../../../src/util/errors.js';

function errno(code: string, n: number, message: string): NodeJS.ErrnoException {
  return Object.assign(new Error(message), { code, errno: n });
}
function level(code: string, message: string, cause?: Error): Error {
  return Object.assign(new Error(message, { cause }), { code });
}
function assertionError(): unknown {
  try {
    assert.equal(1, 2, 'segment size differs between superblock and metadata');
  } catch (err) {
    return err;
  }
  throw new Error('unreachable');
}

describe('a full disk exits 8', () => {
  it('from an errno, a UC_IO hiding it, LevelDB text, or a cause chain under another code', () => {
    const cases: unknown[] = [
      errno('ENOSPC', 28, 'ENOSPC: no space left on device, write'),
      new UcError('UC_IO', 'write failed', { errno: 28 }),
      new UcError('UC_IO', 'flush failed', { cause: errno('ENOSPC', -28, 'write') }),
      level('LEVEL_IO_ERROR', 'Database failed to open', new Error('IO error: /m/000005.log: No space left on device')),
      new UcError('UC_META_MISMATCH', 'cannot open metadata /m', {
        cause: level('LEVEL_DATABASE_NOT_OPEN', 'Database failed to open', new Error('IO error: No space left on device')),
      }),
      new UcError('UC_NO_SPACE', 'pool full'),
    ];
    for (const err of cases) {
      expect(exitCodeOf(err), String(err)).toBe(8);
      expect(toUserError(err).code).toBe('UC_NO_SPACE');
      expect(toUserError(err).errno ?? 28).toBe(28);
    }
  });
});

describe('no raw internals', () => {
  it('assertions, RangeErrors and LevelDB codes become project codes and plain messages', () => {
    const cases: Array<[unknown, string, number]> = [
      [assertionError(), 'UC_IO', 1],
      [new RangeError('Offset is outside the bounds of the DataView'), 'UC_IO', 1],
      [level('LEVEL_LOCKED', 'Database failed to open', new Error('IO error: lock /m/LOCK: already held by process')), 'UC_POOL_LOCKED', 7],
      [level('LEVEL_CORRUPTION', 'Database failed to open', new Error('Corruption: bad record length')), 'UC_POOL_CORRUPT', 7],
      [level('LEVEL_IO_ERROR', 'Database failed to open', new Error('IO error: /m/CURRENT: Permission denied')), 'UC_IO', 1],
      [errno('EACCES', 13, 'EACCES: permission denied, open \'/p\''), 'UC_IO', 1],
    ];
    for (const [err, code, status] of cases) {
      const uc = toUserError(err);
      expect(uc.code, String(err)).toBe(code);
      expect(exitCodeOf(err)).toBe(status);
      const line = formatError(uc);
      expect(line).not.toMatch(/ERR_ASSERTION|RangeError|AssertionError|LEVEL_/);
      expect(line.split('\n')).toHaveLength(2); // one line plus its newline
    }
  });

  it('while a pool is opened, an unexpected throw means inconsistent contents (exit 7)', () => {
    for (const err of [assertionError(), new RangeError('Offset is outside the bounds of the DataView')]) {
      const uc = toUserError(err, { pool: '/p.img' });
      expect(uc.code).toBe('UC_POOL_CORRUPT');
      expect(exitCodeOf(uc)).toBe(7);
      expect(uc.message).toMatch(/^pool \/p\.img or its metadata is inconsistent .*nothing was changed/);
    }
  });

  it('leaves a project error as it is', () => {
    const err = new UcError('UC_META_MISMATCH', 'metadata belongs to another pool (uuid mismatch)');
    expect(toUserError(err)).toBe(err);
    expect(exitCodeOf(err)).toBe(7);
  });
});
