// Binds the 1:1 target to a ublk device: one io_uring shared by the queues
// and the backing-file I/O, the DirectTarget over it, and the UblkDevice of
// src/device that dispatches requests to the target.
// PROVISIONAL: coded against the expected src/device API; adjusted when it lands.

import { UcError } from '../../util/errors.js';
import type { Logger } from '../logger.js';

export interface ServedDevice {
  readonly devId: number;
  readonly path: string;
  /** Resolves when the device stops without being asked (deleted from outside). */
  readonly stopped: Promise<void>;
  /** Stops the device, flushes and closes the target, deletes the device. Idempotent. */
  shutdown(): Promise<void>;
}

export interface DirectDeviceOptions {
  readonly backing: string;
  readonly sizeBytes: number;
  readonly devId: number | undefined;
  readonly queues: number;
  readonly depth: number;
  readonly startTimeoutMs: number;
  readonly log: Logger;
  /** Called right after ADD_DEV, before START_DEV (run record, log name). */
  readonly onAdded: (devId: number) => void;
}

export async function startDirectDevice(_opts: DirectDeviceOptions): Promise<ServedDevice> {
  throw new UcError('UC_KERNEL_UNSUPPORTED', 'this build has no device layer yet (src/device is not wired)');
}
