// IoRing: backing-file I/O on an io_uring owned by the main thread.

import assert from 'node:assert';
import { FALLOC_FL, type IoRingOptions } from './abi.js';
import { native, type NativeIoRingHandle } from './addon.js';

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

  /**
   * Discards a range of a block device opened for writing
   * (BLOCK_URING_CMD_DISCARD, Linux 6.12+). Older kernels reject it with
   * EOPNOTSUPP; blkDiscard() is the synchronous fallback.
   */
  async discard(fd: number, offsetBytes: number, lengthBytes: number): Promise<void> {
    checkOffset(offsetBytes);
    checkOffset(lengthBytes);
    await this.handle.discard(fd, offsetBytes, lengthBytes);
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

