// Binds the 1:1 target to a ublk device: one io_uring shared by the ublk
// queues and the backing-file I/O (DESIGN "The data path"), the DirectTarget
// over it, and the UblkDevice of src/device dispatching requests to it.

import { IoRing } from '../../native/index.js';
import { UblkDevice } from '../../device/ublk-device.js';
import { DirectTarget } from '../../direct/direct-target.js';
import { RingDirectFile } from '../../direct/ring-direct-file.js';
import { UcError } from '../../util/errors.js';
import { MAX_IO_BUF_BYTES } from '../add-config.js';
import type { Logger } from '../logger.js';
import { loggedTarget } from './logged-target.js';

export interface ServedDevice {
  readonly devId: number;
  readonly path: string;
  /** Resolves when the device stops (asked by us, or deleted from outside). */
  readonly stopped: Promise<void>;
  /** Flushes, stops the device, closes the target, deletes the device. Idempotent. */
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

/** Ring size: every tag's command plus one backing-file operation per request. */
function ringEntries(queues: number, depth: number): number {
  let n = 64;
  while (n < 2 * queues * depth && n < 4096) n *= 2;
  return n;
}

function isGone(err: unknown): boolean {
  return err instanceof UcError && err.code === 'UC_DEVICE_NOT_FOUND';
}

export async function startDirectDevice(opts: DirectDeviceOptions): Promise<ServedDevice> {
  const ring = new IoRing({ entries: ringEntries(opts.queues, opts.depth) });
  let file: RingDirectFile;
  try {
    file = RingDirectFile.open(ring, opts.backing);
  } catch (err) {
    ring.close();
    throw new UcError('UC_IO', `cannot open backing ${opts.backing}: ${(err as Error).message}`, { cause: err });
  }
  const direct = new DirectTarget(file, opts.sizeBytes);
  let device: UblkDevice | undefined;
  let log = opts.log;

  let shuttingDown: Promise<void> | undefined;
  const shutdown = (): Promise<void> => {
    shuttingDown ??= (async () => {
      // Flush while the device still serves, then stop (the queues drain),
      // close the file, and close the ring before DEL_DEV: a ring or mapping
      // still referencing /dev/ublkcN would make DEL_DEV wait forever.
      try {
        if (device) await direct.flush().catch((err: unknown) => log.error({ err }, 'flush before stop failed'));
        if (device) await device.stop().catch((err: unknown) => { if (!isGone(err)) throw err; });
      } finally {
        await direct.close().catch((err: unknown) => log.error({ err }, 'closing the backing file failed'));
        if (ring.inflight === 0) ring.close();
        else log.warn({ inflight: ring.inflight }, 'ring still busy at shutdown; left to process exit');
      }
      if (device) await device.delete().catch((err: unknown) => { if (!isGone(err)) throw err; });
    })();
    return shuttingDown;
  };

  try {
    device = await UblkDevice.create({
      devId: opts.devId,
      queues: opts.queues,
      depth: opts.depth,
      sizeBytes: opts.sizeBytes,
      maxIoBufBytes: MAX_IO_BUF_BYTES,
    });
    log = log.child({ devId: device.devId });
    opts.onAdded(device.devId);
    log.info({ flags: `0x${device.info.flags.toString(16)}`, queues: opts.queues, depth: opts.depth }, 'added');
    await device.start(loggedTarget(direct, log), {
      ring,
      startTimeoutMs: opts.startTimeoutMs,
      onError: (err, what) => log.error({ err, what }, 'queue error'),
    });
  } catch (err) {
    await shutdown().catch((e: unknown) => log.error({ err: e }, 'cleanup after a failed start failed'));
    throw err;
  }
  const started = device;
  return { devId: started.devId, path: started.path, stopped: started.stopped, shutdown };
}
