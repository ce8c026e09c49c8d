// Turns the requests of one ublk queue into BlockTarget calls and commits
// each result: bytes done for READ/WRITE, 0 for FLUSH/DISCARD/WRITE_ZEROES,
// or -errno (toErrno) for any failure. Sectors become 4 KiB LBAs here; the
// device is created with 4 KiB logical blocks, so the kernel never sends a
// request that is not block aligned.

import assert from 'node:assert';
import { UBLK_IO_F, UBLK_IO_OP, type QueueBatch, type UblkQueue } from '../native/index.js';
import { EINVAL, EOPNOTSUPP } from '../util/errno.js';
import { toErrno } from '../util/errors.js';
import { SECTOR_BYTES, SECTORS_PER_BLOCK } from '../util/units.js';
import type { BlockTarget } from './target.js';

export interface DispatchStats {
  reads: number;
  writes: number;
  flushes: number;
  discards: number;
  writeZeroes: number;
  errors: number;
}

/** Counters of several queues, summed. */
export function sumDispatchStats(all: readonly DispatchStats[]): DispatchStats {
  const total: DispatchStats = { reads: 0, writes: 0, flushes: 0, discards: 0, writeZeroes: 0, errors: 0 };
  for (const stats of all) {
    for (const k of Object.keys(total) as Array<keyof DispatchStats>) total[k] += stats[k];
  }
  return total;
}

/** The part of UblkQueue the dispatcher uses. */
export type CommitSink = Pick<UblkQueue, 'buffers' | 'commit'>;

/**
 * Serves one queue. Per request it allocates only what the target's promise
 * costs: the completion handlers are made once per tag, the io buffer view is
 * kept per tag while its length repeats, and the bytes to commit sit in a
 * per-tag array (a tag carries one request at a time).
 */
export class QueueDispatcher {
  readonly stats: DispatchStats = { reads: 0, writes: 0, flushes: 0, discards: 0, writeZeroes: 0, errors: 0 };
  #queue: CommitSink | undefined;
  readonly #target: BlockTarget;
  #sizeBlocks: number;
  #inflight = 0;
  #idleWaiters: Array<() => void> = [];
  readonly #onError: (err: unknown, what: string) => void;
  // Per tag, grown on first use of a tag: the request's value to commit on
  // success, its fields for an error message, its handlers and buffer view.
  readonly #results: number[] = [];
  readonly #requests: Array<{ op: number; startSector: number; nrSectors: number }> = [];
  readonly #onDone: Array<() => void> = [];
  readonly #onFail: Array<(err: unknown) => void> = [];
  readonly #views: Buffer[] = [];

  constructor(target: BlockTarget, sizeBlocks: number, onError: (err: unknown, what: string) => void) {
    assert(Number.isSafeInteger(sizeBlocks) && sizeBlocks > 0);
    this.#target = target;
    this.#sizeBlocks = sizeBlocks;
    this.#onError = onError;
  }

