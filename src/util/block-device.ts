// dev_t numbers as the kernel spells them, and the size of a block device
// from sysfs, for a node:fs Stats `dev`/`rdev`.

import { readFileSync } from 'node:fs';
import { SECTOR_BYTES } from './units.js';

/**
 * major:minor of a dev_t as glibc splits it (major(3), minor(3)): major in
 * bits 8..19, minor in bits 0..7 and 20..31 (the 32 bits a JS number keeps
 * exactly through the bit operators).
 */
export function deviceNumbers(rdev: number): { major: number; minor: number } {
  const major = Math.floor(rdev / 256) & 0xfff;
  const minor = (rdev & 0xff) | ((Math.floor(rdev / 4096) & ~0xff) >>> 0);
  return { major, minor };
}

/** "major:minor" of a dev_t, as sysfs and /proc/PID/mountinfo spell it. */
export function deviceString(dev: number): string {
  const { major, minor } = deviceNumbers(dev);
  return `${major}:${minor}`;
}

/** Bytes of the block device `rdev` (/sys/dev/block/MAJ:MIN/size counts 512-byte sectors). */
export function blockDeviceBytes(rdev: number): number {
  const sectors = Number(readFileSync(`/sys/dev/block/${deviceString(rdev)}/size`, 'utf8').trim());
  return sectors * SECTOR_BYTES;
}
