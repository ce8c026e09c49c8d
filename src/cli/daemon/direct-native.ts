// The daemon's side of the 1:1 layout's native request path: choosing it
// (UBLK_DIRECT_PATH), logging the failures it committed, and the per-path
// request counts that say which I/O serves the device.

import { UBLK_IO_OP, type DirectPathStats, type DirectRequestError, type UblkQueue } from '../../native/index.js';
import type { DispatchStats } from '../../device/queue-dispatch.js';
import type { BackingIo, DirectRequestPath, DirectServeStats } from '../direct-status.js';
import { UcError } from '../../util/errors.js';
import type { Logger } from '../logger.js';

export type { BackingIo, DirectRequestPath, DirectServeStats };

/** UBLK_DIRECT_PATH=js forces the JS request path (to compare the two in one boot). */
export const DIRECT_PATH_ENV = 'UBLK_DIRECT_PATH';

const ZERO_NATIVE: DirectPathStats = {
  reads: 0,
  writes: 0,
  flushes: 0,
  discards: 0,
  writeZeroes: 0,
  readBytes: 0,
  writeBytes: 0,
  errors: 0,
  toJs: 0,
  inflight: 0,
};

const OP_NAMES: Record<number, string> = {
  [UBLK_IO_OP.READ]: 'read',
  [UBLK_IO_OP.WRITE]: 'write',
  [UBLK_IO_OP.FLUSH]: 'flush',
  [UBLK_IO_OP.DISCARD]: 'discard',
  [UBLK_IO_OP.WRITE_ZEROES]: 'write-zeroes',
};

export function requestPathFromEnv(env: NodeJS.ProcessEnv = process.env): DirectRequestPath {
  const v = env[DIRECT_PATH_ENV];
  if (v === undefined || v === '' || v === 'native') return 'native';
  if (v === 'js') return 'js';
  throw new UcError('UC_INVALID_ARGUMENT', `${DIRECT_PATH_ENV} must be 'native' or 'js' (got '${v}')`);
}

/** One line per failure, like logged-target.ts writes for the JS path. */
export function logNativeErrors(log: Logger, errors: readonly DirectRequestError[]): void {
  for (const e of errors) {
    const flush = e.op === UBLK_IO_OP.FLUSH;
    const lba = flush ? 0 : e.startSector / 8;
    const blocks = flush ? 0 : e.nrSectors / 8;
    log.error({ op: OP_NAMES[e.op] ?? `op ${e.op}`, lba, blocks, errno: e.errno, path: 'native' }, 'request failed');
  }
}

export function serveStats(
  requestPath: DirectRequestPath,
  backingIo: BackingIo,
  queues: readonly UblkQueue[],
  js: DispatchStats,
): DirectServeStats {
  const native = { ...ZERO_NATIVE };
  for (const q of queues) {
    const s = q.directStats();
    if (s === null) continue;
    for (const k of Object.keys(native) as Array<keyof DirectPathStats>) native[k] += s[k];
  }
  return { requestPath, backingIo, native, js: { ...js } };
}
