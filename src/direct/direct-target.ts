// The 1:1 target (docs/design.md, "1:1 layout"): LBA n is byte n*4096 of the backing
// file, like a loop device. It has the BlockTarget shape of
// src/device/target.ts (matched structurally: src/direct does not import
// src/device). FLUSH = fdatasync; FUA = RWF_DSYNC or write + fdatasync;
// DISCARD punches a hole; WRITE_ZEROES zeroes in place (ZERO_RANGE) when the
// kernel asks that the space stay allocated, else punches. Every operation is
// idempotent, as USER_RECOVERY_REISSUE replays requests after a restart.

import assert from 'node:assert';
import { ENODEV, EOPNOTSUPP, errnoOf } from '../util/errno.js';
import { UcError } from '../util/errors.js';
import { BLOCK_BYTES } from '../util/units.js';
import {
  FALLOC_FL_KEEP_SIZE,
  FALLOC_FL_PUNCH_HOLE,
  FALLOC_FL_ZERO_RANGE,
  type DirectFile,
} from './direct-file.js';

/** Zero-fill fallback writes at most this much per call (bounded memory). */
const ZERO_CHUNK_BYTES = 1024 * 1024;

function isUnsupported(err: unknown): boolean {
  return errnoOf(err) === EOPNOTSUPP || (err as { code?: unknown } | undefined)?.code === 'EOPNOTSUPP';
}

export interface DirectTargetStats {
  punchFallbacks: number;
}

export class DirectTarget {
  private blockCount: number;
  readonly stats: DirectTargetStats = { punchFallbacks: 0 };
  private inFlight = 0;
  private closed = false;
  private idleWaiters: Array<() => void> = [];
  /** Set once fallocate said EOPNOTSUPP for a mode, so later calls skip it. */
  private readonly unsupportedModes = new Set<number>();

  constructor(
    private readonly file: DirectFile,
    sizeBytes: number,
  ) {
    assert(Number.isSafeInteger(sizeBytes) && sizeBytes > 0);
    assert(sizeBytes % BLOCK_BYTES === 0, 'device size must be whole blocks');
    this.blockCount = sizeBytes / BLOCK_BYTES;
  }

  get sizeBlocks(): number {
    return this.blockCount;
  }

  /** An online grow: accepts requests up to `sizeBytes`; the file holds it already. Never shrinks. */
  growTo(sizeBytes: number): void {
    assert(Number.isSafeInteger(sizeBytes) && sizeBytes % BLOCK_BYTES === 0, 'whole blocks');
    assert(sizeBytes / BLOCK_BYTES >= this.blockCount, 'a device never shrinks');
    this.blockCount = sizeBytes / BLOCK_BYTES;
  }

  // read and write are the hot path: one file call and one promise reaction
  // per request; the loops below only run for short transfers.
  read(lba: number, blocks: number, buf: Buffer): Promise<void> {
    const refused = this.refuse(lba, blocks);
    if (refused) return Promise.reject(refused);
    assert(buf.length >= blocks * BLOCK_BYTES, 'read buffer too small');
    const view = buf.subarray(0, blocks * BLOCK_BYTES);
    const offsetBytes = lba * BLOCK_BYTES;
    this.inFlight += 1;
    return this.file.read(view, offsetBytes).then(
      (n) => (n === view.length ? this.done() : this.settle(this.readRest(view, offsetBytes, n))),
      (err: unknown) => this.fail(err),
    );
  }

  write(lba: number, blocks: number, buf: Buffer, fua: boolean): Promise<void> {
    const refused = this.refuse(lba, blocks);
    if (refused) return Promise.reject(refused);
    assert(buf.length >= blocks * BLOCK_BYTES, 'write buffer too small');
    const view = buf.subarray(0, blocks * BLOCK_BYTES);
    const offsetBytes = lba * BLOCK_BYTES;
    const dsync = fua && this.file.supportsDsync;
    this.inFlight += 1;
    return this.file.write(view, offsetBytes, dsync).then(
      (n) => {
        if (n === view.length && !(fua && !dsync)) return this.done();
        return this.settle(this.writeRest(view, offsetBytes, n, dsync, fua && !dsync));
      },
      (err: unknown) => this.fail(err),
    );
  }

  private async readRest(view: Buffer, offsetBytes: number, first: number): Promise<void> {
    assert(first >= 0 && first < view.length);
    let done = first;
    while (done < view.length) {
      const n = done === 0 ? 0 : await this.file.read(view.subarray(done), offsetBytes + done);
      if (n === 0) {
        // Past the end of a file that shrank under us: the device reads zeros there.
        view.fill(0, done);
        return;
      }
      done += n;
    }
  }

