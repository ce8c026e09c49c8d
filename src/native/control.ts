// UblkControl: /dev/ublk-control commands, async on an SQE128 ring.

import { UcError } from '../util/errors.js';
import {
  UBLK_CONTROL_PATH,
  UBLK_PARAM_TYPE,
  type AddDevRequest,
  type CommandOptions,
  type DevInfo,
  type UblkParams,
} from './abi.js';
import { native, type NativeCtrlHandle } from './addon.js';

// ---------------------------------------------------------------- control

export type CtrlName =
  | 'GET_FEATURES'
  | 'ADD_DEV'
  | 'SET_PARAMS'
  | 'GET_PARAMS'
  | 'GET_DEV_INFO'
  | 'START_DEV'
  | 'STOP_DEV'
  | 'DEL_DEV'
  | 'START_USER_RECOVERY'
  | 'END_USER_RECOVERY'
  | 'UPDATE_SIZE';

/**
 * The ublk control device. Commands go on an SQE128 ring as ioctl-encoded
 * opcodes, retried with the legacy number (nr <= 0x12) on any error but
 * -EBUSY. Errors are NativeError (errno positive); open() fails with ENOENT
 * when ublk_drv is not loaded and EACCES/EPERM without CAP_SYS_ADMIN.
 */
export class UblkControl {
  readonly #handle: NativeCtrlHandle;

  private constructor(handle: NativeCtrlHandle) {
    this.#handle = handle;
  }

  static open(controlPath: string = UBLK_CONTROL_PATH): UblkControl {
    return new UblkControl(new (native().CtrlRing)(controlPath));
  }

  /** UBLK_F_* the kernel supports; a kernel without GET_FEATURES (< 6.5) yields null. */
  async getFeatures(options: CommandOptions = {}): Promise<bigint | null> {
    try {
      return (await this.#run('GET_FEATURES', 0, 0, null, options)) as bigint;
    } catch (err) {
      if (err instanceof UcError) throw err; // timeout
      return null;
    }
  }

  async addDev(req: AddDevRequest, options: CommandOptions = {}): Promise<DevInfo> {
    const devId = req.devId < 0 ? 0xffffffff : req.devId;
    const payload = { ...req, devId, ublksrvFlags: req.ublksrvFlags ?? 0n };
    return (await this.#run('ADD_DEV', devId, 0, payload, options)) as unknown as DevInfo;
  }

  async setParams(devId: number, params: UblkParams, options: CommandOptions = {}): Promise<void> {
    let types = 0;
    if (params.basic) types |= UBLK_PARAM_TYPE.BASIC;
    if (params.discard) types |= UBLK_PARAM_TYPE.DISCARD;
    const payload = { ...params, types };
    await this.#run('SET_PARAMS', devId, 0, payload as unknown as Record<string, unknown>, options);
  }

  async getParams(devId: number, options: CommandOptions = {}): Promise<UblkParams> {
    return (await this.#run('GET_PARAMS', devId, 0, null, options)) as unknown as UblkParams;
  }

  async getDevInfo(devId: number, options: CommandOptions = {}): Promise<DevInfo> {
    return (await this.#run('GET_DEV_INFO', devId, 0, null, options)) as unknown as DevInfo;
  }

  /** Completes only after the queues served the partition-table read: keep serving meanwhile. */
  async startDev(devId: number, pid: number, options: CommandOptions = {}): Promise<void> {
    await this.#run('START_DEV', devId, pid, null, options);
  }

  async stopDev(devId: number, options: CommandOptions = {}): Promise<void> {
    await this.#run('STOP_DEV', devId, 0, null, options);
  }

  /** Waits for the last reference to /dev/ublkcN: close rings/mmaps/fds of this process first. */
  async delDev(devId: number, options: CommandOptions = {}): Promise<void> {
    await this.#run('DEL_DEV', devId, 0, null, options);
  }

  async startUserRecovery(devId: number, options: CommandOptions = {}): Promise<void> {
    await this.#run('START_USER_RECOVERY', devId, 0, null, options);
  }

  /** Completes once every tag is fetched again; keep serving meanwhile. */
  async endUserRecovery(devId: number, pid: number, options: CommandOptions = {}): Promise<void> {
    await this.#run('END_USER_RECOVERY', devId, pid, null, options);
  }

  /** Sets a started device's size (6.16+, needs UBLK_F_UPDATE_SIZE negotiated; -EINVAL otherwise). */
  async updateSize(devId: number, sectors: number, options: CommandOptions = {}): Promise<void> {
    await this.#run('UPDATE_SIZE', devId, sectors, null, options);
  }

  close(): void {
    this.#handle.close();
  }

  #run(
    name: CtrlName,
    devId: number,
    data0: number,
    payload: Record<string, unknown> | null,
    options: CommandOptions,
  ): Promise<Record<string, unknown> | bigint | number> {
    const op = this.#handle.command(name, devId, data0, payload);
    const timeoutMs = options.timeoutMs;
    if (timeoutMs === undefined) return op;
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        // The kernel command stays in flight; it must not keep the process alive.
        this.#handle.unref();
        reject(new UcError('UC_TIMEOUT', `ublk ${name} (dev ${devId}) did not complete within ${timeoutMs} ms`));
      }, timeoutMs);
      op.then(
        (v) => {
          clearTimeout(timer);
          resolve(v);
        },
        (e: unknown) => {
          clearTimeout(timer);
          reject(e);
        },
      );
    });
  }
}


/** The raw 128-byte SQE a control command would use (fd -1), for encoding tests. */
export function encodeCtrlSqe(
  name: CtrlName,
  devId: number,
  data0: number,
  addr: number,
  len: number,
  legacy: boolean,
): Buffer {
  return native().encodeCtrlSqe(name, devId, data0, addr, len, legacy);
}

