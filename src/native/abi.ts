// Constants and types of the ublk/io_uring ABI as the TypeScript side sees
// them (values from the kernel header; see native/uapi/ublk_cmd.h).

// ---------------------------------------------------------------- constants

/** UBLK_F_* feature bits (u64 in the ABI; all below 2^32 so numbers would do, bigint keeps the type exact). */
export const UBLK_F = {
  SUPPORT_ZERO_COPY: 1n << 0n,
  URING_CMD_COMP_IN_TASK: 1n << 1n,
  NEED_GET_DATA: 1n << 2n,
  USER_RECOVERY: 1n << 3n,
  USER_RECOVERY_REISSUE: 1n << 4n,
  UNPRIVILEGED_DEV: 1n << 5n,
  CMD_IOCTL_ENCODE: 1n << 6n,
  USER_COPY: 1n << 7n,
  ZONED: 1n << 8n,
  USER_RECOVERY_FAIL_IO: 1n << 9n,
  // 6.16 and later (docs/kernels.md lists which kernel offers what).
  UPDATE_SIZE: 1n << 10n,
  AUTO_BUF_REG: 1n << 11n,
  QUIESCE: 1n << 12n,
  PER_IO_DAEMON: 1n << 13n,
  BUF_REG_OFF_DAEMON: 1n << 14n,
  BATCH_IO: 1n << 15n,
  INTEGRITY: 1n << 16n,
  SAFE_STOP_DEV: 1n << 17n,
  NO_AUTO_PART_SCAN: 1n << 18n,
  SHMEM_ZC: 1n << 19n,
} as const;

/** ublksrv_io_desc op (op_flags & 0xff). */
export const UBLK_IO_OP = {
  READ: 0,
  WRITE: 1,
  FLUSH: 2,
  DISCARD: 3,
  WRITE_SAME: 4,
  WRITE_ZEROES: 5,
} as const;

/** Absolute op_flags bits (test `opFlags & F`). */
export const UBLK_IO_F = {
  FAILFAST_DEV: 1 << 8,
  FAILFAST_TRANSPORT: 1 << 9,
  FAILFAST_DRIVER: 1 << 10,
  META: 1 << 11,
  FUA: 1 << 13,
  NOUNMAP: 1 << 15,
  SWAP: 1 << 16,
} as const;

export const UBLK_ATTR = {
  READ_ONLY: 1,
  ROTATIONAL: 2,
  VOLATILE_CACHE: 4,
  FUA: 8,
} as const;

export const UBLK_PARAM_TYPE = {
  BASIC: 1,
  DISCARD: 2,
  DEVT: 4,
  ZONED: 8,
  DMA_ALIGN: 16,
  SEGMENT: 32,
} as const;

/** dev_info.state */
export const UBLK_STATE = { DEAD: 0, LIVE: 1, QUIESCED: 2, FAIL_IO: 3 } as const;

export const FALLOC_FL = { KEEP_SIZE: 0x01, PUNCH_HOLE: 0x02, ZERO_RANGE: 0x10 } as const;

export const UBLK_CONTROL_PATH = '/dev/ublk-control';

// ---------------------------------------------------------------- types

export interface IoRingOptions {
  /** Submission queue entries (power of two, default 256). */
  entries?: number;
  /** Completion queue entries (default 2 * entries). */
  cqEntries?: number;
  /** Extra IORING_SETUP_* flags. Never DEFER_TASKRUN (the eventfd would fire before the CQE exists). */
  flags?: number;
}

export interface DevInfo {
  nrHwQueues: number;
  queueDepth: number;
  /** UBLK_STATE value */
  state: number;
  maxIoBufBytes: number;
  devId: number;
  /** Server pid, -1 when none. */
  ublksrvPid: number;
  /** Negotiated UBLK_F_* flags. */
  flags: bigint;
  ublksrvFlags: bigint;
  ownerUid: number;
  ownerGid: number;
}

export interface AddDevRequest {
  /** Wanted id, or -1 to let the kernel allocate one. */
  devId: number;
  nrHwQueues: number;
  queueDepth: number;
  maxIoBufBytes: number;
  flags: bigint;
  ublksrvFlags?: bigint;
}

export interface ParamsBasic {
  attrs: number;
  logicalBsShift: number;
  physicalBsShift: number;
  ioOptShift: number;
  ioMinShift: number;
  maxSectors: number;
  chunkSectors: number;
  devSectors: number;
  virtBoundaryMask: number;
}

export interface ParamsDiscard {
  discardAlignment: number;
  discardGranularity: number;
  maxDiscardSectors: number;
  maxWriteZeroesSectors: number;
  maxDiscardSegments: number;
}

export interface ParamsDevt {
  charMajor: number;
  charMinor: number;
  diskMajor: number;
  diskMinor: number;
}

export interface UblkParams {
  /** UBLK_PARAM_TYPE bits present; derived from the sub-objects when writing. */
  types: number;
  basic?: ParamsBasic;
  discard?: ParamsDiscard;
  /** Read-only (GET_PARAMS). */
  devt?: ParamsDevt;
}

