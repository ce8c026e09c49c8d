// The device layer's public surface (see ublk-device.ts for usage).
export { UblkDevice } from './ublk-device.js';
export type { UblkDeviceCreateOptions, UblkDeviceOpenOptions, ServeOptions } from './ublk-device.js';
export { DeviceState, transition, canTransition } from './lifecycle.js';
export type { DeviceStateValue, DeviceEvent } from './lifecycle.js';
export { buildParams, hasZeroCopy, negotiateFlags, ZERO_COPY_FLAGS, describeFlags, DEVICE_BYTES_MIN, MAX_IO_BUF_BYTES_DEFAULT } from './params.js';
export type { RecoveryMode, DiscardOptions, ZeroCopyWish } from './params.js';
export { controlError } from './control-errors.js';
export {
  openControl,
  requireUblk,
  listDeviceIds,
  deviceIdInUse,
  stateName,
  isNoDevice,
  describeKernelDevice,
  deviceInfo,
  stopAndDelete,
  UBLK_CHAR_CLASS_DIR,
  UBLK_MODULE_DIR,
} from './control.js';
export type { KernelDevice } from './control.js';
export { ringEntries } from './char-device.js';
export { QueueDispatcher } from './queue-dispatch.js';
export type { DispatchStats, CommitSink } from './queue-dispatch.js';
export type { BlockTarget } from './target.js';
