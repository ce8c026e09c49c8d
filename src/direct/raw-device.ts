// The block device under a backing file, for the direct-mapped path: the
// filesystem's st_dev -> /sys/dev/block/MAJ:MIN -> /dev/NAME (partitions and
// device-mapper nodes included), checked and opened O_DIRECT. Only
// filesystems whose FIEMAP physical offsets are byte offsets on that one
// device qualify (ext2/3/4 without data=journal, xfs without a realtime
// device); anything else keeps the file path. See docs/direct-paths.md.

import { closeSync, constants, openSync, readFileSync, realpathSync, statfsSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { deviceNumbers } from '../util/block-device.js';

const EXT4_MAGIC = 0xef53;
const XFS_MAGIC = 0x58465342;
/** The device's logical block must divide the 4 KiB the device serves in. */
const BLOCK_BYTES = 4096;

export interface RawDevice {
  readonly path: string;
  /** O_RDWR | O_DIRECT; the caller closes it. */
  readonly fd: number;
  readonly logicalBlockBytes: number;
}

export type RawDeviceResult = { readonly device: RawDevice } | { readonly reason: string };

/** The super options of the mount on MAJ:MIN (/proc/self/mountinfo), or undefined. */
function superOptions(majMin: string, mountinfo: string): string | undefined {
  for (const line of mountinfo.split('\n')) {
    const fields = line.split(' ');
    if (fields[2] !== majMin) continue;
    const sep = fields.indexOf('-');
    if (sep > 0) return fields[sep + 3];
  }
  return undefined;
}

/** Why `backing`'s filesystem cannot be mapped, or undefined when it can. */
function filesystemRefusal(fsType: number, options: string | undefined): string | undefined {
  if (fsType !== EXT4_MAGIC && fsType !== XFS_MAGIC) {
    return `filesystem type 0x${fsType.toString(16)} is not ext2/3/4 or xfs`;
  }
  const opts = (options ?? '').split(',');
  if (opts.includes('data=journal')) return 'ext4 with data=journal: file data goes through the journal';
  if (opts.some((o) => o.startsWith('rtdev='))) return 'xfs with a realtime device';
  if (opts.includes('dax') || opts.includes('dax=always')) return 'DAX mount';
  return undefined;
}

function readSys(path: string): string | undefined {
  try {
    return readFileSync(path, 'utf8').trim();
  } catch {
    return undefined;
  }
}

function logicalBlockBytes(sysDir: string): number {
  const own = readSys(join(sysDir, 'queue', 'logical_block_size'));
  // A partition has no queue/ of its own: its disk's applies.
  const value = own ?? readSys(join(realpathSync(sysDir), '..', 'queue', 'logical_block_size'));
  return value === undefined ? 0 : Number(value);
}

/** Finds and opens the device under `backing`, or says why the file path must serve it. */
export function openRawDevice(backing: string, sysRoot = '/sys', procRoot = '/proc'): RawDeviceResult {
  const st = statSync(backing);
  if (!st.isFile()) return { reason: 'the backing is not a regular file' };
  const { major, minor } = deviceNumbers(st.dev);
  const majMin = `${major}:${minor}`;
  const refusal = filesystemRefusal(statfsSync(backing).type, superOptions(majMin, readSys(join(procRoot, 'self', 'mountinfo')) ?? ''));
  if (refusal !== undefined) return { reason: refusal };
  const sysDir = join(sysRoot, 'dev', 'block', majMin);
  const devName = /^DEVNAME=(.+)$/m.exec(readSys(join(sysDir, 'uevent')) ?? '')?.[1];
  if (devName === undefined) return { reason: `no block device ${majMin} in ${sysRoot}/dev/block` };
  const path = join('/dev', devName);
  let node;
  try {
    node = statSync(path);
  } catch {
    return { reason: `${path} (device ${majMin}) does not exist` };
  }
  if (!node.isBlockDevice() || node.rdev !== st.dev) return { reason: `${path} is not device ${majMin}` };
  const lbs = logicalBlockBytes(sysDir);
  if (!(lbs > 0) || BLOCK_BYTES % lbs !== 0) return { reason: `${path} has logical blocks of ${lbs} bytes` };
  try {
    const fd = openSync(path, constants.O_RDWR | constants.O_DIRECT);
    return { device: { path, fd, logicalBlockBytes: lbs } };
  } catch (err) {
    return { reason: `cannot open ${path} O_DIRECT: ${(err as Error).message}` };
  }
}

export function closeRawDevice(device: RawDevice | undefined): void {
  if (device !== undefined) closeSync(device.fd);
}
