// UblkQueue: one ublk hardware queue served on an IoRing.

import assert from 'node:assert';
import type { DirectMap } from './direct-map.js';
import type { DirectPathStats, DirectRequestError, NativeError, PackedReadStats, QueueBatch, TagStateValue } from './abi.js';
import type { PackedTables } from './packed-tables.js';
import { native, type NativeQueueHandle, type NativeWriteApplyHandle } from './addon.js';
import type { IoRing } from './io-ring.js';

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
  /**
   * Zero copy (the device negotiated AUTO_BUF_REG and USER_COPY): the size of
   * the ring's fixed-buffer table, shared by every queue of the device (queue
   * q uses slots q*depth..q*depth+depth-1; registered by the first queue).
   * 0 or absent: requests arrive in the per-tag buffers.
   */
  zeroCopySlots?: number;
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
      options.zeroCopySlots ?? 0,
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

  /**
   * Serves READ/WRITE/FLUSH/DISCARD/WRITE_ZEROES on `fileFd` in the addon from
   * the next request on: each request's backing I/O goes on the ring and its
   * completion commits the request, with no JS call. Unusual requests still
   * reach onBatch; backing failures are committed as -errno and reported to
   * `onErrors` once per wake-up. The addon serves on its own duplicate of
   * `fileFd` (closed by close()), so the caller may close `fileFd` at any time.
   * `inlineRw`: reads and writes by pread/pwrite on the main thread (a file
   * in memory, where the ring would hand each one to a worker thread).
   * `map`: reads and writes whose range it maps go to its raw device (the
   * direct-mapped path); it must be a map of `fileFd`.
   */
  setDirect(
    fileFd: number,
    sizeBytes: number,
    onErrors: (errors: DirectRequestError[]) => void,
    options: { inlineRw?: boolean; map?: DirectMap } = {},
  ): void {
    assert(Number.isInteger(fileFd) && fileFd >= 0, 'fileFd');
    assert(Number.isSafeInteger(sizeBytes) && sizeBytes > 0, 'sizeBytes');
    this.#handle.setDirect(fileFd, sizeBytes, onErrors, options.inlineRw ?? false, options.map?.handle);
  }

  /**
   * An online grow: the native path accepts requests up to `sizeBytes` (never
   * smaller than before). The backing must hold the new size already.
   */
  setDirectSize(sizeBytes: number): void {
    assert(Number.isSafeInteger(sizeBytes) && sizeBytes > 0, 'sizeBytes');
    this.#handle.setDirectSize(sizeBytes);
  }

  /**
   * The packed layout's native read path, from the next request on: a READ
   * whose blocks `tables` all resolve to fragments in the pool file (read
   * through the addon's own duplicate of `poolFd`) is decoded, verified and
   * committed in the addon; everything else still reaches onBatch. Not with
   * zero copy, nor together with setDirect(). `inlineReads` (a pool in
   * memory): the pool is read by pread on this thread, not on the ring.
   */
  setPackedRead(
    tables: PackedTables, poolFd: number, dataOffset: number, segmentBytes: number, options: { inlineReads?: boolean } = {},
  ): void {
    assert(Number.isInteger(poolFd) && poolFd >= 0, 'poolFd');
    assert(Number.isSafeInteger(dataOffset) && dataOffset >= 0, 'dataOffset');
    assert(Number.isSafeInteger(segmentBytes) && segmentBytes > 0, 'segmentBytes');
    this.#handle.setPackedRead(tables.handle, poolFd, dataOffset, segmentBytes, options.inlineReads ?? false);
  }

  /**
   * The packed layout's one-block writes, from the next request on: a 4 KiB
   * WRITE (not FUA) that `writeApply` (the engine's, attached with
   * engine.shareNativeApply) can apply is applied, journaled and committed in
   * the addon; `onWrites` is called before the next batch whenever some were
   * (the engine takes what they changed: engine.nativeWritesDone). Not with
   * zero copy, nor together with setDirect().
   */
  setPackedWrite(writeApply: NativeWriteApplyHandle, onWrites: () => void): void {
    this.#handle.setPackedWrite(writeApply, onWrites);
  }

  /** Requests the packed write path served, or null when setPackedWrite() was not called. */
  packedWriteStats(): { requests: number } | null {
    return this.#handle.packedWriteStats();
  }

  /** The packed native read path's counters, or null when setPackedRead() was not called. */
  packedReadStats(): PackedReadStats | null {
    return this.#handle.packedReadStats();
  }

  /** The native direct path's counters, or null when setDirect() was not called. */
  directStats(): Omit<DirectPathStats, 'userCopies'> | null {
    return this.#handle.directStats();
  }

  /** Zero copy: requests whose data moved by user copy (those the JS target served), on either request path. */
  userCopies(): number {
    return this.#handle.userCopies();
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

