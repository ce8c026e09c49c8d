// PoolStore over a regular file or a block device, with node:fs promises on one fd.
// Hole punching has no Node API: it runs util-linux `fallocate --punch-hole` (file)
// or `blkdiscard` (block device), a few ms per segment, rare (after compaction).
// A native io_uring store may replace this class later behind the same interface.
import { execFile } from 'node:child_process';
import fs from 'node:fs';
import { promisify } from 'node:util';
import assert from 'node:assert';
import { blockDeviceBytes } from '../util/block-device.js';
import { UcError } from '../util/errors.js';
import type { PoolStore } from './store.js';

const run = promisify(execFile);

function ioError(what: string, err: unknown): UcError {
  const errno = (err as { errno?: number }).errno;
  return new UcError('UC_IO', `${what}: ${String(err)}`, {
    cause: err,
    errno: typeof errno === 'number' ? Math.abs(errno) : undefined,
  });
}

export class FilePoolStore implements PoolStore {
  sizeBytes: number;
  punchFailures = 0;

  private constructor(
    private readonly fh: fs.promises.FileHandle,
    readonly path: string,
    readonly isBlockDevice: boolean,
    sizeBytes: number,
  ) {
    this.sizeBytes = sizeBytes;
  }

  /** Opens an existing pool; `create` makes a new sparse file of `sizeBytes`. */
  static async open(path: string, options: { create?: boolean; sizeBytes?: number; readOnly?: boolean } = {}): Promise<FilePoolStore> {
    let fh: fs.promises.FileHandle;
    try {
      const flags = options.readOnly ? 'r' : options.create ? 'a+' : 'r+';
      fh = await fs.promises.open(path, flags === 'a+' ? fs.constants.O_RDWR | fs.constants.O_CREAT : flags);
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (code === 'EACCES' || code === 'EPERM') {
        throw new UcError('UC_PERMISSION_DENIED', `cannot open pool ${path}: ${String(err)}`, { cause: err, errno: 13 });
      }
      throw ioError(`cannot open pool ${path}`, err);
    }
    const st = await fh.stat();
    const isBlockDevice = st.isBlockDevice();
    let size = isBlockDevice ? blockDeviceBytes(st.rdev) : st.size;
    if (options.create && !isBlockDevice && options.sizeBytes !== undefined && size < options.sizeBytes) {
      await fh.truncate(options.sizeBytes);
      size = options.sizeBytes;
    }
    return new FilePoolStore(fh, path, isBlockDevice, size);
  }

  async pread(buf: Buffer, offset: number, length: number, position: number): Promise<void> {
    assert(Number.isSafeInteger(position) && position >= 0);
    let done = 0;
    while (done < length) {
      let n: number;
      try {
        ({ bytesRead: n } = await this.fh.read(buf, offset + done, length - done, position + done));
      } catch (err) {
        throw ioError(`pread ${length} bytes at ${position} of ${this.path}`, err);
      }
      if (n === 0) {
        buf.fill(0, offset + done, offset + length);
        return;
      }
      done += n;
    }
  }

  async pwrite(buf: Buffer, offset: number, length: number, position: number): Promise<void> {
    assert(Number.isSafeInteger(position) && position >= 0);
    let done = 0;
    while (done < length) {
      try {
        const { bytesWritten } = await this.fh.write(buf, offset + done, length - done, position + done);
        done += bytesWritten;
      } catch (err) {
        throw ioError(`pwrite ${length} bytes at ${position} of ${this.path}`, err);
      }
    }
  }

  async fdatasync(): Promise<void> {
    try {
      await this.fh.datasync();
    } catch (err) {
      throw ioError(`fdatasync ${this.path}`, err);
    }
  }

  async punchHole(position: number, length: number): Promise<void> {
    const args = this.isBlockDevice
      ? ['blkdiscard', ['-o', String(position), '-l', String(length), this.path]]
      : ['fallocate', ['--punch-hole', '--keep-size', '-o', String(position), '-l', String(length), this.path]];
    try {
      await run(args[0] as string, args[1] as string[]);
    } catch {
      // Space is not returned, but nothing references the range: correctness holds.
      this.punchFailures += 1;
    }
  }

  async grow(sizeBytes: number): Promise<void> {
    if (sizeBytes <= this.sizeBytes) return;
    if (this.isBlockDevice) {
      throw new UcError('UC_NO_SPACE', `block device ${this.path} is ${this.sizeBytes} bytes; cannot grow`);
    }
    await this.fh.truncate(sizeBytes);
    this.sizeBytes = sizeBytes;
  }

  async close(): Promise<void> {
    await this.fh.close();
  }
}
