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

export class QueueDispatcher {
  readonly stats: DispatchStats = { reads: 0, writes: 0, flushes: 0, discards: 0, writeZeroes: 0, errors: 0 };
  #queue: CommitSink | undefined;
  readonly #target: BlockTarget;
  #sizeBlocks: number;
  #inflight = 0;
  #idleWaiters: Array<() => void> = [];
  readonly #onError: (err: unknown, what: string) => void;

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
    this.#inflight += 1;
    let work: Promise<number>;
    try {
      work = this.#run(tag, op, opFlags, startSector, nrSectors);
    } catch (err) {
      work = Promise.reject(err);
    }
    work.then(
      (result) => this.#finish(tag, result),
      (err: unknown) => {
        this.stats.errors += 1;
        this.#onError(err, `op ${op} sector ${startSector} count ${nrSectors}`);
        this.#finish(tag, toErrno(err));
      },
    );
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

  // Resolves with the value to commit (bytes or 0); rejects for -errno.
  #run(tag: number, op: number, opFlags: number, startSector: number, nrSectors: number): Promise<number> {
    if (op === UBLK_IO_OP.FLUSH) {
      // FLUSH carries start_sector 2^64-1 and no length: never range-check it.
      this.stats.flushes += 1;
      return this.#target.flush().then(() => 0);
    }
    const range = this.#blocks(startSector, nrSectors);
    if (range === undefined) return Promise.resolve(-EINVAL);
    const { lba, blocks } = range;
    switch (op) {
      case UBLK_IO_OP.READ: {
        this.stats.reads += 1;
        const buf = this.#buffer(tag, nrSectors);
        return this.#target.read(lba, blocks, buf).then(() => buf.length);
      }
      case UBLK_IO_OP.WRITE: {
        this.stats.writes += 1;
        const buf = this.#buffer(tag, nrSectors);
        const fua = (opFlags & UBLK_IO_F.FUA) !== 0;
        return this.#target.write(lba, blocks, buf, fua).then(() => buf.length);
      }
      case UBLK_IO_OP.DISCARD:
        this.stats.discards += 1;
        return this.#target.discard(lba, blocks).then(() => 0);
      case UBLK_IO_OP.WRITE_ZEROES: {
        this.stats.writeZeroes += 1;
        const noUnmap = (opFlags & UBLK_IO_F.NOUNMAP) !== 0;
        return this.#target.writeZeroes(lba, blocks, noUnmap).then(() => 0);
      }
      default:
        return Promise.resolve(-EOPNOTSUPP);
    }
  }

  #buffer(tag: number, nrSectors: number): Buffer {
    const queue = this.#queue;
    assert(queue !== undefined);
    const buf = queue.buffers[tag];
    const bytes = nrSectors * SECTOR_BYTES;
    assert(bytes <= buf.length, 'request larger than the io buffer (max_sectors is wrong)');
    return buf.subarray(0, bytes);
  }

  #blocks(startSector: number, nrSectors: number): { lba: number; blocks: number } | undefined {
    if (startSector % SECTORS_PER_BLOCK !== 0 || nrSectors % SECTORS_PER_BLOCK !== 0 || nrSectors === 0) {
      return undefined;
    }
    const lba = startSector / SECTORS_PER_BLOCK;
    const blocks = nrSectors / SECTORS_PER_BLOCK;
    if (!Number.isSafeInteger(lba) || lba + blocks > this.#sizeBlocks) return undefined;
    return { lba, blocks };
  }
}
