import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { formatPool } from '../../../src/engine/index.js';
import {
  packedReadPathFromEnv, PACKED_APPLY_ENV, PACKED_READ_ENV, startNativeApply,
} from '../../../src/server/targets/packed-native.js';
import { BLOCK_BYTES } from '../../../src/util/units.js';

describe('UBLK_PACKED_READ', () => {
  it('chooses the native read path unless js is asked for, and refuses anything else', () => {
    expect(packedReadPathFromEnv({})).toBe('native');
    expect(packedReadPathFromEnv({ [PACKED_READ_ENV]: '' })).toBe('native');
    expect(packedReadPathFromEnv({ [PACKED_READ_ENV]: 'native' })).toBe('native');
    expect(packedReadPathFromEnv({ [PACKED_READ_ENV]: 'js' })).toBe('js');
    expect(() => packedReadPathFromEnv({ [PACKED_READ_ENV]: 'JS' })).toThrow(/must be 'native' or 'js'/);
  });
});

describe('UBLK_PACKED_APPLY', () => {
  it('attaches the apply step and the one-block write path (batch: the apply step only, js: neither), and refuses anything else', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'packed-apply-'));
    try {
      for (const [value, applied, written] of [[undefined, true, true], ['native', true, true], ['batch', true, false], ['js', false, false]] as const) {
        const path = join(dir, `pool-${value ?? 'default'}.img`);
        const e = await formatPool({ backingPath: path, logicalBytes: 64 * 1024 * 1024 });
        expect(startNativeApply(e, value === undefined ? {} : { [PACKED_APPLY_ENV]: value }) !== undefined).toBe(written);
        // Two one-block writes started together: one coalesced batch of new blocks (no
        // segment is open before it, so the one-block path waits for it).
        await Promise.all([0, 1].map((lba) => e.write(lba, 1, randomBytes(BLOCK_BYTES), false)));
        expect(e.stats().nativeAppliedBlocks > 0).toBe(applied);
        // Then one alone: the addon applies it outside the mutex, when it may.
        await e.write(2, 1, randomBytes(BLOCK_BYTES), false);
        expect(e.stats().nativeWrittenBlocks).toBe(written ? 1 : 0);
        await e.close();
      }
      const e = await formatPool({ backingPath: join(dir, 'pool-bad.img'), logicalBytes: 64 * 1024 * 1024 });
      expect(() => startNativeApply(e, { [PACKED_APPLY_ENV]: 'off' })).toThrow(/must be 'native', 'batch' or 'js'/);
      await e.close();
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
