// Typed wrapper around the C++ addon (build/Release/ublk_native.node). This is
// the only module that loads the addon; everything above it codes against the
// API below, which is kept stable.
//
// Threading and events: every ring is owned by the Node main thread. Each ring
// has an eventfd watched by libuv, so completions arrive as ordinary
// event-loop callbacks (promises for file I/O and control commands, one
// `onBatch` call per wake-up for a ublk queue). Queued submissions (commits,
// file I/O) are sent with one io_uring_enter at the end of the wake-up that
// produced them, or on the next loop turn when queued from elsewhere.
//
// Errors: native failures throw/reject an `Error` whose `errno` is the
// POSITIVE errno (project convention, see toErrno() in src/util/errors.ts),
// `code` the errno name ('EBADF') and `message` says what was attempted.
//
// API summary
//   new IoRing({ entries?, cqEntries?, flags? })
//     .read(fd, buf, offsetBytes) / .write(fd, buf, offsetBytes, { dsync? })
//         -> Promise<bytes>   (may be short; readFully/writeFully loop)
//     .fdatasync(fd) / .fsync(fd)                            -> Promise<void>
//     .fallocate(fd, mode, offsetBytes, lengthBytes)         -> Promise<void>
//     .punchHole(fd, off, len) / .zeroRange(fd, off, len)    -> Promise<void>
//     .inflight, .close()
//   UblkControl.open(path?) -> control ring on /dev/ublk-control (SQE128)
//     .getFeatures() .addDev() .setParams() .getParams() .getDevInfo()
//     .startDev() .stopDev() .delDev() .startUserRecovery() .endUserRecovery()
//     every command is async and takes { timeoutMs } (rejects UC_TIMEOUT).
//   new UblkQueue({ ring, cdevFd, queueId, depth, maxIoBufBytes, onBatch, onAbort })
//     .fetchAll()            FETCH every tag (before START_DEV / END_USER_RECOVERY)
//     .commit(tag, result)   COMMIT_AND_FETCH (bytes, or -errno)
//     .buffers[tag]          the tag's io buffer (zero copy, see below)
//     .close()               munmap descriptors; call after every tag aborted
//   fiemap(fd, { sync? }) -> FiemapExtent[]
//   encodeCtrlSqe(name, devId, data0, addr, len, legacy) -> the 128-byte SQE
//   setIoFlusher()         prctl(PR_SET_IO_FLUSHER, 1) for this process
//   ublkAbi()              struct sizes/offsets and opcodes the addon was built with
//
// Io buffer lifetime: `buffers[tag]` is a Buffer over native memory that the
// kernel copies READ data from / WRITE data into. Its content belongs to JS
// from the onBatch call that delivered `tag` until `commit(tag, ...)`; after
// the commit the kernel may overwrite it at any time. The memory itself is
// freed only when the Buffer is garbage-collected, so a stale reference is
// never a use-after-free, only stale data.
//
// Batch arrays: `onBatch(batch)` receives views that the next batch
// overwrites: consume them synchronously (copy what you need), then commit
// each tag whenever its operation finishes.

import { createRequire } from 'node:module';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import assert from 'node:assert';
import { UcError } from '../util/errors.js';

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

export interface UblkQueueOptions {
  ring: IoRing;
  /** /dev/ublkcN opened O_RDWR|O_CLOEXEC (fs.openSync(path, 'r+')). */
  cdevFd: number;
  queueId: number;
  depth: number;
  maxIoBufBytes: number;
  /** Send ioctl-encoded io opcodes (kernel 6.4+, UBLK_F_CMD_IOCTL_ENCODE); default true. */
  ioctlEncode?: boolean;
  /** New requests, once per ring wake-up. */
  onBatch: (batch: QueueBatch) => void;
  /** Every fetched tag was aborted (-ENODEV): the device was stopped or deleted. */
  onAbort?: () => void;
  /** A FETCH/COMMIT failed with an unexpected errno (protocol misuse); the tag is lost. */
  onError?: (err: NativeError) => void;
}

/** Per-tag state: exactly one side owns a tag. */
export const TagState = {
  IDLE: 0, // never fetched
  IN_KERNEL: 1, // FETCH or COMMIT_AND_FETCH queued or in flight
  OWNED_BY_JS: 2, // delivered in a batch, waiting for commit()
  ABORTED: 3, // completed with ABORT; never re-issued
} as const;
export type TagStateValue = (typeof TagState)[keyof typeof TagState];

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
}

// ---------------------------------------------------------------- addon

interface NativeIoRingHandle {
  read(fd: number, buf: Uint8Array, offsetBytes: number): Promise<number>;
  write(fd: number, buf: Uint8Array, offsetBytes: number, rwFlags: number): Promise<number>;
  fsync(fd: number, datasync: boolean): Promise<number>;
  fallocate(fd: number, mode: number, offsetBytes: number, lengthBytes: number): Promise<number>;
  inflight(): number;
  close(): void;
}

