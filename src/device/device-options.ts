// The options of UblkDevice (ublk-device.ts): creating a device, opening an
// existing one for recovery, and serving it.

import type { IoRing, UblkControl, UblkQueue } from '../native/index.js';
import type { DiscardOptions, RecoveryMode, ZeroCopyWish } from './params.js';

export interface UblkDeviceCreateOptions extends DiscardOptions {
  /** Wanted device id; -1 or absent: the kernel picks one. */
  devId?: number;
  queues: number;
  depth: number;
  sizeBytes: number;
  maxIoBufBytes?: number;
  /** UBLK_ATTR bits (default VOLATILE_CACHE | FUA). */
  attrs?: number;
  /** Default 'reissue' (in-flight I/O replayed after a server restart). */
  recovery?: RecoveryMode;
  /** Default 'off'. 'required' fails (UC_KERNEL_UNSUPPORTED) where the kernel cannot. */
  zeroCopy?: ZeroCopyWish;
  /** Bound on each control command except START_DEV (default 10 s). */
  commandTimeoutMs?: number;
  /** A shared control handle; otherwise the device opens (and closes) its own. */
  control?: UblkControl;
}

export interface UblkDeviceOpenOptions {
  commandTimeoutMs?: number;
  control?: UblkControl;
}

export interface ServeOptions {
  /** Ring for the queues; default: a new one owned (and closed) by the device. */
  ring?: IoRing;
  /** Bound on START_DEV / END_USER_RECOVERY (default 30 s). */
  startTimeoutMs?: number;
  /** Target or protocol errors (the failed request is still committed with -errno). */
  onError?: (err: unknown, what: string) => void;
  /** Each queue right after it is created, before its tags are fetched (e.g. setDirect). */
  onQueue?: (queue: UblkQueue) => void;
}
