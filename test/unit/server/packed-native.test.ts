import { describe, expect, it } from 'vitest';
import { packedReadPathFromEnv, PACKED_READ_ENV } from '../../../src/server/targets/packed-native.js';

describe('UBLK_PACKED_READ', () => {
  it('chooses the native read path unless js is asked for, and refuses anything else', () => {
    expect(packedReadPathFromEnv({})).toBe('native');
    expect(packedReadPathFromEnv({ [PACKED_READ_ENV]: '' })).toBe('native');
    expect(packedReadPathFromEnv({ [PACKED_READ_ENV]: 'native' })).toBe('native');
    expect(packedReadPathFromEnv({ [PACKED_READ_ENV]: 'js' })).toBe('js');
    expect(() => packedReadPathFromEnv({ [PACKED_READ_ENV]: 'JS' })).toThrow(/must be 'native' or 'js'/);
  });
});