interface NativeCtrlHandle {
  command(
    name: string,
    devId: number,
    data0: number,
    payload: Record<string, unknown> | null,
  ): Promise<Record<string, unknown> | bigint | number>;
  close(): void;
  unref(): void;
}

interface NativeQueueHandle {
  buffers: Buffer[];
  fetchAll(): void;
  commit(tag: number, result: number): void;
  tagState(tag: number): number;
  abortedCount(): number;
  close(): void;
}

interface NativeModule {
  IoRing: new (entries: number, cqEntries: number, flags: number) => NativeIoRingHandle;
  CtrlRing: new (path: string) => NativeCtrlHandle;
  UblkQueue: new (
    ring: NativeIoRingHandle,
    cdevFd: number,
    queueId: number,
    depth: number,
    maxIoBufBytes: number,
    ioctlEncode: boolean,
    batch: { tags: Uint16Array; ops: Uint8Array; opFlags: Uint32Array; startSectors: Float64Array; nrSectors: Uint32Array },
    onBatch: (count: number) => void,
    onAbort: () => void,
    onError: (err: NativeError) => void,
  ) => NativeQueueHandle;
  fiemap(fd: number, sync: boolean): Float64Array;
  encodeCtrlSqe(name: string, devId: number, data0: number, addr: number, len: number, legacy: boolean): Buffer;
  setIoFlusher(): void;
  abi(): UblkAbi;
}

function findPackageRoot(): string {
  let dir = path.dirname(fileURLToPath(import.meta.url));
  for (let i = 0; i < 6; i += 1) {
    if (existsSync(path.join(dir, 'binding.gyp'))) return dir;
    dir = path.dirname(dir);
  }
  throw new Error('ublk-compress: cannot find the package root (binding.gyp) above ' + import.meta.url);
}

let loaded: NativeModule | undefined;
function native(): NativeModule {
  if (loaded) return loaded;
  const file = path.join(findPackageRoot(), 'build', 'Release', 'ublk_native.node');
  if (!existsSync(file)) {
    throw new Error(`ublk-compress: native addon missing (${file}); run npm run build:native`);
  }
  loaded = createRequire(import.meta.url)(file) as NativeModule;
  return loaded;
}

// ---------------------------------------------------------------- IoRing

/** An io_uring on the main thread for backing-file I/O (and, shared, ublk queues). */
export class IoRing {
  /** @internal */
  readonly handle: NativeIoRingHandle;
  #closed = false;

  constructor(options: IoRingOptions = {}) {
    const entries = options.entries ?? 256;
    const cqEntries = options.cqEntries ?? entries * 2;
    assert(Number.isInteger(entries) && entries > 0 && entries <= 32768, 'entries');
    assert(Number.isInteger(cqEntries) && cqEntries >= entries, 'cqEntries');
    this.handle = new (native().IoRing)(entries, cqEntries, options.flags ?? 0);
  }

  /** pread: resolves with the bytes read (short at end of file). */
  read(fd: number, buf: Uint8Array, offsetBytes: number): Promise<number> {
    checkOffset(offsetBytes);
    return this.handle.read(fd, buf, offsetBytes);
  }

  /** pwrite; `dsync` adds RWF_DSYNC (a FUA write). Resolves with the bytes written. */
  write(fd: number, buf: Uint8Array, offsetBytes: number, options: { dsync?: boolean } = {}): Promise<number> {
    checkOffset(offsetBytes);
    return this.handle.write(fd, buf, offsetBytes, options.dsync ? RWF_DSYNC : 0);
  }

  /** Reads exactly buf.length bytes; zero-fills past end of file. */
  async readFully(fd: number, buf: Uint8Array, offsetBytes: number): Promise<void> {
    let done = 0;
    while (done < buf.length) {
      const n = await this.read(fd, buf.subarray(done), offsetBytes + done);
      if (n === 0) {
        buf.fill(0, done);
        return;
      }
      done += n;
    }
  }

  /** Writes all of buf (loops on short writes). */
  async writeFully(fd: number, buf: Uint8Array, offsetBytes: number, options: { dsync?: boolean } = {}): Promise<void> {
    let done = 0;
    while (done < buf.length) {
      const n = await this.write(fd, buf.subarray(done), offsetBytes + done, options);
      assert(n > 0, 'write returned 0');
      done += n;
    }
  }

  async fdatasync(fd: number): Promise<void> {
    await this.handle.fsync(fd, true);
  }

  async fsync(fd: number): Promise<void> {
    await this.handle.fsync(fd, false);
  }

