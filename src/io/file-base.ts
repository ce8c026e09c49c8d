// What every BackingFile implementation shares: the exact-length loops, the
// error context, growing a file and the descriptor's lifetime. Subclasses
// supply the single system calls (one pread, one pwrite, fdatasync,
// fallocate, discard) over their transport (the ring, or node:fs).

import fs from 'node:fs';
import assert from 'node:assert';
import { UcError } from '../util/errors.js';
import type { BackingFile } from './backing-file.js';
import { FALLOC_FL_KEEP_SIZE, FALLOC_FL_PUNCH_HOLE } from './backing-file.js';
import { describe, ioError } from './errors.js';

export interface OpenedFd {
  readonly fd: number;
  readonly path: string;
  readonly isBlockDevice: boolean;
  readonly sizeBytes: number;
}

export abstract class FileBase implements BackingFile {
  readonly path: string;
  readonly isBlockDevice: boolean;
  sizeBytes: number;
  abstract readonly supportsDsync: boolean;
  #fd: number;
  /** Operations started and not yet settled; close() waits for them. */
  #busy = 0;
  #idle: (() => void) | undefined;

  constructor(opened: OpenedFd) {
    this.#fd = opened.fd;
    this.path = opened.path;
    this.isBlockDevice = opened.isBlockDevice;
    this.sizeBytes = opened.sizeBytes;
  }

  /** The open descriptor (-1 once closed). */
  get fd(): number {
    return this.#fd;
  }

  protected abstract readOnce(fd: number, buf: Uint8Array, position: number): Promise<number>;
  protected abstract writeOnce(fd: number, buf: Uint8Array, position: number, dsync: boolean): Promise<number>;
  protected abstract syncData(fd: number): Promise<void>;
  protected abstract allocate(fd: number, mode: number, position: number, length: number): Promise<void>;
  protected abstract discard(fd: number, position: number, length: number): Promise<void>;
  /** Releases what the transport holds beyond the descriptor. */
  protected abstract release(): void;

  private begin(): void {
    this.#busy += 1;
  }

  private end(): void {
    this.#busy -= 1;
    if (this.#busy === 0) this.#idle?.();
  }

  async read(buf: Uint8Array, positionBytes: number): Promise<number> {
    this.begin();
    try {
      return await this.readOnce(this.#fd, buf, positionBytes);
    } catch (err) {
      throw ioError(describe('pread', this.path, buf.length, positionBytes), err);
    } finally {
      this.end();
    }
  }

  async write(buf: Uint8Array, positionBytes: number, dsync: boolean): Promise<number> {
    this.begin();
    try {
      return await this.writeOnce(this.#fd, buf, positionBytes, dsync);
    } catch (err) {
      throw ioError(describe(dsync ? 'pwrite (dsync)' : 'pwrite', this.path, buf.length, positionBytes), err);
    } finally {
      this.end();
    }
  }

  // pread/pwrite are the engine's hot path: one async frame around the
  // transport's own promise, and the error context only on failure.
  async pread(buf: Uint8Array, offset: number, length: number, position: number): Promise<void> {
    checkRange(offset, length, position, buf.length);
    let done = 0;
    this.begin();
    try {
      while (done < length) {
        const n = await this.readOnce(this.#fd, buf.subarray(offset + done, offset + length), position + done);
        if (n === 0) {
          buf.fill(0, offset + done, offset + length);
          return;
        }
        done += n;
      }
    } catch (err) {
      throw ioError(describe('pread', this.path, length - done, position + done), err);
    } finally {
      this.end();
    }
  }

  async pwrite(buf: Uint8Array, offset: number, length: number, position: number): Promise<void> {
    checkRange(offset, length, position, buf.length);
    let done = 0;
    this.begin();
    try {
      while (done < length) {
        const n = await this.writeOnce(this.#fd, buf.subarray(offset + done, offset + length), position + done, false);
        assert(n > 0, 'pwrite returned 0');
        done += n;
      }
    } catch (err) {
      throw ioError(describe('pwrite', this.path, length - done, position + done), err);
    } finally {
      this.end();
    }
  }

  async fdatasync(): Promise<void> {
    this.begin();
    try {
      await this.syncData(this.#fd);
    } catch (err) {
      throw ioError(`fdatasync ${this.path}`, err);
    } finally {
      this.end();
    }
  }

  async fallocate(mode: number, positionBytes: number, lengthBytes: number): Promise<void> {
    this.begin();
    try {
      await this.allocate(this.#fd, mode, positionBytes, lengthBytes);
    } catch (err) {
      throw ioError(describe(`fallocate mode 0x${mode.toString(16)}`, this.path, lengthBytes, positionBytes), err);
    } finally {
      this.end();
    }
  }

  async punchHole(positionBytes: number, lengthBytes: number): Promise<void> {
    if (!this.isBlockDevice) return this.fallocate(FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, positionBytes, lengthBytes);
    this.begin();
    try {
      await this.discard(this.#fd, positionBytes, lengthBytes);
    } catch (err) {
      throw ioError(describe('discard', this.path, lengthBytes, positionBytes), err);
    } finally {
      this.end();
    }
  }

  async grow(sizeBytes: number): Promise<void> {
    if (sizeBytes <= this.sizeBytes) return;
    if (this.isBlockDevice) {
      throw new UcError('UC_NO_SPACE', `block device ${this.path} is ${this.sizeBytes} bytes; cannot grow`);
    }
    const fd = this.#fd;
    await new Promise<void>((resolve, reject) => fs.ftruncate(fd, sizeBytes, (err) => (err ? reject(err) : resolve()))).catch(
      (err: unknown) => {
        throw ioError(`ftruncate ${this.path} to ${sizeBytes} bytes`, err);
      },
    );
    this.sizeBytes = sizeBytes;
  }

  /**
   * Waits for operations still in flight (as node:fs's FileHandle.close
   * does), then closes the descriptor and releases the transport.
   */
  async close(): Promise<void> {
    if (this.#fd < 0) return;
    while (this.#busy > 0) await new Promise<void>((resolve) => (this.#idle = resolve));
    this.#idle = undefined;
    if (this.#fd < 0) return; // closed by a concurrent close() meanwhile
    const fd = this.#fd;
    this.#fd = -1;
    try {
      fs.closeSync(fd);
    } finally {
      this.release();
    }
  }
}

function checkRange(offset: number, length: number, position: number, bufLength: number): void {
  assert(Number.isSafeInteger(position) && position >= 0, `bad byte position ${position}`);
  assert(Number.isSafeInteger(offset) && offset >= 0 && Number.isSafeInteger(length) && length >= 0, 'bad buffer range');
  assert(offset + length <= bufLength, 'range past the end of the buffer');
}
