// The file operations the 1:1 target needs from its backing file, and an
// implementation over node:fs. The ring-backed implementation (pool I/O on
// the queue's io_uring, see DESIGN "The data path") lives in
// native-direct-file.ts; the target does not care which one it gets.

import { promises as fsp } from 'node:fs';
import { UcError } from '../util/errors.js';

/** fallocate(2) modes the target uses (linux/falloc.h). */
export const FALLOC_FL_KEEP_SIZE = 0x01;
export const FALLOC_FL_PUNCH_HOLE = 0x02;
export const FALLOC_FL_ZERO_RANGE = 0x10;

export interface DirectFile {
  /** pread: bytes read (short only at end of file). */
  read(buf: Buffer, offsetBytes: number): Promise<number>;
  /** pwrite: bytes written; with `dsync` the data is durable on return (RWF_DSYNC). */
  write(buf: Buffer, offsetBytes: number, dsync: boolean): Promise<number>;
  /** True when write(..., dsync=true) is a real RWF_DSYNC write. */
  readonly supportsDsync: boolean;
  fdatasync(): Promise<void>;
  /**
   * fallocate(2). Rejects with errno EOPNOTSUPP (95) when the mode is not
   * available, so the caller can fall back to writing zeros.
   */
  fallocate(mode: number, offsetBytes: number, lengthBytes: number): Promise<void>;
  close(): Promise<void>;
}

/**
 * node:fs on an open file handle. Node exposes neither pwritev2 flags nor
 * fallocate, so dsync writes are not offered (the target follows them with
 * fdatasync) and fallocate reports EOPNOTSUPP (the target writes zeros).
 */
export class NodeDirectFile implements DirectFile {
  readonly supportsDsync = false;

  private constructor(private readonly handle: fsp.FileHandle) {}

  /** Opens an existing backing file read-write (O_CLOEXEC is libuv's default). */
  static async open(path: string): Promise<NodeDirectFile> {
    return new NodeDirectFile(await fsp.open(path, 'r+'));
  }

  async read(buf: Buffer, offsetBytes: number): Promise<number> {
    const { bytesRead } = await this.handle.read(buf, 0, buf.length, offsetBytes);
    return bytesRead;
  }

  async write(buf: Buffer, offsetBytes: number, dsync: boolean): Promise<number> {
    if (dsync) throw new UcError('UC_IO', 'dsync writes are not supported by NodeDirectFile', { errno: 95 });
    const { bytesWritten } = await this.handle.write(buf, 0, buf.length, offsetBytes);
    return bytesWritten;
  }

  async fdatasync(): Promise<void> {
    await this.handle.datasync();
  }

  async fallocate(_mode: number, _offsetBytes: number, _lengthBytes: number): Promise<void> {
    throw new UcError('UC_IO', 'fallocate is not available through node:fs', { errno: 95 });
  }

  async close(): Promise<void> {
    await this.handle.close();
  }
}