  async fallocate(fd: number, mode: number, offsetBytes: number, lengthBytes: number): Promise<void> {
    checkOffset(offsetBytes);
    checkOffset(lengthBytes);
    await this.handle.fallocate(fd, mode, offsetBytes, lengthBytes);
  }

  /** The range reads zeros and its blocks are released (file size unchanged). */
  punchHole(fd: number, offsetBytes: number, lengthBytes: number): Promise<void> {
    return this.fallocate(fd, FALLOC_FL.PUNCH_HOLE | FALLOC_FL.KEEP_SIZE, offsetBytes, lengthBytes);
  }

  /** The range reads zeros and stays allocated (file size unchanged). */
  zeroRange(fd: number, offsetBytes: number, lengthBytes: number): Promise<void> {
    return this.fallocate(fd, FALLOC_FL.ZERO_RANGE | FALLOC_FL.KEEP_SIZE, offsetBytes, lengthBytes);
  }

  /** Operations submitted and not yet completed (ublk commands included). */
  get inflight(): number {
    return this.handle.inflight();
  }

  get closed(): boolean {
    return this.#closed;
  }

  /** Unmaps and closes the ring. Throws if operations are still in flight. */
  close(): void {
    if (this.#closed) return;
    this.handle.close();
    this.#closed = true;
  }
}

const RWF_DSYNC = 0x2;

function checkOffset(value: number): void {
  assert(Number.isSafeInteger(value) && value >= 0, `bad byte offset/length ${value}`);
}

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
  | 'END_USER_RECOVERY';

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

// ---------------------------------------------------------------- queue

/** One ublk hardware queue served on `ring` by the main thread. */
export class UblkQueue {
  readonly queueId: number;
  readonly depth: number;
  /** Per-tag io buffers (maxIoBufBytes each); see "Io buffer lifetime" above. */
  readonly buffers: readonly Buffer[];
  readonly #handle: NativeQueueHandle;
  readonly #batch: QueueBatch;

  constructor(options: UblkQueueOptions) {
    const { depth } = options;
    assert(Number.isInteger(depth) && depth > 0 && depth <= 4096, 'depth');
    assert(options.maxIoBufBytes > 0 && options.maxIoBufBytes % 4096 === 0, 'maxIoBufBytes');
    this.queueId = options.queueId;
    this.depth = depth;
    const batch: QueueBatch = {
      count: 0,
      tags: new Uint16Array(depth),
      ops: new Uint8Array(depth),
      opFlags: new Uint32Array(depth),
      startSectors: new Float64Array(depth),
      nrSectors: new Uint32Array(depth),
    };
    this.#batch = batch;
    const onBatch = options.onBatch;
    this.#handle = new (native().UblkQueue)(
      options.ring.handle,
      options.cdevFd,
      options.queueId,
      depth,
      options.maxIoBufBytes,
      options.ioctlEncode ?? true,
      batch,
      (count: number) => {
        batch.count = count;
        onBatch(batch);
      },
      options.onAbort ?? (() => {}),
      options.onError ?? (() => {}),
    );
    this.buffers = this.#handle.buffers;
  }

  /** FETCH every tag; the batch callback starts once the device is started. */
  fetchAll(): void {
    this.#handle.fetchAll();
  }

  /** Completes `tag` with bytes done (READ/WRITE), 0 (others) or -errno. */
  commit(tag: number, result: number): void {
    this.#handle.commit(tag, result);
  }

  tagState(tag: number): TagStateValue {
    return this.#handle.tagState(tag) as TagStateValue;
  }

  /** Tags that completed with ABORT. */
  get abortedCount(): number {
    return this.#handle.abortedCount();
  }

  /** Unmaps the descriptors. Every fetched tag must have aborted. */
  close(): void {
    this.#handle.close();
  }
}

// ---------------------------------------------------------------- misc

/** FS_IOC_FIEMAP of an open file: every extent, in logical order. */
export function fiemap(fd: number, options: { sync?: boolean } = {}): FiemapExtent[] {
  const flat = native().fiemap(fd, options.sync ?? false);
  assert(flat.length % 4 === 0);
  const out: FiemapExtent[] = [];
  for (let i = 0; i < flat.length; i += 4) {
    out.push({ logicalBytes: flat[i], physicalBytes: flat[i + 1], lengthBytes: flat[i + 2], flags: flat[i + 3] });
  }
  return out;
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

/** prctl(PR_SET_IO_FLUSHER, 1): reclaim never waits on writeback to our own device. */
export function setIoFlusher(): void {
  native().setIoFlusher();
}

/** Struct layouts and opcodes compiled into the addon (for tests and diagnostics). */
export function ublkAbi(): UblkAbi {
  return native().abi();
}
