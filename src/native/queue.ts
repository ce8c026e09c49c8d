// UblkQueue: one ublk hardware queue served on an IoRing.

import assert from 'node:assert';
import type { DirectPathStats, DirectRequestError, QueueBatch, TagStateValue, UblkQueueOptions } from './abi.js';
import { native, type NativeQueueHandle } from './addon.js';

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

  /**
   * Serves READ/WRITE/FLUSH/DISCARD/WRITE_ZEROES on `fileFd` in the addon from
   * the next request on: each request's backing I/O goes on the ring and its
   * completion commits the request, with no JS call. Unusual requests still
   * reach onBatch; backing failures are committed as -errno and reported to
   * `onErrors` once per wake-up. `fileFd` must stay open until close().
   * `inlineRw`: reads and writes by pread/pwrite on the main thread (a file
   * in memory, where the ring would hand each one to a worker thread).
   */
  setDirect(
    fileFd: number,
    sizeBytes: number,
    onErrors: (errors: DirectRequestError[]) => void,
    options: { inlineRw?: boolean } = {},
  ): void {
    assert(Number.isInteger(fileFd) && fileFd >= 0, 'fileFd');
    assert(Number.isSafeInteger(sizeBytes) && sizeBytes > 0, 'sizeBytes');
    this.#handle.setDirect(fileFd, sizeBytes, onErrors, options.inlineRw ?? false);
  }

  /** The native direct path's counters, or null when setDirect() was not called. */
  directStats(): DirectPathStats | null {
    return this.#handle.directStats();
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

