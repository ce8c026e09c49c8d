// One rule for "the filesystem is full", shared by the engine's commit
// failure handling (stall with UC_NO_SPACE) and the CLI's exit status (8).
import { constants } from 'node:os';
import { describe, expect, it } from 'vitest';
import { causeChain, ENOSPC, errnoOf, isNoSpace } from '../../../src/util/errno.js';
import { UcError } from '../../../src/util/errors.js';

describe('errnoOf', () => {
  it('folds node:fs negative errnos to positive and ignores a missing or zero errno', () => {
    expect(errnoOf({ errno: -constants.errno.ENOSPC })).toBe(constants.errno.ENOSPC);
    expect(errnoOf({ errno: ENOSPC })).toBe(ENOSPC);
    expect(errnoOf({ errno: 0 })).toBeUndefined();
    expect(errnoOf(new Error('x'))).toBeUndefined();
    expect(errnoOf(undefined)).toBeUndefined();
  });
});

describe('isNoSpace', () => {
  const wrap = (inner: unknown, times: number): unknown => {
    let e = inner;
    for (let i = 0; i < times; i += 1) e = new UcError('UC_IO', `layer ${i}`, { cause: e });
    return e;
  };

  it('an errno of either sign, a code or LevelDB text, at any depth up to seven wrappers', () => {
    const forms: unknown[] = [
      Object.assign(new Error('write failed'), { errno: -ENOSPC }), // node:fs
      Object.assign(new Error('write failed'), { errno: ENOSPC }), // the addon
      Object.assign(new Error('x'), { code: 'ENOSPC' }),
      new UcError('UC_NO_SPACE', 'the pool is full'),
      new UcError('UC_IO', 'x', { errno: ENOSPC }),
      new Error('IO error: /m/000005.log: No space left on device'), // LevelDB: text only
      new Error('ENOSPC: no space left on device, write'),
    ];
    for (const f of forms) {
      expect(isNoSpace(f)).toBe(true);
      expect(isNoSpace(wrap(f, 7))).toBe(true);
    }
  });

  it('other failures, too deep a chain, and non-objects are not "full"', () => {
    expect(isNoSpace(Object.assign(new Error('EIO'), { errno: -constants.errno.EIO }))).toBe(false);
    expect(isNoSpace(new UcError('UC_IO', 'a group commit failed'))).toBe(false);
    expect(isNoSpace(new Error('ENOSPCX is not a word'))).toBe(false);
    expect(isNoSpace(wrap(new UcError('UC_NO_SPACE', 'full'), 8))).toBe(false);
    expect(isNoSpace('No space left on device')).toBe(false);
    expect(isNoSpace(undefined)).toBe(false);
  });

  it('a cycle of causes ends', () => {
    const a = new Error('a') as Error & { cause?: unknown };
    const b = new Error('b', { cause: a });
    a.cause = b;
    expect(causeChain(a)).toHaveLength(8);
    expect(isNoSpace(a)).toBe(false);
  });
});
