// UblkDevice: one ublk block device served by this process on the Node main
// thread. Control commands run asynchronously on the control ring; every
// queue shares one IoRing (given by the caller so the target's file I/O
// rides the same ring, or created here).
//
//   const ring = new IoRing({ entries: 512 });
//   const dev = await UblkDevice.create({ queues: 1, depth: 128, sizeBytes });
//   await dev.start(target, { ring });      // resolves once /dev/ublkbN is usable
//   dev.stopped.then(...)                   // the kernel stopped it (del from outside)
//   await dev.stop(); await target.close(); await dev.delete();
//
// Recovery after the previous server died (USER_RECOVERY):
//   const dev = await UblkDevice.open(id); await dev.recover(target, { ring });

import assert from 'node:assert';
import { closeSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import {
  IoRing,
  UBLK_F,
  UblkQueue,
  type DevInfo,
  type UblkControl,
  type UblkParams,
} from '../native/index.js';
import { UcError } from '../util/errors.js';
import { BLOCK_BYTES, SECTOR_BYTES } from '../util/units.js';
import { openCharDevice, ringEntries } from './char-device.js';
import { controlError } from './control-errors.js';
import { blockDevicePath, openControl } from './control.js';
import { DeviceState, transition, type DeviceEvent, type DeviceStateValue } from './lifecycle.js';
import {
  MAX_IO_BUF_BYTES_DEFAULT,
  buildParams,
  hasZeroCopy,
  negotiateFlags,
  validateGeometry,
} from './params.js';
import { QueueDispatcher, sumDispatchStats, type DispatchStats } from './queue-dispatch.js';
import { RECOVERY_TIMING, startRecoveryWhenSettled } from './recovery-start.js';
import type { BlockTarget } from './target.js';
import type { ServeOptions, UblkDeviceCreateOptions, UblkDeviceOpenOptions } from './device-options.js';

export type { ServeOptions, UblkDeviceCreateOptions, UblkDeviceOpenOptions };

/** After STOP_DEV of a device that never started, aborts should come at once. */
const ABORT_WAIT_MS = 5000;

interface Serving {
  ring: IoRing;
  ownsRing: boolean;
  cdevFd: number;
  queues: UblkQueue[];
  dispatchers: QueueDispatcher[];
  aborted: Promise<void>;
}

export class UblkDevice {
  readonly devId: number;
  /** DevInfo from ADD_DEV / GET_DEV_INFO (flags = negotiated UBLK_F_*). */
  readonly info: DevInfo;
  readonly params: UblkParams;
  /** Resolves once the queues are torn down after a stop (ours or the kernel's). */
  readonly stopped: Promise<void>;
  #state: DeviceStateValue = DeviceState.IDLE;
  readonly #control: UblkControl;
  readonly #ownsControl: boolean;
  readonly #timeoutMs: number;
  #serving: Serving | undefined;
  /** Every dispatcher this object ever used: counters outlive the teardown. */
  #dispatchers: QueueDispatcher[] = [];
  #resolveStopped: () => void = () => {};
  #stopping: Promise<void> | undefined;

  private constructor(control: UblkControl, ownsControl: boolean, info: DevInfo, params: UblkParams, timeoutMs: number) {
    this.#control = control;
    this.#ownsControl = ownsControl;
    this.devId = info.devId;
    this.info = info;
    this.params = params;
    this.#timeoutMs = timeoutMs;
    this.stopped = new Promise((resolve) => {
      this.#resolveStopped = resolve;
    });
  }

  /** ADD_DEV + SET_PARAMS. The device exists afterwards: delete() it on failure paths. */
  static async create(options: UblkDeviceCreateOptions): Promise<UblkDevice> {
    const maxIoBufBytes = options.maxIoBufBytes ?? MAX_IO_BUF_BYTES_DEFAULT;
    validateGeometry(options.sizeBytes, maxIoBufBytes);
    for (const [name, v] of [['queues', options.queues], ['depth', options.depth]] as const) {
      if (!Number.isInteger(v) || v < 1 || v > 4096) {
        throw new UcError('UC_INVALID_ARGUMENT', `${name} must be 1..4096 (got ${v})`);
      }
    }
    const params = buildParams(options.sizeBytes, maxIoBufBytes, options);
    const timeoutMs = options.commandTimeoutMs ?? 10_000;
    const control = options.control ?? openControl();
    const ownsControl = options.control === undefined;
    const wantedId = options.devId ?? -1;
    try {
      const features = await control.getFeatures({ timeoutMs });
      const flags = negotiateFlags(features, options.recovery ?? 'reissue', options.zeroCopy);
      let info: DevInfo;
      try {
        info = await control.addDev(
          { devId: wantedId, nrHwQueues: options.queues, queueDepth: options.depth, maxIoBufBytes, flags },
          { timeoutMs },
        );
      } catch (err) {
        throw controlError(err, 'ADD_DEV', wantedId);
      }
      if (options.zeroCopy === 'required' && !hasZeroCopy(info.flags)) {
        await control.delDev(info.devId, { timeoutMs }).catch(() => {});
        throw new UcError('UC_KERNEL_UNSUPPORTED', `ADD_DEV did not grant zero copy (flags 0x${info.flags.toString(16)})`);
      }
      try {
        await control.setParams(info.devId, params, { timeoutMs });
      } catch (err) {
        await control.delDev(info.devId, { timeoutMs }).catch(() => {});
        throw controlError(err, 'SET_PARAMS', info.devId);
      }
      return new UblkDevice(control, ownsControl, info, params, timeoutMs);
    } catch (err) {
      if (ownsControl) control.close();
      throw err;
    }
  }

  /** GET_FEATURES of this kernel (null before 6.5): to plan a device before ADD_DEV. */
  static async kernelFeatures(options: UblkDeviceOpenOptions = {}): Promise<bigint | null> {
    const control = options.control ?? openControl();
    try {
      return await control.getFeatures({ timeoutMs: options.commandTimeoutMs ?? 10_000 });
    } finally {
      if (options.control === undefined) control.close();
    }
  }

  /** An existing device by id (GET_DEV_INFO + GET_PARAMS): for recover(), delete(), inspection. */
  static async open(devId: number, options: UblkDeviceOpenOptions = {}): Promise<UblkDevice> {
    assert(Number.isInteger(devId) && devId >= 0, 'devId');
    const timeoutMs = options.commandTimeoutMs ?? 10_000;
    const control = options.control ?? openControl();
    const ownsControl = options.control === undefined;
    try {
      const info = await control.getDevInfo(devId, { timeoutMs }).catch((err: unknown) => {
        throw controlError(err, 'GET_DEV_INFO', devId);
      });
      const params = await control.getParams(devId, { timeoutMs }).catch((err: unknown) => {
        throw controlError(err, 'GET_PARAMS', devId);
      });
      return new UblkDevice(control, ownsControl, info, params, timeoutMs);
    } catch (err) {
      if (ownsControl) control.close();
      throw err;
    }
  }

  get state(): DeviceStateValue {
    return this.#state;
  }

  /** /dev/ublkbN */
  get path(): string {
    return blockDevicePath(this.devId);
  }

  get charPath(): string {
    return `/dev/ublkc${this.devId}`;
  }

  get sizeBytes(): number {
    const basic = this.params.basic;
    assert(basic !== undefined, 'device has no BASIC params');
    return basic.devSectors * SECTOR_BYTES;
  }

  /** True when requests reach the 1:1 path zero-copy (AUTO_BUF_REG and USER_COPY negotiated). */
  get zeroCopy(): boolean {
    return hasZeroCopy(this.info.flags);
  }

  /** True when this device can change size while live (UBLK_F_UPDATE_SIZE negotiated, 6.16+). */
  get canGrowLive(): boolean {
    return (this.info.flags & UBLK_F.UPDATE_SIZE) !== 0n;
  }

  /**
   * Grows the served device to `sizeBytes` with UPDATE_SIZE. The target must
   * already hold the new size: the queues accept the new range first.
   */
  async grow(sizeBytes: number): Promise<void> {
    assert(this.#serving !== undefined, 'grow() needs a serving device');
    assert(sizeBytes % BLOCK_BYTES === 0 && sizeBytes >= this.sizeBytes, 'grow() never shrinks');
    if (!this.canGrowLive) {
      throw new UcError('UC_KERNEL_UNSUPPORTED', `${this.path}: this kernel cannot resize a live ublk device (no UBLK_F_UPDATE_SIZE)`);
    }
    for (const d of this.#serving.dispatchers) d.growTo(sizeBytes / BLOCK_BYTES);
    await this.#control.updateSize(this.devId, sizeBytes / SECTOR_BYTES, { timeoutMs: this.#timeoutMs }).catch((err: unknown) => {
      throw controlError(err, 'UPDATE_SIZE', this.devId);
    });
    assert(this.params.basic !== undefined);
    this.params.basic.devSectors = sizeBytes / SECTOR_BYTES;
  }

  /** Request counters of every queue, summed. */
  get stats(): DispatchStats {
    return sumDispatchStats(this.#dispatchers.map((d) => d.stats));
  }

  /** Fresh GET_DEV_INFO (state, server pid, flags). */
  async getInfo(): Promise<DevInfo> {
    return this.#control.getDevInfo(this.devId, { timeoutMs: this.#timeoutMs }).catch((err: unknown) => {
      throw controlError(err, 'GET_DEV_INFO', this.devId);
    });
  }

  /** Serves the queues with `target` and sends START_DEV; resolves once the device is usable. */
  async start(target: BlockTarget, options: ServeOptions = {}): Promise<void> {
    this.#move('start');
    try {
      await this.#serve(target, options);
      await this.#control.startDev(this.devId, process.pid, { timeoutMs: options.startTimeoutMs ?? 30_000 });
    } catch (err) {
      await this.#failServing();
      throw controlError(err, 'START_DEV', this.devId);
    }
    this.#move('started');
  }

  /**
   * Re-attaches to a device whose server died (state QUIESCED): START_USER_RECOVERY
   * (once the kernel settled after the old server, recovery-start.ts), fetch every tag,
   * END_USER_RECOVERY. In-flight requests of the old server are replayed.
   */
  async recover(target: BlockTarget, options: ServeOptions = {}): Promise<void> {
    if ((this.info.flags & UBLK_F.USER_RECOVERY) === 0n) {
      throw new UcError('UC_KERNEL_UNSUPPORTED', `ublk device ${this.devId} was created without USER_RECOVERY`);
    }
    this.#move('recover');
    try {
      await startRecoveryWhenSettled(this.#control, this.devId, { ...RECOVERY_TIMING, commandTimeoutMs: this.#timeoutMs });
    } catch (err) {
      this.#move('abandon'); // nothing was set up: the device is as we found it
      throw controlError(err, 'START_USER_RECOVERY', this.devId);
    }
    try {
      await this.#serve(target, options);
      await this.#control.endUserRecovery(this.devId, process.pid, { timeoutMs: options.startTimeoutMs ?? 30_000 });
    } catch (err) {
      await this.#failServing();
      throw controlError(err, 'END_USER_RECOVERY', this.devId);
    }
    this.#move('recovered');
  }

  /**
   * STOP_DEV, then wait until every queue drained (all tags aborted, every
   * target call committed) and unmap/close everything. The target is not
   * closed: that is the caller's (after this resolves). Idempotent.
   */
  async stop(): Promise<void> {
    if (this.#state === DeviceState.STOPPED || this.#state === DeviceState.DELETED) return;
    if (this.#state === DeviceState.IDLE) return;
    if (this.#stopping) return this.#stopping;
    this.#move('stop');
    this.#stopping = this.#stopAndDrain();
    return this.#stopping;
  }

  /**
   * DEL_DEV (stopping first if this process serves it). Only after our rings
   * and mappings are gone, else the kernel waits for them forever.
   */
  async delete(options: { timeoutMs?: number } = {}): Promise<void> {
    if (this.#state === DeviceState.DELETED) return;
    if (this.#state !== DeviceState.IDLE) await this.stop();
    await this.#control.delDev(this.devId, { timeoutMs: options.timeoutMs ?? this.#timeoutMs }).catch((err: unknown) => {
      throw controlError(err, 'DEL_DEV', this.devId);
    });
    this.#move('delete');
    if (this.#ownsControl) this.#control.close();
  }

  /** Closes the control handle without deleting (the device stays for recovery or `del`). */
  close(): void {
    assert(this.#serving === undefined, 'close() while serving: stop() first');
    if (this.#ownsControl) this.#control.close();
  }

  #move(event: DeviceEvent): void {
    this.#state = transition(this.#state, event);
  }

  async #serve(target: BlockTarget, options: ServeOptions): Promise<void> {
    assert(this.#serving === undefined);
    const { nrHwQueues, queueDepth, maxIoBufBytes } = this.info;
    const cdevFd = await openCharDevice(this.charPath);
    const ownsRing = options.ring === undefined;
    const ring = options.ring ?? new IoRing({ entries: ringEntries(nrHwQueues * queueDepth) });
    const sizeBlocks = this.sizeBytes / BLOCK_BYTES;
    const onError = options.onError ?? (() => {});
    const ioctlEncode = (this.info.flags & UBLK_F.CMD_IOCTL_ENCODE) !== 0n;
    // From the device's flags, so a recovering server serves it as it was added.
    const zeroCopySlots = this.zeroCopy ? nrHwQueues * queueDepth : 0;
    const queues: UblkQueue[] = [];
    const dispatchers: QueueDispatcher[] = [];
    const abortedEach: Array<Promise<void>> = [];
    try {
      for (let q = 0; q < nrHwQueues; q += 1) {
        const dispatcher = new QueueDispatcher(target, sizeBlocks, onError);
        let onAbort: () => void = () => {};
        abortedEach.push(new Promise((resolve) => (onAbort = resolve)));
        const queue = new UblkQueue({
          ring,
          cdevFd,
          queueId: q,
          depth: queueDepth,
          maxIoBufBytes,
          ioctlEncode,
          onBatch: dispatcher.onBatch,
          onAbort,
          onError: (err) => onError(err, `queue ${q}`),
          zeroCopySlots,
        });
        dispatcher.attach(queue);
        queues.push(queue);
        options.onQueue?.(queue);
        dispatchers.push(dispatcher);
      }
    } catch (err) {
      for (const queue of queues) queue.close();
      closeSync(cdevFd);
      if (ownsRing) ring.close();
      throw err;
    }
    const aborted = Promise.all(abortedEach).then(() => {});
    this.#dispatchers.push(...dispatchers);
    this.#serving = { ring, ownsRing, cdevFd, queues, dispatchers, aborted };
    // The kernel aborting every queue by itself means a STOP_DEV/DEL_DEV
    // from elsewhere (or our own): drain and tear down either way.
    void aborted.then(() => {
      if (this.#state === DeviceState.LIVE) {
        this.#move('stop');
        this.#stopping = this.#drainAndTeardown();
      }
    });
    for (const queue of queues) queue.fetchAll();
  }

  async #stopAndDrain(): Promise<void> {
    await this.#control.stopDev(this.devId, { timeoutMs: this.#timeoutMs }).catch((err: unknown) => {
      throw controlError(err, 'STOP_DEV', this.devId);
    });
    await this.#drainAndTeardown();
  }

  async #drainAndTeardown(): Promise<void> {
    const serving = this.#serving;
    if (serving === undefined) {
      this.#move('drained');
      this.#resolveStopped();
      return;
    }
    await serving.aborted;
    await Promise.all(serving.dispatchers.map((d) => d.idle()));
    this.#teardown();
    this.#move('drained');
    this.#resolveStopped();
  }

  // Unmaps descriptors, closes /dev/ublkcN and (if ours) the ring: each holds
  // a reference that would make DEL_DEV wait forever.
  #teardown(): void {
    const serving = this.#serving;
    if (serving === undefined) return;
    for (const queue of serving.queues) queue.close();
    closeSync(serving.cdevFd);
    if (serving.ownsRing) serving.ring.close();
    this.#serving = undefined;
  }

  // START_DEV or END_USER_RECOVERY failed with tags fetched: STOP_DEV makes
  // the kernel abort them, then tear down. Bounded: a kernel that never
  // aborts leaves the process to clean up at exit.
  async #failServing(): Promise<void> {
    this.#move('fail');
    const serving = this.#serving;
    if (serving !== undefined) {
      await this.#control.stopDev(this.devId, { timeoutMs: this.#timeoutMs }).catch(() => {});
      const aborted = await Promise.race([serving.aborted.then(() => true), sleep(ABORT_WAIT_MS).then(() => false)]);
      if (aborted) {
        await Promise.all(serving.dispatchers.map((d) => d.idle()));
        this.#teardown();
      }
    }
    this.#move('drained');
    this.#resolveStopped();
  }
}