  private async writeRest(view: Buffer, offsetBytes: number, first: number, dsync: boolean, sync: boolean): Promise<void> {
    if (first <= 0) throw new UcError('UC_IO', `backing file write returned ${first} at byte ${offsetBytes}`);
    await this.writeAll(view.subarray(first), offsetBytes + first, dsync);
    if (sync) await this.file.fdatasync();
  }

  flush(): Promise<void> {
    return this.track(0, 0, () => this.file.fdatasync());
  }

  discard(lba: number, blocks: number): Promise<void> {
    return this.track(lba, blocks, () => this.punchOrZero(lba, blocks));
  }

  writeZeroes(lba: number, blocks: number, noUnmap: boolean): Promise<void> {
    return this.track(lba, blocks, async () => {
      if (!noUnmap) return this.punchOrZero(lba, blocks);
      const done = await this.tryFallocate(
        FALLOC_FL_ZERO_RANGE | FALLOC_FL_KEEP_SIZE,
        lba * BLOCK_BYTES,
        blocks * BLOCK_BYTES,
      );
      if (!done) await this.writeZeroBytes(lba * BLOCK_BYTES, blocks * BLOCK_BYTES);
    });
  }

  /** Waits for in-flight operations, makes everything durable, closes the file. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    if (this.inFlight > 0) await new Promise<void>((resolve) => this.idleWaiters.push(resolve));
    try {
      await this.file.fdatasync();
    } finally {
      await this.file.close();
    }
  }

  private async punchOrZero(lba: number, blocks: number): Promise<void> {
    const offsetBytes = lba * BLOCK_BYTES;
    const lengthBytes = blocks * BLOCK_BYTES;
    const done = await this.tryFallocate(FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, offsetBytes, lengthBytes);
    if (done) return;
    this.stats.punchFallbacks += 1;
    await this.writeZeroBytes(offsetBytes, lengthBytes);
  }

  /** fallocate, or false when the filesystem/implementation does not offer the mode. */
  private async tryFallocate(mode: number, offsetBytes: number, lengthBytes: number): Promise<boolean> {
    if (this.unsupportedModes.has(mode)) return false;
    try {
      await this.file.fallocate(mode, offsetBytes, lengthBytes);
      return true;
    } catch (err) {
      if (!isUnsupported(err)) throw err;
      this.unsupportedModes.add(mode);
      return false;
    }
  }

  private async writeZeroBytes(offsetBytes: number, lengthBytes: number): Promise<void> {
    const zeros = Buffer.alloc(Math.min(lengthBytes, ZERO_CHUNK_BYTES));
    for (let done = 0; done < lengthBytes; ) {
      const n = Math.min(zeros.length, lengthBytes - done);
      await this.writeAll(zeros.subarray(0, n), offsetBytes + done, false);
      done += n;
    }
  }

  private async writeAll(buf: Buffer, offsetBytes: number, dsync: boolean): Promise<void> {
    let done = 0;
    while (done < buf.length) {
      const n = await this.file.write(buf.subarray(done), offsetBytes + done, dsync);
      if (n <= 0) throw new UcError('UC_IO', `backing file write returned ${n} at byte ${offsetBytes + done}`);
      done += n;
    }
  }

  /** The error for a request this target must refuse, or undefined. */
  private refuse(lba: number, blocks: number): UcError | undefined {
    if (this.closed) return new UcError('UC_IO', 'direct target is closed', { errno: ENODEV });
    if (!Number.isSafeInteger(lba) || !Number.isSafeInteger(blocks) || lba < 0 || blocks < 0) {
      return new UcError('UC_INVALID_ARGUMENT', `bad range lba ${lba} blocks ${blocks}`);
    }
    if (lba + blocks > this.sizeBlocks) {
      return new UcError('UC_INVALID_ARGUMENT', `range ${lba}+${blocks} is past the end (${this.sizeBlocks} blocks)`);
    }
    return undefined;
  }

  private done(): void {
    this.inFlight -= 1;
    if (this.inFlight === 0 && this.idleWaiters.length > 0) {
      for (const wake of this.idleWaiters.splice(0)) wake();
    }
  }

  private fail(err: unknown): never {
    this.done();
    throw err;
  }

  /** Accounts for a slow-path continuation of an operation already counted. */
  private settle(work: Promise<void>): Promise<void> {
    return work.then(
      () => this.done(),
      (err: unknown) => this.fail(err),
    );
  }

  /** Range check, closed check and in-flight accounting around one operation. */
  private async track(lba: number, blocks: number, op: () => Promise<void>): Promise<void> {
    const refused = this.refuse(lba, blocks);
    if (refused) throw refused;
    this.inFlight += 1;
    try {
      await op();
    } finally {
      this.done();
    }
  }
}
