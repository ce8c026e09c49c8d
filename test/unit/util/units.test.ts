import { describe, expect, it } from 'vitest';
import { UcError, toErrno } from '../../../src/util/errors.js';
import { formatBytes, lbaOfSector, parseSize } from '../../../src/util/units.js';

describe('parseSize', () => {
  it('accepts binary suffixes with optional B / iB', () => {
    expect(parseSize('4096')).toBe(4096);
    expect(parseSize('1K')).toBe(1024);
    expect(parseSize('512M')).toBe(512 * 1024 ** 2);
    expect(parseSize('100G')).toBe(100 * 1024 ** 3);
    expect(parseSize('2TiB')).toBe(2 * 1024 ** 4);
    expect(parseSize('1.5g')).toBe(1.5 * 1024 ** 3);
  });

  it('rejects what does not parse, with a code', () => {
    for (const bad of ['', 'G', '10X', '-1G', '1.2.3M', '12 parsecs', '0.3']) {
      expect(() => parseSize(bad), bad).toThrowError(UcError);
    }
    try {
      parseSize('lots');
    } catch (err) {
      expect((err as UcError).code).toBe('UC_INVALID_ARGUMENT');
    }
  });
});

describe('units', () => {
  it('converts aligned sectors to blocks and refuses unaligned ones', () => {
    expect(lbaOfSector(16)).toBe(2);
    expect(() => lbaOfSector(3)).toThrow(/aligned/);
  });

  it('formats bytes for humans', () => {
    expect(formatBytes(512)).toBe('512 B');
    expect(formatBytes(3 * 1024 ** 3)).toBe('3.00 GiB');
  });
});

describe('toErrno', () => {
  it('maps codes, system errors and unknown failures to negative errnos', () => {
    expect(toErrno(new UcError('UC_NO_SPACE', 'full'))).toBe(-28);
    expect(toErrno(new UcError('UC_IO', 'x', { errno: 61 }))).toBe(-61);
    expect(toErrno(Object.assign(new Error('x'), { errno: 9 }))).toBe(-9);
    expect(toErrno(new Error('who knows'))).toBe(-5);
  });
});
