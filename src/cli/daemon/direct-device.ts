// Binds the 1:1 target to a ublk device: one io_uring shared by the ublk
// queues and the backing-file I/O (DESIGN "The data path"), the DirectTarget
// over it, and the UblkDevice of src/device dispatching requests to it.

import { IoRing, type UblkQueue } from '../../native/index.js';
import { UblkDevice } from '../../device/ublk-device.js';
import { DirectTarget } from '../../direct/direct-target.js';
import { RingDirectFile } from '../../direct/ring-direct-file.js';
import { UcError } from '../../util/errors.js';
import { MAX_IO_BUF_BYTES } from '../add-config.js';
import type { Logger } from '../logger.js';
import { closeFd, isMemoryFile, openDirectIo } from '../../direct/odirect.js';
import { controlSocketPath } from '../control-protocol.js';
import { startControlServer, type ControlServer } from './control-server.js';
import { loggedTarget } from './logged-target.js';
import {
  logNativeErrors,
  requestPathFromEnv,
  serveStats,
  type BackingIo,
  type DirectRequestPath,
  type DirectServeStats,
} from './direct-native.js';

export interface ServedDevice {
  readonly devId: number;
  readonly path: string;
  /** Resolves when the device stops (asked by us, or deleted from outside). */
  readonly stopped: Promise<void>;
  /** Flushes, stops the device, closes the target, deletes the device. Idempotent. */
  shutdown(): Promise<void>;
}

export interface ServedDirectDevice extends ServedDevice {
  readonly requestPath: DirectRequestPath;
  /** Which I/O serves the device, with per-path request counts. */
  pathStats(): DirectServeStats;
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
  /** Default: native, unless UBLK_DIRECT_PATH=js. */
  readonly requestPath?: DirectRequestPath;
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

export async function startDirectDevice(opts: DirectDeviceOptions): Promise<ServedDirectDevice> {
  const requestPath = opts.requestPath ?? requestPathFromEnv();
  const queues: UblkQueue[] = [];
  const ring = new IoRing({ entries: ringEntries(opts.queues, opts.depth) });
  let file: RingDirectFile;
  try {
    file = RingDirectFile.open(ring, opts.backing);
  } catch (err) {
    ring.close();
    throw new UcError('UC_IO', `cannot open backing ${opts.backing}: ${(err as Error).message}`, { cause: err });
  }
  const direct = new DirectTarget(file, opts.sizeBytes);
  // The native path's own descriptor: O_DIRECT where the filesystem allows it.
  let nativeFd: number | undefined;
  let inlineRw = false;
  try {
    inlineRw = requestPath === 'native' && isMemoryFile(opts.backing);
    nativeFd = requestPath === 'native' && !inlineRw ? openDirectIo(opts.backing) : undefined;
  } catch (err) {
    await direct.close().catch(() => {});
    ring.close();
    throw new UcError('UC_IO', `cannot open backing ${opts.backing} for direct I/O: ${(err as Error).message}`, { cause: err });
  }
  const backingIo: BackingIo = inlineRw ? 'memory file, inline copy' : nativeFd === undefined ? 'buffered file' : 'O_DIRECT file';
  let device: UblkDevice | undefined;
  let log = opts.log;

  let control: ControlServer | undefined;
  let shuttingDown: Promise<void> | undefined;
  const shutdown = (): Promise<void> => {
    shuttingDown ??= (async () => {
      await control?.close();
      // Flush while the device still serves, then stop (the queues drain),
      // close the file, and close the ring before DEL_DEV: a ring or mapping
      // still referencing /dev/ublkcN would make DEL_DEV wait forever.
      try {
        if (device) await direct.flush().catch((err: unknown) => log.error({ err }, 'flush before stop failed'));
        if (device) await device.stop().catch((err: unknown) => { if (!isGone(err)) throw err; });
        if (device) log.info(serveStats(requestPath, backingIo, queues, device.stats), 'request paths');
      } finally {
        await direct.close().catch((err: unknown) => log.error({ err }, 'closing the backing file failed'));
        try {
          closeFd(nativeFd); // the queues are closed (drained) or the process is about to exit
        } finally {
          nativeFd = undefined;
        }
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
      onQueue: (queue) => {
        queues.push(queue);
        if (requestPath === 'native') {
          queue.setDirect(nativeFd ?? file.fd, opts.sizeBytes, (errors) => logNativeErrors(log, errors), { inlineRw });
        }
      },
    });
  } catch (err) {
    await shutdown().catch((e: unknown) => log.error({ err: e }, 'cleanup after a failed start failed'));
    throw err;
  }
  const started = device;
  const pathStats = (): DirectServeStats => serveStats(requestPath, backingIo, queues, started.stats);
  try {
    control = await startControlServer(controlSocketPath(started.devId), { directStats: pathStats }, log);
  } catch (err) {
    await shutdown().catch((e: unknown) => log.error({ err: e }, 'cleanup after a failed start failed'));
    throw err;
  }
  log.info({ requestPath, backingIo }, 'serving');
  return {
    devId: started.devId,
    path: started.path,
    stopped: started.stopped,
    shutdown,
    requestPath,
    pathStats,
  };
}
