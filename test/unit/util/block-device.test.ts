// The dev_t split used to find a block device's size in sysfs and to match
// st_dev against mountinfo: glibc's major()/minor(), for the minors the kernel
// hands out (20 bits).
import { execFileSync } from 'node:child_process';
import { statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { describe, expect, it } from 'vitest';
import { deviceNumbers, deviceString } from '../../../src/util/block-device.js';

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

  it('spells st_dev as stat(1) does', () => {
    const dir = tmpdir();
    const want = execFileSync('stat', ['-c', '%Hd:%Ld', dir], { encoding: 'utf8' }).trim();
    expect(deviceString(statSync(dir).dev)).toBe(want);
    expect(deviceString(makedev(259, 70000) >>> 0)).toBe('259:70000');
  });
});
