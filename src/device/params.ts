// Device parameters and feature negotiation for a 4 KiB block device that
// ext4 mounts: write-back cache with FLUSH and FUA, discard and write-zeroes
// (docs/ublk-protocol.md, "Device parameters").

import assert from 'node:assert';
import { UBLK_ATTR, UBLK_F, UBLK_PARAM_TYPE, type UblkParams } from '../native/index.js';
import { UcError } from '../util/errors.js';
import { BLOCK_BYTES, SECTOR_BYTES } from '../util/units.js';

/** Smallest device we create: tools (mkfs) misbehave on tinier ones. */
export const DEVICE_BYTES_MIN = 1024 * 1024;
/** Per-tag buffer; ublksrv's default. Bounds one request (max_sectors). */
export const MAX_IO_BUF_BYTES_DEFAULT = 512 * 1024;
/** A discard or write-zeroes may cover UINT_MAX >> 9 sectors (ublksrv's value). */
const DISCARD_SECTORS_MAX = 0x7fffff;
const BLOCK_SHIFT = 12;

export type RecoveryMode = 'none' | 'recovery' | 'reissue';

/**
 * Zero copy for the 1:1 layout (docs/kernels.md, "Zero copy"): never, where
 * the kernel offers it, or required (ADD_DEV is not even tried without it).
 */
export type ZeroCopyWish = 'off' | 'if-offered' | 'required';

/**
 * Zero copy as we do it: the kernel registers each request's pages as an
 * io_uring fixed buffer (AUTO_BUF_REG, 6.16+), and user copy (USER_COPY)
 * brings the data of the few requests the JS target serves to its buffer.
 */
export const ZERO_COPY_FLAGS: bigint = UBLK_F.AUTO_BUF_REG | UBLK_F.USER_COPY;

/** True when `flags` (GET_FEATURES, or what ADD_DEV granted) hold every zero-copy flag. */
export function hasZeroCopy(flags: bigint | null): boolean {
  return flags !== null && (flags & ZERO_COPY_FLAGS) === ZERO_COPY_FLAGS;
}

export interface DiscardOptions {
  /** Advertise DISCARD (default true). */
  discard?: boolean;
  /** Advertise WRITE_ZEROES (default true). */
  writeZeroes?: boolean;
}

export function validateGeometry(sizeBytes: number, maxIoBufBytes: number): void {
  if (!Number.isSafeInteger(sizeBytes) || sizeBytes < DEVICE_BYTES_MIN || sizeBytes % BLOCK_BYTES !== 0) {
    throw new UcError(
      'UC_INVALID_ARGUMENT',
      `device size ${sizeBytes} must be a multiple of 4 KiB and at least 1 MiB`,
    );
  }
  if (!Number.isInteger(maxIoBufBytes) || maxIoBufBytes < BLOCK_BYTES || maxIoBufBytes % BLOCK_BYTES !== 0) {
    throw new UcError('UC_INVALID_ARGUMENT', `io buffer size ${maxIoBufBytes} must be a multiple of 4 KiB`);
  }
}

/** BASIC (+ DISCARD) parameters: logical = physical = io_min = 4 KiB, VOLATILE_CACHE | FUA. */
export function buildParams(
  sizeBytes: number,
  maxIoBufBytes: number,
  options: DiscardOptions & { attrs?: number } = {},
): UblkParams {
  validateGeometry(sizeBytes, maxIoBufBytes);
  const params: UblkParams = {
    types: UBLK_PARAM_TYPE.BASIC,
    basic: {
      attrs: options.attrs ?? UBLK_ATTR.VOLATILE_CACHE | UBLK_ATTR.FUA,
      logicalBsShift: BLOCK_SHIFT,
      physicalBsShift: BLOCK_SHIFT,
      ioOptShift: BLOCK_SHIFT,
      ioMinShift: BLOCK_SHIFT,
      maxSectors: maxIoBufBytes / SECTOR_BYTES,
      chunkSectors: 0,
      devSectors: sizeBytes / SECTOR_BYTES,
      virtBoundaryMask: 0,
    },
  };
  const discard = options.discard ?? true;
  const writeZeroes = options.writeZeroes ?? true;
  if (discard || writeZeroes) {
    params.types |= UBLK_PARAM_TYPE.DISCARD;
    params.discard = {
      discardAlignment: 0,
      discardGranularity: BLOCK_BYTES,
      maxDiscardSectors: discard ? DISCARD_SECTORS_MAX : 0,
      maxWriteZeroesSectors: writeZeroes ? DISCARD_SECTORS_MAX : 0,
      maxDiscardSegments: 1,
    };
  }
  assert(params.basic !== undefined && params.basic.devSectors % (BLOCK_BYTES / SECTOR_BYTES) === 0);
  return params;
}

/**
 * Flags newer than 6.12 that we ask for only when GET_FEATURES offers them
 * (docs/kernels.md): UPDATE_SIZE lets `resize` grow a live device.
 */
export const OPTIONAL_FLAGS: bigint = UBLK_F.UPDATE_SIZE;

/**
 * ADD_DEV flags: the wish list ANDed with what the kernel offers. Without
 * GET_FEATURES (kernel < 6.5, `features` null) ask for the baseline anyway:
 * the kernel silently clears what it lacks and ADD_DEV returns the truth.
 * The optional (newer) flags are requested only where offered.
 */
export function negotiateFlags(features: bigint | null, recovery: RecoveryMode, zeroCopy: ZeroCopyWish = 'off'): bigint {
  let wish = UBLK_F.CMD_IOCTL_ENCODE;
  if (recovery !== 'none') wish |= UBLK_F.USER_RECOVERY;
  if (recovery === 'reissue') wish |= UBLK_F.USER_RECOVERY_REISSUE;
  if (zeroCopy === 'required' && !hasZeroCopy(features)) {
    throw new UcError(
      'UC_KERNEL_UNSUPPORTED',
      'zero copy needs UBLK_F_AUTO_BUF_REG and UBLK_F_USER_COPY (Linux 6.16 or later); ' +
        `this kernel offers ${features === null ? 'no GET_FEATURES' : `0x${features.toString(16)}`}: use --zero-copy auto or off`,
    );
  }
  if (features === null) return wish;
  // Both zero-copy flags or neither: one without the other serves nothing.
  if (zeroCopy !== 'off' && hasZeroCopy(features)) wish |= ZERO_COPY_FLAGS;
  return (wish | OPTIONAL_FLAGS) & features;
}

/** Names of the UBLK_F bits set in `flags` (BIT_n for bits newer than this code), for logs and `list`. */
export function describeFlags(flags: bigint): string[] {
  const names = Object.entries(UBLK_F)
    .filter(([, bit]) => (flags & bit) !== 0n)
    .map(([name]) => name);
  const known = Object.values(UBLK_F).reduce((a, b) => a | b, 0n);
  for (let n = 0n; n < 64n; n++) {
    if ((flags & ~known & (1n << n)) !== 0n) names.push(`BIT_${n}`);
  }
  return names;
}