  /** Accepts requests up to the new size (online grow; the target holds it already). */
  growTo(sizeBlocks: number): void {
    assert(Number.isSafeInteger(sizeBlocks) && sizeBlocks >= this.#sizeBlocks);
    this.#sizeBlocks = sizeBlocks;
  }

  /** Binds the queue whose batches this dispatcher serves (set once). */
  attach(queue: CommitSink): void {
    assert(this.#queue === undefined, 'dispatcher already attached');
    this.#queue = queue;
  }

  /** Requests handed to the target and not yet committed. */
  get inflight(): number {
    return this.#inflight;
  }

  /** Resolves once nothing is in flight. */
  idle(): Promise<void> {
    if (this.#inflight === 0) return Promise.resolve();
    return new Promise((resolve) => this.#idleWaiters.push(resolve));
  }

  /** The queue's batch callback: starts every request, never throws. */
  readonly onBatch = (batch: QueueBatch): void => {
    for (let i = 0; i < batch.count; i += 1) {
      this.#start(batch.tags[i], batch.ops[i], batch.opFlags[i], batch.startSectors[i], batch.nrSectors[i]);
    }
  };

  #start(tag: number, op: number, opFlags: number, startSector: number, nrSectors: number): void {
    if (this.#onDone[tag] === undefined) this.#addTag(tag);
    const request = this.#requests[tag];
    request.op = op;
    request.startSector = startSector;
    request.nrSectors = nrSectors;
    this.#inflight += 1;
    let work: Promise<void>;
    try {
      work = this.#run(tag, op, opFlags, startSector, nrSectors);
    } catch (err) {
      work = Promise.reject(err);
    }
    work.then(this.#onDone[tag], this.#onFail[tag]);
  }

  #addTag(tag: number): void {
    assert(Number.isInteger(tag) && tag >= 0 && tag < 4096, 'tag');
    this.#results[tag] = 0;
    this.#requests[tag] = { op: 0, startSector: 0, nrSectors: 0 };
    this.#onDone[tag] = () => this.#finish(tag, this.#results[tag]);
    this.#onFail[tag] = (err: unknown) => {
      const { op, startSector, nrSectors } = this.#requests[tag];
      this.stats.errors += 1;
      this.#onError(err, `op ${op} sector ${startSector} count ${nrSectors}`);
      this.#finish(tag, toErrno(err));
    };
  }

  #finish(tag: number, result: number): void {
    const queue = this.#queue;
    assert(queue !== undefined);
    queue.commit(tag, result);
    this.#inflight -= 1;
    if (this.#inflight === 0) {
      const waiters = this.#idleWaiters;
      this.#idleWaiters = [];
      for (const w of waiters) w();
    }
  }

  // Sets #results[tag] (bytes, 0 or -errno to commit) and resolves once it
  // holds; rejects for a failure of the target (committed as -errno).
  #run(tag: number, op: number, opFlags: number, startSector: number, nrSectors: number): Promise<void> {
    this.#results[tag] = 0;
    if (op === UBLK_IO_OP.FLUSH) {
      // FLUSH carries start_sector 2^64-1 and no length: never range-check it.
      this.stats.flushes += 1;
      return this.#target.flush();
    }
    const lba = startSector / SECTORS_PER_BLOCK;
    const blocks = nrSectors / SECTORS_PER_BLOCK;
    if (!this.#inRange(lba, blocks)) return this.#refuse(tag, EINVAL);
    switch (op) {
      case UBLK_IO_OP.READ: {
        this.stats.reads += 1;
        const buf = this.#buffer(tag, nrSectors);
        this.#results[tag] = buf.length;
        return this.#target.read(lba, blocks, buf);
      }
      case UBLK_IO_OP.WRITE: {
        this.stats.writes += 1;
        const buf = this.#buffer(tag, nrSectors);
        this.#results[tag] = buf.length;
        return this.#target.write(lba, blocks, buf, (opFlags & UBLK_IO_F.FUA) !== 0);
      }
      case UBLK_IO_OP.DISCARD:
        this.stats.discards += 1;
        return this.#target.discard(lba, blocks);
      case UBLK_IO_OP.WRITE_ZEROES:
        this.stats.writeZeroes += 1;
        return this.#target.writeZeroes(lba, blocks, (opFlags & UBLK_IO_F.NOUNMAP) !== 0);
      default:
        return this.#refuse(tag, EOPNOTSUPP);
    }
  }

  /** A request the target never sees: committed as -errno (not counted as a target error). */
  #refuse(tag: number, errno: number): Promise<void> {
    this.#results[tag] = -errno;
    return Promise.resolve();
  }

  // The tag's buffer, as a view of the request's length: the view of the last
  // request of this tag when the length is the same (the usual case).
  #buffer(tag: number, nrSectors: number): Buffer {
    const bytes = nrSectors * SECTOR_BYTES;
    const view = this.#views[tag];
    if (view !== undefined && view.length === bytes) return view;
    const queue = this.#queue;
    assert(queue !== undefined);
    const buf = queue.buffers[tag];
    assert(bytes <= buf.length, 'request larger than the io buffer (max_sectors is wrong)');
    const fresh = buf.subarray(0, bytes);
    this.#views[tag] = fresh;
    return fresh;
  }

  // Block aligned, not empty, inside the device (lba and blocks are whole
  // numbers exactly when both sector fields are multiples of a block).
  #inRange(lba: number, blocks: number): boolean {
    return Number.isSafeInteger(lba) && Number.isInteger(blocks) && blocks > 0 && lba + blocks <= this.#sizeBlocks;
  }
}
