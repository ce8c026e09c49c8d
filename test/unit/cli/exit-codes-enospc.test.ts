// A full filesystem exits 8 whichever layer reported it (docs/cli.md, exit status).
import { describe, expect, it } from 'vitest';
import { EXIT_NO_SPACE, exitCodeOf } from '../../../src/cli/exit-codes.js';
import { UcError } from '../../../src/util/errors.js';

describe('exit status of a full filesystem', () => {
  it('is 8 for UC_NO_SPACE and for any UcError carrying ENOSPC', () => {
    expect(EXIT_NO_SPACE).toBe(8);
    expect(exitCodeOf(new UcError('UC_NO_SPACE', 'pool is full'))).toBe(8);
    expect(exitCodeOf(new UcError('UC_IO', 'pwrite failed', { errno: 28 }))).toBe(8);
    expect(exitCodeOf(new UcError('UC_IO', 'pwrite failed', { errno: 5 }))).toBe(1);
  });
});
