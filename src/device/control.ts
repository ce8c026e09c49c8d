// The single entry to the ublk control plane for everything above this
// layer: whether the kernel has ublk, opening /dev/ublk-control with errors
// a user can act on, the ids of existing devices, and inspecting, stopping
// and deleting a device by id (for `list`, `del` and the cleanup after a
// daemon that died). Serving a device is UblkDevice's job (ublk-device.ts).

import { existsSync, readdirSync } from 'node:fs';
import { UBLK_CONTROL_PATH, UBLK_STATE, UblkControl, type DevInfo } from '../native/index.js';
import { EACCES, ENODEV, ENOENT, ENXIO, EPERM, errnoOf } from '../util/errno.js';
import { UcError } from '../util/errors.js';
import { SECTOR_BYTES } from '../util/units.js';

/** One entry per ublk device the kernel has (its char device, ublkcN). */
export const UBLK_CHAR_CLASS_DIR = '/sys/class/ublk-char';
/** Present while ublk_drv is loaded. */
export const UBLK_MODULE_DIR = '/sys/module/ublk_drv';

/** The block device the kernel makes for ublk device `devId`. */
export function blockDevicePath(devId: number): string {
  return `/dev/ublkb${devId}`;
}

/** The UC_KERNEL_UNSUPPORTED error for a control node that is missing or has no driver behind it. */
function noUblk(controlPath: string, errno?: number, cause?: unknown): UcError {
  const message = existsSync(UBLK_MODULE_DIR)
    ? `ublk_drv is loaded but ${controlPath} is missing (is devtmpfs mounted on /dev?)`
    : `this kernel has no ublk support loaded (${controlPath} is missing): run 'modprobe ublk_drv' as root ` +
      '(it needs CONFIG_BLK_DEV_UBLK, Linux 6.0 or later)';
  return new UcError('UC_KERNEL_UNSUPPORTED', message, { errno, cause });
}

/** Throws UC_KERNEL_UNSUPPORTED unless the control node exists (checks only, opens nothing). */
export function requireUblk(controlPath: string = UBLK_CONTROL_PATH): void {
  if (!existsSync(controlPath)) throw noUblk(controlPath);
}

/** Opens /dev/ublk-control, or throws UC_KERNEL_UNSUPPORTED / UC_NOT_ROOT / UC_IO. */
export function openControl(controlPath: string = UBLK_CONTROL_PATH): UblkControl {
  try {
    return UblkControl.open(controlPath);
  } catch (err) {
    const errno = errnoOf(err);
    if (errno === ENOENT || errno === ENODEV || errno === ENXIO) throw noUblk(controlPath, errno, err);
    if (errno === EPERM || errno === EACCES) {
      throw new UcError('UC_NOT_ROOT', `cannot open ${controlPath}: must be run as root (CAP_SYS_ADMIN)`, {
        cause: err,
        errno,
      });
    }
    throw new UcError('UC_IO', `cannot open ${controlPath}: ${(err as Error).message}`, { cause: err, errno });
  }
}

/** Ids of every ublk device the kernel has (char devices registered), ascending. */
export function listDeviceIds(): number[] {
  let names: string[];
  try {
    names = readdirSync(UBLK_CHAR_CLASS_DIR);
  } catch {
    return [];
  }
  return names
    .map((n) => /^ublkc(\d+)$/.exec(n))
    .filter((m): m is RegExpExecArray => m !== null)
    .map((m) => Number(m[1]))
    .sort((a, b) => a - b);
}

/** True when a ublk device with this id exists (its char device is registered). */
export function deviceIdInUse(devId: number): boolean {
  return existsSync(`${UBLK_CHAR_CLASS_DIR}/ublkc${devId}`);
}

export function stateName(state: number): string {
  const entry = Object.entries(UBLK_STATE).find(([, v]) => v === state);
  return entry ? entry[0] : `STATE_${state}`;
}

/** True for the errors a control command gives when the device is already gone. */
export function isNoDevice(err: unknown): boolean {
  const errno = errnoOf(err);
  const code = (err as { code?: unknown } | null)?.code;
  return errno === ENODEV || errno === ENOENT || code === 'ENODEV' || code === 'ENOENT';
}

export interface KernelDevice {
  readonly info: DevInfo;
  /** From GET_PARAMS; null when the device's parameters were never set. */
  readonly sizeBytes: number | null;
}

/** GET_DEV_INFO and GET_PARAMS of one device, or undefined when it does not exist. */
export async function describeKernelDevice(
  control: UblkControl,
  devId: number,
  timeoutMs: number,
): Promise<KernelDevice | undefined> {
  let info: DevInfo;
  try {
    info = await control.getDevInfo(devId, { timeoutMs });
  } catch (err) {
    if (isNoDevice(err)) return undefined;
    throw err;
  }
  let sizeBytes: number | null = null;
  try {
    const params = await control.getParams(devId, { timeoutMs });
    if (params.basic) sizeBytes = params.basic.devSectors * SECTOR_BYTES;
  } catch {
    // GET_PARAMS fails on a device whose params were never set: size unknown.
  }
  return { info, sizeBytes };
}

/** GET_DEV_INFO, with a missing device as UC_DEVICE_NOT_FOUND. */
export async function deviceInfo(control: UblkControl, devId: number, timeoutMs: number): Promise<DevInfo> {
  try {
    return await control.getDevInfo(devId, { timeoutMs });
  } catch (err) {
    if (isNoDevice(err)) throw new UcError('UC_DEVICE_NOT_FOUND', `no ublk device with id ${devId}`);
    throw err;
  }
}

/**
 * STOP_DEV then DEL_DEV of a device no process of ours serves (its daemon
 * died or hangs), each bounded; a device that vanished meanwhile is no error.
 */
export async function stopAndDelete(control: UblkControl, devId: number, timeoutMs: number): Promise<void> {
  const unlessGone = (err: unknown): void => {
    if (!isNoDevice(err)) throw err;
  };
  await control.stopDev(devId, { timeoutMs }).catch(unlessGone);
  await control.delDev(devId, { timeoutMs }).catch(unlessGone);
}
