// What both targets do around their UblkDevice: ADD_DEV with the run's
// geometry (and the 'added' log line), the control socket, and the one
// shutdown order:
//
//   control socket closed -> flush while the device still serves (1:1)
//   -> STOP_DEV (the queues drain: no request is left in the target)
//   -> the target releases its files -> DEL_DEV
//
// DEL_DEV comes last: a ring or mapping still referencing /dev/ublkcN would
// make it wait forever. A device deleted from outside meanwhile is no error.

import { MAX_IO_BUF_BYTES_DEFAULT, UblkDevice, type ServeOptions, type ZeroCopyWish } from '../../device/index.js';
import type { IoRing } from '../../native/index.js';
import { UcError } from '../../util/errors.js';
import { controlSocketPath, statsSocketPath } from '../control-protocol.js';
import { startControlServer, type ControlHandlers, type ControlServer } from '../control-server.js';
import type { AddConfig } from '../config.js';
import type { Logger } from '../logger.js';
import type { ServedDevice, StartHooks } from '../serve-target.js';

export interface DeviceGeometry {
  readonly devId: number | undefined;
  readonly queues: number;
  readonly depth: number;
  readonly sizeBytes: number;
  /** Default 'off' (the packed layout must read every block). */
  readonly zeroCopy?: ZeroCopyWish;
}

export interface SessionParts {
  /** Runs while the device still serves, before STOP_DEV (errors are the part's to log). */
  beforeStop?(): Promise<void>;
  /** Runs after the queues drained (STOP_DEV succeeded). */
  drained?(device: UblkDevice): void;
  /** Closes what the target holds; runs even when stopping failed. */
  release(): Promise<void>;
}

/** What every target takes from the config for its device. */
export function deviceOptionsOf(cfg: AddConfig): Omit<DeviceGeometry, 'sizeBytes'> & { readonly startTimeoutMs: number } {
  return { devId: cfg.devId, queues: cfg.queues, depth: cfg.depth, startTimeoutMs: cfg.startTimeoutMs };
}

function unlessGone(err: unknown): void {
  if (!(err instanceof UcError && err.code === 'UC_DEVICE_NOT_FOUND')) throw err;
}

/** One device served by this process, from ADD_DEV (or open for recovery) to DEL_DEV. */
export class DeviceSession {
  device: UblkDevice | undefined;
  log: Logger;
  #control: ControlServer | undefined;
  #stats: ControlServer | undefined;
  #shuttingDown: Promise<void> | undefined;
  readonly #parts: SessionParts;

  constructor(log: Logger, parts: SessionParts) {
    this.log = log;
    this.#parts = parts;
  }

  /** ADD_DEV + SET_PARAMS, then `onAdded` (the run record) before anything can fail. */
  async add(geometry: DeviceGeometry, hooks: StartHooks): Promise<UblkDevice> {
    const device = await UblkDevice.create({
      devId: geometry.devId,
      queues: geometry.queues,
      depth: geometry.depth,
      sizeBytes: geometry.sizeBytes,
      maxIoBufBytes: MAX_IO_BUF_BYTES_DEFAULT,
      zeroCopy: geometry.zeroCopy,
    });
    this.device = device;
    this.log = this.log.child({ devId: device.devId });
    hooks.onAdded(device.devId);
    const flags = `0x${device.info.flags.toString(16)}`;
    this.log.info({ flags, queues: geometry.queues, depth: geometry.depth }, 'added');
    return device;
  }

  /** The serve options every target passes: the start bound and queue errors to the log. */
  serveOptions(startTimeoutMs: number): ServeOptions {
    return { startTimeoutMs, onError: (err, what) => this.log.error({ err, what }, 'queue error') };
  }

  /** Opens the device's control socket (stats, compact). */
  /** The control socket, and with `statsGid` the stats socket that group may read. */
  async serveControl(handlers: ControlHandlers, statsGid?: number): Promise<void> {
    const device = this.device;
    if (device === undefined) throw new UcError('UC_DEVICE_NOT_FOUND', 'the device is not started yet');
    this.#control = await startControlServer(controlSocketPath(device.devId), handlers, this.log);
    if (statsGid !== undefined) {
      this.#stats = await startControlServer(statsSocketPath(device.devId), handlers, this.log, { statsGid });
    }
  }

  /** Flushes, stops, releases, deletes. Idempotent. */
  shutdown(): Promise<void> {
    this.#shuttingDown ??= this.#shutdown();
    return this.#shuttingDown;
  }

  /** After a failed start: shut down, logging (not throwing) a failure of the cleanup itself. */
  async shutdownAfterFailure(): Promise<void> {
    await this.shutdown().catch((e: unknown) => this.log.error({ err: e }, 'cleanup after a failed start failed'));
  }

  /** Closes only the control socket (a failed recovery leaves the device for another try). */
  async closeControl(): Promise<void> {
    await this.#control?.close().catch(() => undefined);
    await this.#stats?.close().catch(() => undefined);
  }

  /** The lifecycle's view of the started device. */
  served(): ServedDevice {
    const device = this.device;
    if (device === undefined) throw new UcError('UC_DEVICE_NOT_FOUND', 'the device is not started yet');
    return {
      devId: device.devId,
      path: device.path,
      stopped: device.stopped,
      shutdown: () => this.shutdown(),
      sizeBytes: () => device.sizeBytes,
    };
  }

  async #shutdown(): Promise<void> {
    await this.closeControl();
    const device = this.device;
    try {
      if (device) await this.#parts.beforeStop?.();
      if (device) await device.stop().catch(unlessGone);
      if (device) this.#parts.drained?.(device);
    } finally {
      await this.#parts.release();
    }
    if (device) await device.delete().catch(unlessGone);
  }
}

/** Closes a ring once the queues and the backing it served are closed; one still busy
 * is left to process exit (closing it would free buffers the kernel may write). */
export function closeRingWhenIdle(ring: IoRing, log: Logger): void {
  if (ring.inflight === 0) ring.close();
  else log.warn({ inflight: ring.inflight }, 'ring still busy at shutdown; left to process exit');
}