export interface CommandOptions {
  /**
   * Reject with UC_TIMEOUT after this long. The kernel command stays in
   * flight (its buffer stays allocated) but no longer keeps the process alive.
   */
  timeoutMs?: number;
}

export interface QueueBatch {
  /** Number of valid entries in the arrays below. */
  count: number;
  tags: Uint16Array;
  /** UBLK_IO_OP value */
  ops: Uint8Array;
  /** Full op_flags (op in bits 0-7, UBLK_IO_F bits above). */
  opFlags: Uint32Array;
  /** 512-byte sectors; FLUSH carries 2^64-1 (read as 1.8e19): do not range-check it. */
  startSectors: Float64Array;
  nrSectors: Uint32Array;
}


/** Per-tag state: exactly one side owns a tag. */
export const TagState = {
  IDLE: 0, // never fetched
  IN_KERNEL: 1, // FETCH or COMMIT_AND_FETCH queued or in flight
  OWNED_BY_JS: 2, // delivered in a batch, waiting for commit()
  ABORTED: 3, // completed with ABORT; never re-issued
  NATIVE: 4, // served by the native direct path, backing I/O in flight
} as const;
export type TagStateValue = (typeof TagState)[keyof typeof TagState];

/** Counters of a queue's packed native read path (UblkQueue.setPackedRead). */
export interface PackedReadStats {
  /** READs served without JS, and their 4 KiB blocks. */
  requests: number;
  blocks: number;
  /** READs handed to the JS path, for any of the reasons below. */
  toJs: number;
  /** A block the tables did not resolve (same-fill, not cached, segment in RAM, not yet known unmapped). */
  misses: number;
  /** A pool read failed, was short, or found no SQE. */
  ioFailures: number;
  /** A fragment did not verify (the JS path reads it again and reports it). */
  verifyFailures: number;
  inflight: number;
}

/** Counters of a queue's native direct path (UblkQueue.setDirect). */
export interface DirectPathStats {
  reads: number;
  writes: number;
  flushes: number;
  discards: number;
  writeZeroes: number;
  readBytes: number;
  writeBytes: number;
  /** Backing failures committed natively as -errno. */
  errors: number;
  /** Requests handed to the JS path (short transfer, refused fallocate mode...). */
  toJs: number;
  inflight: number;
  /** Of reads / writes: served on the raw device under the file (direct-mapped). */
  rawReads: number;
  rawWrites: number;
  /** Of reads / writes: on the request's own pages (zero copy, UBLK_F_AUTO_BUF_REG). */
  zeroCopyReads: number;
  zeroCopyWrites: number;
  /** Zero copy on, but the data went through the per-tag buffer by user copy (requests JS served). */
  userCopies: number;
}

/** The direct-mapped path's extent map (DirectMap.stats()). */
export interface DirectMapStats {
  /** Runs mapped now, and the bytes they cover. */
  extents: number;
  mappedBytes: number;
  /** FIEMAP calls after writes through the file, and the bytes they covered. */
  refreshes: number;
  refreshedBytes: number;
  /** Ranges taken out of the map (punches, requests handed to JS). */
  drops: number;
  /** Punches that waited for raw-device I/O over their range. */
  parked: number;
  rawInflight: number;
}

/** A request the native direct path committed with -errno. */
export interface DirectRequestError {
  op: number;
  startSector: number;
  nrSectors: number;
  /** Positive errno. */
  errno: number;
}

export interface FiemapExtent {
  logicalBytes: number;
  physicalBytes: number;
  lengthBytes: number;
  /** FIEMAP_EXTENT_* flags */
  flags: number;
}

export const FIEMAP_EXTENT = {
  LAST: 0x1,
  UNKNOWN: 0x2,
  DELALLOC: 0x4,
  ENCODED: 0x8,
  DATA_ENCRYPTED: 0x80,
  NOT_ALIGNED: 0x100,
  DATA_INLINE: 0x200,
  DATA_TAIL: 0x400,
  UNWRITTEN: 0x800,
  MERGED: 0x1000,
  SHARED: 0x2000,
} as const;

export interface NativeError extends Error {
  errno: number;
  code: string;
}

export interface StructLayout {
  size: number;
  offsets: Record<string, number>;
}

export interface UblkAbi {
  structs: Record<'ctrlCmd' | 'devInfo' | 'params' | 'ioDesc' | 'ioCmd' | 'sqe', StructLayout>;
  /** ioctl-encoded command values by name (ADD_DEV, FETCH_REQ, ...). */
  ioctl: Record<string, number>;
  /** legacy command numbers by name */
  legacy: Record<string, number>;
  /** Zero-copy encodings, sampled: FETCH's sqe->addr for slot 5 with FALLBACK, the user-copy offset of queue 2 tag 3. */
  zeroCopy: { autoBufRegAddr: number; userCopyPos: number; needRegBuf: number; readFixed: number; writeFixed: number };
}

