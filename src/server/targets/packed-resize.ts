// Online grow of a served packed device (`resize -n ID --size S`, over the
// control socket; docs/kernels.md). The pool grows first and durably (the
// engine extends the file, rewrites the superblock and commits), so a crash
// after that step leaves a bigger pool that the next `add` serves at the new
// size; then the queues accept the new range and UPDATE_SIZE tells the kernel.
// A pool never shrinks. Kernels without UBLK_F_UPDATE_SIZE (before 6.16) get
// the offline path in the refusal.

import type { UblkDevice } from '../../device/index.js';
import type { BlockEngine } from '../../engine/index.js';
import { UcError } from '../../util/errors.js';
import { formatBytes } from '../../util/units.js';
import type { ResizeResult } from '../control-protocol.js';
import type { Logger } from '../logger.js';
import { validateDeviceSize } from '../preflight.js';
import { readRunRecord, writeRunRecord } from '../run-file.js';

/** What the grow needs of the served device. */
export type GrowableDevice = Pick<UblkDevice, 'devId' | 'path' | 'canGrowLive' | 'grow'>;

export interface GrowParts {
  readonly engine: BlockEngine;
  readonly device: GrowableDevice;
  readonly poolPath: string;
  readonly log: Logger;
}

/** Refuses a size this device cannot grow to online; true when there is nothing to do. */
function checkGrow(p: GrowParts, sizeBytes: number): boolean {
  validateDeviceSize(sizeBytes);
  const { device } = p;
  const fromBytes = p.engine.logicalBytes;
  if (sizeBytes < fromBytes) {
    throw new UcError(
      'UC_INVALID_ARGUMENT',
      `--size ${formatBytes(sizeBytes)} is smaller than ${device.path} (${formatBytes(fromBytes)}); a pool never shrinks`,
    );
  }
  if (sizeBytes === fromBytes) return true;
  if (!device.canGrowLive) {
    throw new UcError(
      'UC_KERNEL_UNSUPPORTED',
      'this kernel cannot resize a live ublk device (UBLK_F_UPDATE_SIZE, Linux 6.16 or later); grow it offline: ' +
        `ublk-compress del -n ${device.devId}, then ublk-compress add --backing ${p.poolPath} --size ${sizeBytes}`,
    );
  }
  return false;
}

/** Grows the pool, then the device; the run record follows. Call serialized with compaction. */
export async function growPackedOnline(p: GrowParts, sizeBytes: number): Promise<ResizeResult> {
  const fromBytes = p.engine.logicalBytes;
  if (checkGrow(p, sizeBytes)) return { fromBytes, toBytes: sizeBytes };
  await p.engine.resize(sizeBytes);
  await p.device.grow(sizeBytes);
  const rec = readRunRecord(p.device.devId);
  if (rec && rec.pid === process.pid) writeRunRecord({ ...rec, sizeBytes });
  p.log.info({ from: fromBytes, to: sizeBytes }, 'grew online');
  return { fromBytes, toBytes: sizeBytes };
}
