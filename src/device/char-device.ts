// Opening /dev/ublkcN and sizing the ring that serves its queues.

import { existsSync, openSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import { EIO, errnoOf } from '../util/errno.js';
import { UcError } from '../util/errors.js';

/** How long a fresh /dev/ublkcN may take to appear (ublksrv waits 1 s too). */
const CDEV_WAIT_MS = 1000;

/**
 * SQ entries for `slots` operations in flight at once (one per tag's ublk
 * command, plus one per request when the target's file I/O shares the
 * ring): a power of two, 64..4096.
 */
export function ringEntries(slots: number): number {
  let n = 64;
  while (n < slots && n < 4096) n *= 2;
  return n;
}

/** Opens /dev/ublkcN O_RDWR|O_CLOEXEC, waiting up to 1 s for devtmpfs/udev to create it. */
export async function openCharDevice(path: string): Promise<number> {
  const deadline = Date.now() + CDEV_WAIT_MS;
  for (;;) {
    if (existsSync(path)) {
      try {
        return openSync(path, 'r+'); // Node adds O_CLOEXEC
      } catch (err) {
        const code = (err as NodeJS.ErrnoException).code;
        if (code !== 'ENOENT' || Date.now() >= deadline) {
          throw new UcError('UC_IO', `cannot open ${path}: ${(err as Error).message}`, {
            cause: err,
            errno: errnoOf(err) ?? EIO,
          });
        }
      }
    } else if (Date.now() >= deadline) {
      throw new UcError('UC_IO', `${path} did not appear within ${CDEV_WAIT_MS} ms`);
    }
    await sleep(10);
  }
}
