// The dev_t split used to find a block device's size in sysfs: glibc's
// major()/minor(), for the minors the kernel hands out (20 bits).
import { describe, expect, it } from 'vitest';
import { deviceNumbers } from '../../../src/util/block-device.js';

/** glibc's makedev() for majors below 4096 (the low 32 bits). */
function makedev(major: number, minor: number): number {
  return ((major & 0xfff) << 8) | (minor & 0xff) | ((minor & ~0xff) << 12);
}

describe('deviceNumbers', () => {
  it('splits rdev as glibc does', () => {
    for (const [major, minor] of [
      [8, 1],
      [259, 0x12345],
      [7, 0],
      [0xfff, 0xfffff],
    ]) {
      expect(deviceNumbers(makedev(major, minor) >>> 0)).toEqual({ major, minor });
    }
  });
});
