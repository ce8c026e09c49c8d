// What an online grow (`resize`) of either layout checks before it changes
// anything, and records once the kernel has the new size (docs/kernels.md,
// "Online grow"). The layouts grow their backing in between: packed-resize.ts
// (the pool), direct-resize.ts (the 1:1 backing file).

import type { UblkDevice } from '../../device/index.js';
import { UcError } from '../../util/errors.js';
import { formatBytes } from '../../util/units.js';
import type { Logger } from '../logger.js';
import { validateDeviceSize } from '../preflight.js';
import { readRunRecord, writeRunRecord } from '../run-file.js';

/** What the grow needs of the served device. */
export type GrowableDevice = Pick<UblkDevice, 'devId' | 'path' | 'canGrowLive' | 'grow'>;

/**
 * Refuses a size that is not whole 4 KiB blocks or smaller than the device
 * (`never`: why it cannot shrink); true when the size is already `fromBytes`.
 */
export function sameSizeOrGrowing(
  device: GrowableDevice,
  fromBytes: number,
  sizeBytes: number,
  never: string,
): boolean {
  validateDeviceSize(sizeBytes);
  if (sizeBytes < fromBytes) {
    throw new UcError(
      'UC_INVALID_ARGUMENT',
      `--size ${formatBytes(sizeBytes)} is smaller than ${device.path} (${formatBytes(fromBytes)}); ${never}`,
    );
  }
  return sizeBytes === fromBytes;
}

/** Refuses when the kernel cannot resize a live device, naming the offline path (`add` + `addArgs`). */
export function requireLiveGrow(device: GrowableDevice, addArgs: string): void {
  if (device.canGrowLive) return;
  throw new UcError(
    'UC_KERNEL_UNSUPPORTED',
    'this kernel cannot resize a live ublk device (UBLK_F_UPDATE_SIZE, Linux 6.16 or later); grow it offline: ' +
      `ublk-compress del -n ${device.devId}, then ublk-compress add ${addArgs}`,
  );
}

/** After UPDATE_SIZE: this daemon's run record carries the new size; one log line. */
export function recordGrown(device: GrowableDevice, fromBytes: number, sizeBytes: number, log: Logger): void {
  const rec = readRunRecord(device.devId);
  if (rec && rec.pid === process.pid) writeRunRecord({ ...rec, sizeBytes });
  log.info({ from: fromBytes, to: sizeBytes }, 'grew online');
}
